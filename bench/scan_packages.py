"""Scan the source trees of installed packages through the gate, as if each file were added to a repository.

Run: python bench/scan_packages.py [SITE_PACKAGES] [--show]

Real code nobody here wrote, used as benign input: every text file (<= 1 MB, UTF-8) under each
top-level package of the venv's site-packages becomes a new-file diff, one package per gate call.
Prints blocked files / total and, with --show, every finding so each can be read and judged (a
package's own test keys may be defensible; a placeholder is not).
"""

from __future__ import annotations

import argparse
import os
import site
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from handoff.gate import gate  # noqa: E402

MAX_FILE = 1_000_000


def new_file_diff(path: str, text: str) -> str:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    body = "".join(f"+{line}\n" for line in lines)
    return (
        (
            f"diff --git a/{path} b/{path}\nnew file mode 100644\nindex 0000000..1111111\n--- /dev/null\n"
            f"+++ b/{path}\n@@ -0,0 +1,{len(lines)} @@\n{body}"
        )
        if lines
        else ""
    )


def package_files(top: Path) -> list[tuple[str, str]]:
    files = []
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = [name for name in dirnames if name != "__pycache__"]
        for name in sorted(filenames):
            full = Path(dirpath) / name
            if full.suffix in (".pyc", ".so", ".pyd", ".dylib") or full.stat().st_size > MAX_FILE:
                continue
            try:
                text = full.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue
            files.append((str(full.relative_to(top.parent)), text))
    return files


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("site_packages", nargs="?", default=site.getsitepackages()[0])
    parser.add_argument("--show", action="store_true")
    args = parser.parse_args()
    root = Path(args.site_packages)
    started = time.perf_counter()
    total_files = blocked_files = size = 0
    for top in sorted(root.iterdir()):
        if not top.is_dir() or top.name.endswith((".dist-info", ".egg-info")) or top.name.startswith(("_", ".")):
            continue
        files = package_files(top)
        if not files:
            continue
        patch = "".join(new_file_diff(path, text) for path, text in files)
        total_files += len(files)
        size += len(patch)
        report = gate(patch, {}, repo_root=None).report
        flagged = sorted({f.source for f in report.findings})
        blocked_files += len(flagged)
        if args.show:
            for f in report.findings:
                print(f"{f.source}:{f.line}: {f.kind}  {f.preview}")
    seconds = time.perf_counter() - started
    print(
        f"{root}: blocked {blocked_files}/{total_files} files ({size / 1e6:.1f} MB, {seconds:.1f} s, "
        f"{size / 1e6 / seconds:.1f} MB/s)"
    )


if __name__ == "__main__":
    main()
