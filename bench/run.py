"""Whole-process benchmarks: wall time and peak RSS, median of several runs, on this machine.

    python bench/run.py            # all rows, a Markdown table on stdout
    python bench/run.py --quick    # fewer runs, no 200 MB row

Everything runs against temp repos and the bundled simulator on 127.0.0.1; nothing else is contacted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GIT_ENV = {"GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.com", "GIT_COMMITTER_NAME": "b",
           "GIT_COMMITTER_EMAIL": "b@example.com", "GIT_CONFIG_NOSYSTEM": "1"}


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEVIN_")}
    env.update(GIT_ENV)
    env["NO_COLOR"] = "1"
    env.update(extra or {})
    return env


def measure(argv: list[str], cwd: Path, env: dict[str, str], stdin: str | None = None) -> tuple[float, float, int]:
    """(wall seconds, peak RSS MB, exit code) of one process."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
    if stdin:
        proc.stdin.write(stdin)
        proc.stdin.close()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_maxrss / 1024, proc.returncode


def median_of(runs: int, argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, int]:
    results = [measure(argv, cwd, env) for _ in range(runs)]
    return (statistics.median(r[0] for r in results), max(r[1] for r in results), results[-1][2])


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, env=_env(), check=True, capture_output=True)


def make_repo_with_change(path: Path, change_bytes: int) -> Path:
    """A repo pushed to a local bare origin, then `change_bytes` of ordinary code changed on top."""
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    (path / "README.md").write_text("bench\n")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "init")
    bare = path.parent / (path.name + ".git")
    git(path.parent, "init", "-q", "--bare", str(bare))
    git(path, "remote", "add", "origin", "https://github.com/acme/bench.git")
    git(path, "config", f"url.{bare}.insteadOf", "https://github.com/acme/bench.git")
    git(path, "push", "-q", "-u", "origin", "main")
    line = "    result = compute_value(alpha, beta) + offset  # adjust the total for the next step\n"
    per_file = min(change_bytes, 2_000_000) if change_bytes > 1_000_000 else max(change_bytes // 20, 200)
    written, index = 0, 0
    while written < change_bytes:
        size = min(per_file, change_bytes - written)
        body = line * max(1, size // len(line))
        (path / "src").mkdir(exist_ok=True)
        (path / "src" / f"module_{index:04d}.py").write_text(body)
        written += len(body)
        index += 1
    return path


def row(name: str, wall: float, rss: float, code: int, target: str = "") -> str:
    return f"| {name} | {wall * 1000:.0f} ms | {rss:.0f} MB | {code} | {target} |"


def bench_cli(runs: int, quick: bool, tmp: Path, cli: list[str]) -> list[str]:
    rows = []
    wall, rss, code = median_of(runs, [*cli, "--help"], tmp, _env())
    rows.append(row("`--help`", wall, rss, code, "< 150 ms"))
    sizes = [("10 KB", 10_000), ("100 KB", 100_000), ("1 MB", 1_000_000)]
    if not quick:
        sizes.append(("200 MB", 200_000_000))
    for label, size in sizes:
        repo = make_repo_with_change(tmp / f"repo-{size}", size)
        n = 1 if size > 10_000_000 else runs
        wall, rss, code = median_of(n, [*cli, "create", "--task", "bench", "--dry-run", "--json"], repo, _env())
        target = "< 0.5 s" if size == 100_000 else ("< 150 MB RSS" if size > 10_000_000 else "")
        rows.append(row(f"`create --dry-run`, {label} change", wall, rss, code, target))
        if size > 10_000_000:
            shutil.rmtree(repo, ignore_errors=True)
    return rows


def bench_simulated(runs: int, tmp: Path, cli: list[str]) -> list[str]:
    sys.path.insert(0, str(ROOT))
    from handoff.simulator import Simulator

    rows = []
    repo = make_repo_with_change(tmp / "repo-detach", 100_000)
    with Simulator(step_seconds=0.2) as sim:
        env = _env({"DEVIN_API_URL": sim.base_url, "DEVIN_API_KEY": "cog_bench" + "0" * 12, "DEVIN_ORG_ID": "org-sim"})
        wall, rss, code = median_of(runs, [*cli, "create", "--task", "bench", "--detach"], repo, env)
        rows.append(row("`create --detach`, 100 KB change, simulator", wall, rss, code, "< 0.6 s"))
        tasks = tmp / "tasks.txt"
        tasks.write_text("".join(f"task number {i}\n" for i in range(20)))
        wall, rss, code = median_of(max(1, runs // 2), [*cli, "create", "--each", str(tasks), "--detach"], repo, env)
        rows.append(row("`create --each` 20 tasks `--detach`, simulator", wall, rss, code, ""))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    runs = 3 if args.quick else args.runs
    cli = [sys.executable, "-m", "handoff"]
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, median of {runs} runs\n")
    print("| what | wall | peak RSS | exit | target |\n|---|---|---|---|---|")
    steps: list[Callable[[Path], list[str]]] = [
        lambda tmp: bench_cli(runs, args.quick, tmp, cli),
        lambda tmp: bench_simulated(runs, tmp, cli),
    ]
    for step in steps:
        with tempfile.TemporaryDirectory(prefix="handoff-bench-") as tmp:
            for line in step(Path(tmp)):
                print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
