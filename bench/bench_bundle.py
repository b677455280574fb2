"""Benchmark the bundle: build + gate time, bundle size and peak RSS against the size of the change.

    python bench/bench_bundle.py            # 1 MB and 50 MB changes
    python bench/bench_bundle.py --big      # and the 500 MB one (most of it binary)

Each case is a throw-away repo under /tmp pushed to a local bare "remote", then changed: one unpushed commit
(a tenth of the text) and a working tree of text files and random (incompressible) binary files of 10 MB at
most. A child process runs what `create` runs for the bundle (`handoff.app.bundle.prepare_bundle`: the scratch
index, the snapshot commit, `git bundle create`, and the secret gate over every piece the bundle carries) with
no size budget, and reports wall time; peak RSS is the child's rusage (os.wait4): the larger of the Python
process and of any git process it waited for, so git's memory counts too.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GIT_ENV = {**os.environ, "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
           "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.com", "GIT_CONFIG_NOSYSTEM": "1"}
SLUG_URL = "https://github.com/acme/widgets.git"
CHILD = (
    "import sys, time\n"
    "from handoff.app.bundle import BundleChoice, prepare_bundle\n"
    "from handoff.repo import inspect\n"
    "t = time.perf_counter()\n"
    "ctx = inspect(sys.argv[1], offline=True)\n"
    "inspected = time.perf_counter() - t\n"
    "prepared, note = prepare_bundle(ctx, BundleChoice(mode='on', max_bytes=10**12), 'bench')\n"
    "done = time.perf_counter() - t\n"
    "b = prepared.bundle\n"
    "print(f'{b.size} {len(b.commits)} {len(prepared.report.findings)} {prepared.report.scanned_bytes} '\n"
    "      f'{inspected:.3f} {done:.3f}')\n"
)
CASES = {"1 MB": (1_000_000, 0.0), "50 MB": (50_000_000, 0.8), "500 MB": (500_000_000, 0.95)}
BINARY_FILE = 10_000_000


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, env=GIT_ENV, check=True, stdout=subprocess.DEVNULL)


def text_file(seed: int, size: int) -> bytes:
    line = f"{seed:08d} the quick brown fox jumps over the lazy dog, line of code {seed % 97:02d}\n".encode()
    return line * max(1, size // len(line))


def make_case(root: Path, total: int, binary_share: float) -> None:
    origin, user = root / "origin.git", root / "user"
    git(root, "init", "-q", "--bare", "-b", "main", str(origin))
    git(root, "init", "-q", "-b", "main", str(user))
    (user / "README.md").write_text("bench\n")
    git(user, "add", "-A")
    git(user, "commit", "-q", "-m", "initial")
    git(user, "remote", "add", "origin", SLUG_URL)
    git(user, "config", f"url.{origin}.insteadOf", SLUG_URL)
    git(user, "push", "-q", "-u", "origin", "main")
    text_total = int(total * (1 - binary_share))
    text_files = max(1, text_total // 1_000_000)
    (user / "src").mkdir()
    (user / "src" / "committed.txt").write_bytes(text_file(0, text_total // 10))
    git(user, "add", "-A")
    git(user, "commit", "-q", "-m", "feat: unpushed work")
    for index in range(text_files):
        (user / "src" / f"module_{index}.txt").write_bytes(text_file(index + 1, text_total // text_files))
    rng = random.Random(7)
    binary_left, index = total - text_total, 0
    (user / "assets").mkdir()
    while binary_left > 0:
        size = min(BINARY_FILE, binary_left)
        (user / "assets" / f"blob_{index}.bin").write_bytes(b"\0" + rng.randbytes(size - 1))
        binary_left -= size
        index += 1


def run_child(user: Path) -> tuple[list[str], float, float]:
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(user)], stdout=subprocess.PIPE, env=GIT_ENV)
    out = proc.stdout.read().decode() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"child failed ({status})")
    return out.split(), time.perf_counter() - started, usage.ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--big", action="store_true", help="also the 500 MB change (most of it binary)")
    parser.add_argument("--keep", action="store_true", help="keep the temp repos")
    args = parser.parse_args()
    names = [name for name in CASES if args.big or name != "500 MB"]
    print("| change | binary | bundle | commits | gate scanned | inspect | bundle + gate | wall (child) | peak RSS |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in names:
        total, share = CASES[name]
        root = Path(tempfile.mkdtemp(prefix="bench-bundle-"))
        try:
            make_case(root, total, share)
            (size, commits, findings, scanned, inspected, done), wall, rss = run_child(root / "user")
            assert findings == "0", f"the bench content should be clean, found {findings}"
            print(f"| {name} | {share:.0%} | {int(size) / 1e6:.1f} MB | {commits} | {int(scanned) / 1e6:.1f} MB | "
                  f"{float(inspected):.2f} s | {float(done) - float(inspected):.2f} s | {wall:.2f} s | "
                  f"{rss:.0f} MB |", flush=True)
        finally:
            if not args.keep:
                shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
