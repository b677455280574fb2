"""`devin-handoff create --detach` on a 100 KB change against the docs' raw flow (bench/raw_flow.sh), alternately.

    python bench/bench_create.py [--runs 10] [--kb 100]

Both post to the bundled simulator on 127.0.0.1 from the same temp repo; runs alternate so both see the
same machine state. Prints the median wall time and CPU time (user + sys of the process tree) of each,
and our ratio (target: at most 1.5x the raw flow). A third row is the floor any Python tool on the required
packages pays before its first line of work: the interpreter importing click, GitPython and httpx (the
way the client imports it, without httpx's command-line module).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from handoff.simulator import DEFAULT_ORG, Simulator  # noqa: E402

GIT_ENV = {"GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.com", "GIT_COMMITTER_NAME": "b",
           "GIT_COMMITTER_EMAIL": "b@example.com", "GIT_CONFIG_NOSYSTEM": "1"}


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, env={**os.environ, **GIT_ENV})


def make_repo(parent: Path, kb: int) -> Path:
    """A pushed repo with `kb` KB of source, then every line changed (a `kb` KB-ish diff), uncommitted."""
    root, bare = parent / "repo", parent / "origin.git"
    root.mkdir()
    _git(parent, "init", "-q", "--bare", str(bare))
    _git(root, "init", "-q", "-b", "main")
    lines = [f"def function_{n}(value):\n    return value + {n}\n" for n in range(kb * 1000 // 80)]
    (root / "module.py").write_text("".join(lines))
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "base")
    _git(root, "remote", "add", "origin", "https://github.com/acme/widgets.git")
    _git(root, "config", f"url.{bare}.insteadOf", "https://github.com/acme/widgets.git")
    _git(root, "push", "-q", "-u", "origin", "main")
    (root / "module.py").write_text("".join(line.replace("value +", "value -") for line in lines))
    return root


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process and its children)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{argv[0]} failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--kb", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-create-") as tmp, Simulator(step_seconds=600) as sim:
        repo = make_repo(Path(tmp), args.kb)
        diff_bytes = len(subprocess.run(["git", "diff", "HEAD"], cwd=repo, capture_output=True).stdout)
        # bytecode as an installed package has it (pip compiles it); the warm-up run writes it for a checkout
        env = {k: v for k, v in os.environ.items() if not k.startswith("DEVIN_") and k != "PYTHONDONTWRITEBYTECODE"}
        env.update(GIT_ENV, NO_COLOR="1", XDG_STATE_HOME=str(Path(tmp) / "state"), DEVIN_API_URL=sim.base_url,
                   DEVIN_API_KEY="cog_bench_simulator_only", DEVIN_ORG_ID=DEFAULT_ORG)
        ours = [sys.executable, "-m", "handoff", "create", "--detach", "--task", "Fix the sign"]
        raw = ["bash", str(ROOT / "bench" / "raw_flow.sh"), "Fix the sign"]
        # httpx as the client loads it (handoff/devin/_http.py: without the CLI module that pulls in rich)
        floor = [sys.executable, "-c", "import click, git; import handoff.devin._http"]
        commands = {"create --detach": ours, "raw flow": raw, "imports alone": floor}
        for argv in commands.values():
            timed(argv, repo, env)  # warm the file cache
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, argv in commands.items():
                results[name].append(timed(argv, repo, env))
    print(f"{diff_bytes / 1000:.0f} KB diff, {args.runs} alternating runs each, medians:")
    medians = {}
    for name, runs in results.items():
        wall = statistics.median(w for w, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        medians[name] = (wall, cpu)
        print(f"  {name:<16} wall {wall * 1000:6.0f} ms   cpu {cpu * 1000:6.0f} ms")
    (ours_wall, ours_cpu), (raw_wall, raw_cpu) = medians["create --detach"], medians["raw flow"]
    floor_wall, floor_cpu = medians["imports alone"]
    print(f"  ratio            wall {ours_wall / raw_wall:.2f}x   cpu {ours_cpu / raw_cpu:.2f}x   (target <= 1.5x)")
    print(f"  floor            wall {floor_wall / raw_wall:.2f}x   cpu {floor_cpu / raw_cpu:.2f}x   "
          "(python importing click, GitPython and httpx, against the raw flow)")


if __name__ == "__main__":
    main()
