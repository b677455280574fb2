"""Replay the history of a real repository through the gate, each commit as if it were an uncommitted change.

Run: python bench/replay_history.py GIT_DIR [-n 800] [--show]

GIT_DIR is any clone (a bare mirror fetched for the purpose is enough; never commit it here). For each
of the newest N first-parent commits, `git diff PARENT COMMIT` (plain: no colour, no external diff, no
textconv) is gated as the patch, with the commit subject as the `commits` text. Prints blocked / total
and, with --show, every block (commit, file:line, type, masked preview) so each can be read and judged.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from handoff.gate import gate  # noqa: E402

_GIT = ["git", "-c", "core.quotePath=false", "-c", "color.ui=never"]
MAX_PATCH = 5_000_000  # a vendored-dependency commit larger than this is skipped (counted)


def _git(git_dir: str, *args: str) -> str:
    done = subprocess.run([*_GIT, f"--git-dir={git_dir}", *args], capture_output=True, check=True)
    return done.stdout.decode("utf-8", "replace")


def commits(git_dir: str, count: int) -> list[tuple[str, str, str]]:
    """(commit, first parent, subject) of the newest `count` non-root first-parent commits."""
    out = _git(git_dir, "log", "--first-parent", f"-n{count}", "--format=%H %P%x00%s")
    rows = []
    for line in out.splitlines():
        head, _, subject = line.partition("\x00")
        shas = head.split()
        if len(shas) >= 2:
            rows.append((shas[0], shas[1], subject))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("git_dir")
    parser.add_argument("-n", type=int, default=800)
    parser.add_argument("--show", action="store_true", help="print every block")
    args = parser.parse_args()
    started = time.perf_counter()
    blocked = skipped = total = 0
    size = 0
    kinds: Counter[str] = Counter()
    for commit, parent, subject in commits(args.git_dir, args.n):
        patch = _git(args.git_dir, "diff", "--no-color", "--no-ext-diff", "--no-textconv", "--binary", parent, commit)
        if len(patch) > MAX_PATCH:
            skipped += 1
            continue
        total += 1
        size += len(patch)
        report = gate(patch, {"commits": f"{commit[:12]} {subject}"}, repo_root=None).report
        if report.blocked:
            blocked += 1
            kinds.update(f.kind for f in report.findings)
            if args.show:
                print(f"{commit[:12]} {subject[:70]}")
                for f in report.findings:
                    print(f"    {f.source}:{f.line}: {f.kind}  {f.preview}")
    seconds = time.perf_counter() - started
    name = Path(args.git_dir).resolve().parent.name if Path(args.git_dir).name == "repo" else args.git_dir
    print(
        f"{name}: blocked {blocked}/{total} commits ({size / 1e6:.1f} MB of patches, {seconds:.1f} s"
        f"{f', {skipped} larger than {MAX_PATCH // 1_000_000} MB skipped' if skipped else ''})"
    )
    for kind, count in kinds.most_common():
        print(f"    {count:4d}  {kind}")


if __name__ == "__main__":
    main()
