"""Benchmark the repo inspector: memory on a 200 MB change, time on a 100 KB change.

    /work/venv/bin/python bench/bench_inspect.py [--mb 200] [--single-file] [--keep]
    /work/venv/bin/python bench/bench_inspect.py --untracked 5000,20000,50000,100000 [--repeats 3]

It builds throw-away repos under /tmp, then runs, each in a child process:
  * `python -m handoff create --task x --dry-run` (the whole CLI), and
  * `inspect()` alone (a child that only imports handoff.repo and calls it),
and reports wall time and peak RSS. Peak RSS comes from the child's rusage (os.wait4, the same
numbers resource.getrusage(RUSAGE_CHILDREN) sums up): ru_maxrss is the largest resident set of
the child or any git process it waited for, so git's own memory counts too.

The big change is many ~1 MB files (half tracked and rewritten, half untracked), so git's own
memory stays per-file; --single-file makes it one tracked file instead, which git would load whole:
the inspector names it ("too large") without diffing it.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PYTHON = sys.executable
GIT_ENV = {**os.environ, "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
           "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.com", "GIT_CONFIG_NOSYSTEM": "1"}
INSPECT_CHILD = (
    "import sys, time\n"
    "t = time.perf_counter()\n"
    "from handoff.repo import inspect\n"
    "ctx = inspect(sys.argv[1])\n"
    "print(f'{len(ctx.files)} files, {ctx.total_diff_bytes / 1e6:.1f} MB diff, {len(ctx.patch)} chars kept,'\n"
    "      f' {time.perf_counter() - t:.3f} s in the child', file=sys.stderr)\n"
)


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, env=GIT_ENV, check=True, stdout=subprocess.DEVNULL)


def text_block(seed: int, size: int) -> bytes:
    line = f"{seed:08d} the quick brown fox jumps over the lazy dog {seed % 97:02d}\n".encode()
    return line * (size // len(line))


def make_repo(root: Path, tracked: dict[str, bytes], remote: bool = True) -> Path:
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    for name, content in tracked.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    if remote:
        bare = root.parent / (root.name + "-origin.git")
        git(root.parent, "init", "-q", "--bare", str(bare))
        git(root, "remote", "add", "origin", "https://github.com/acme/bench.git")
        git(root, "config", f"url.{bare}.insteadOf", "https://github.com/acme/bench.git")
        git(root, "push", "-q", "-u", "origin", "main")
    return root


def big_change(base: Path, megabytes: int, single_file: bool) -> Path:
    """A repo whose `git diff` is about `megabytes` MB."""
    if single_file:
        root = make_repo(base / "big", {"huge.txt": text_block(1, 1000)})
        (root / "huge.txt").write_bytes(text_block(2, megabytes * 1_000_000))
        return root
    count = megabytes // 4  # a rewritten tracked file gives 2 MB of diff, an untracked one 1 MB
    root = make_repo(base / "big", {f"tracked/{i:04d}.txt": text_block(i, 1_000_000) for i in range(count)})
    for i in range(count):
        (root / f"tracked/{i:04d}.txt").write_bytes(text_block(i + 100_000, 1_000_000))
    (root / "untracked").mkdir()
    for i in range(count * 2):
        (root / f"untracked/{i:04d}.txt").write_bytes(text_block(i + 200_000, 1_000_000))
    return root


def small_change(base: Path) -> Path:
    """A repo with about 100 KB of diff: 40 edited files, 10 new ones, one unpushed commit."""
    files = {f"src/mod{i:02d}.py": text_block(i, 4000) for i in range(60)}
    root = make_repo(base / "small", files)
    for i in range(40):
        path = root / f"src/mod{i:02d}.py"
        path.write_bytes(path.read_bytes()[:2000] + text_block(i + 500, 1000) + path.read_bytes()[3000:])
    git(root, "commit", "-q", "-am", "local work")
    for i in range(40):
        path = root / f"src/mod{i:02d}.py"
        path.write_bytes(path.read_bytes() + text_block(i + 900, 300))
    for i in range(10):
        (root / f"new{i}.txt").write_bytes(text_block(i + 700, 2000))
    return root


def run_child(args: list[str], cwd: Path) -> tuple[float, float, int, str]:
    """(wall seconds, peak RSS MB of the child and the git processes it waited for, exit code, stderr tail)."""
    with tempfile.TemporaryFile() as err:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DEVIN_")}
        start = time.perf_counter()
        proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        tail = err.read().decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
    return wall, usage.ru_maxrss / 1024, proc.returncode, tail[0]


def report(label: str, result: tuple[float, float, int, str]) -> None:
    wall, rss, code, tail = result
    print(f"{label:<44} wall {wall:7.3f} s   peak RSS {rss:7.1f} MB   exit {code}   {tail[:100]}")


def in_process_timing(root: Path, repeats: int = 15) -> None:
    start = time.perf_counter()
    import git  # noqa: F401  (what a real run pays once)

    print(f"{'import git':<44} {time.perf_counter() - start:7.3f} s")
    from handoff.repo import inspect

    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        ctx = inspect(root)
        times.append(time.perf_counter() - start)
    print(f"{'inspect() in process, 100 KB change':<44} median {statistics.median(times) * 1000:6.1f} ms"
          f"  min {min(times) * 1000:6.1f} ms  ({len(ctx.files)} files, {ctx.total_diff_bytes} diff bytes,"
          f" {len(ctx.unpushed)} unpushed)")


def untracked_repo(base: Path, count: int) -> Path:
    """A pushed repo with `count` small untracked files, 100 per folder (an un-ignored node_modules/)."""
    root = make_repo(base / f"untracked-{count}", {"README.md": b"hello\n"})
    for i in range(count):
        folder = root / "node_modules" / f"pkg{i // 100:04d}"
        if i % 100 == 0:
            folder.mkdir(parents=True)
        (folder / f"f{i % 100:02d}.js").write_bytes(b"module.exports = %d;\n" % i)
    return root


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def git_reference(root: Path) -> tuple[float, float]:
    """git's own (wall, CPU) for the same job: `add -N .` into a scratch copy of the index, then `diff HEAD`."""
    with tempfile.TemporaryDirectory() as scratch:
        index = Path(scratch) / "index"
        start, cpu = time.perf_counter(), children_cpu()
        shutil.copy2(root / ".git" / "index", index)
        env = {**GIT_ENV, "GIT_INDEX_FILE": str(index)}
        subprocess.run(["git", "add", "-N", "."], cwd=root, env=env, check=True)
        subprocess.run(["git", "diff", "HEAD"], cwd=root, env=env, check=True, stdout=subprocess.DEVNULL)
        return time.perf_counter() - start, children_cpu() - cpu


def timed_child(args: list[str], cwd: Path) -> tuple[float, float]:
    """(wall, CPU) of a child and every git process it waited for; CPU is the figure a loaded machine keeps."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEVIN_")}
    start = time.perf_counter()
    proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{args} failed")
    return time.perf_counter() - start, usage.ru_utime + usage.ru_stime


def _medians(runs: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs)


def untracked_bench(counts: list[int], repeats: int) -> None:
    """`create --dry-run` vs git's own `add -N . && diff HEAD` with many untracked files, runs alternating.

    Three of ours per size: the whole command as a user runs it (with `--bundle` on auto, which builds and
    gates a git bundle whenever files are left out of the text patch), the same with `--no-bundle` (the text
    patch alone: what git's `add -N . + diff` is the reference for), and `inspect()` alone. A first row, a
    clean checkout, shows the fixed cost in each (interpreter, imports, the handful of git calls).
    """
    base = Path(tempfile.mkdtemp(prefix="bench-untracked-", dir="/tmp"))
    cli = [PYTHON, "-m", "handoff", "create", "--task", "x", "--dry-run"]
    ours = {"cli": cli, "text": [*cli, "--no-bundle"]}
    try:
        print("median of runs; wall, then CPU (user+sys of the process and its git children) in brackets;"
              " ratio = ours / git's")
        print(f"{'untracked':>9} {'git add -N . + diff':>20} {'create --dry-run':>31} {'... --no-bundle':>31}"
              f" {'inspect() child':>31}")
        for count in [0, *counts]:
            root = untracked_repo(base, count)
            kinds = {**ours, "stage": [PYTHON, "-c", INSPECT_CHILD, str(root)]}
            runs: dict[str, list[tuple[float, float]]] = {"git": [], **{k: [] for k in kinds}}
            for _ in range(repeats):
                runs["git"].append(git_reference(root))
                for kind, args in kinds.items():
                    runs[kind].append(timed_child(args, root))
            git_w, git_c = _medians(runs["git"])
            line = f"{count:>9} {git_w:>7.2f} s [{git_c:6.2f} s]"
            for kind in kinds:
                wall, cpu = _medians(runs[kind])
                ratio = f"{wall / git_w:>5.2f}x [{cpu / git_c:5.2f}x]" if count else f"{'(fixed cost)':>16}"
                line += f"  {wall:>6.2f} s [{cpu:5.2f} s] {ratio}"
            print(line, flush=True)
            shutil.rmtree(root, ignore_errors=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def build(base: Path, megabytes: int, single_file: bool) -> None:
    small_change(base)
    big_change(base, megabytes, single_file)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200, help="size of the big change in MB")
    parser.add_argument("--single-file", action="store_true", help="one big file instead of many 1 MB files")
    parser.add_argument("--keep", action="store_true", help="keep the repos under /tmp")
    parser.add_argument("--build", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--untracked", default=None, metavar="N,N,…",
                        help="instead: time create --dry-run against git's own add -N + diff with N untracked files")
    parser.add_argument("--repeats", type=int, default=3, help="runs per size for --untracked (median)")
    options = parser.parse_args()
    if options.untracked:
        untracked_bench([int(n) for n in options.untracked.split(",")], options.repeats)
        return 0
    if options.build:
        build(options.build, options.mb, options.single_file)
        return 0
    base = Path(tempfile.mkdtemp(prefix="bench-inspect-", dir="/tmp"))
    try:
        print(f"building repos under {base} …", flush=True)
        # In a separate process: Linux counts the parent's resident set in a child's ru_maxrss
        # (it is taken at exec time), so this launcher must stay small while it measures.
        subprocess.run([PYTHON, __file__, "--build", str(base), "--mb", str(options.mb),
                        *(["--single-file"] if options.single_file else [])], check=True)
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"(launcher's own peak RSS {own:.1f} MB: a floor under every child figure below)")
        small, big = base / "small", base / "big"
        cli = [PYTHON, "-m", "handoff", "create", "--task", "x", "--dry-run"]
        report("create --dry-run, 100 KB change", run_child(cli, small))
        report("inspect() child, 100 KB change", run_child([PYTHON, "-c", INSPECT_CHILD, str(small)], small))
        what = "one file" if options.single_file else "many files"
        report(f"create --dry-run, {options.mb} MB change ({what})", run_child(cli, big))
        report(f"inspect() child, {options.mb} MB change ({what})",
               run_child([PYTHON, "-c", INSPECT_CHILD, str(big)], big))
        in_process_timing(small)
    finally:
        if options.keep:
            print(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
