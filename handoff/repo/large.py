"""Files too large to diff: named ("too large"), never read whole.

git holds a whole file in memory (both sides of a change) to diff it; a multi-GB dump next to the code
must not cost that. Untracked ones are found by size on disk, tracked ones from `git diff --raw` (no content
is read) plus one `cat-file --batch-check` for the base side's blob sizes.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from handoff.repo.git import Git, decode
from handoff.repo.models import FileChange

READ_SIZE = 1 << 18
# git holds a whole file in memory (both sides of a change) to diff it; a multi-GB dump next to
# the code must not cost that. Files over this size are named, not diffed.
LARGE_FILE_BYTES = 50_000_000


def set_aside_large(root: str, untracked: Sequence[bytes]) -> tuple[list[bytes], list[bytes]]:
    """(untracked files to diff, untracked files too large to diff)."""
    small, large = [], []
    prefix = os.path.join(os.fsencode(root), b"")   # one lstat per file and little else: this runs per untracked file
    lstat, is_regular = os.lstat, stat.S_ISREG
    for name in untracked:
        try:
            info = lstat(prefix + name)
        except OSError:
            small.append(name)
            continue
        (large if info.st_size > LARGE_FILE_BYTES and is_regular(info.st_mode) else small).append(name)
    return small, large


def worktree_size(root: str, name: bytes) -> int | None:
    """Size of a regular file in the working tree; None for anything else (missing, symlink, directory)."""
    try:
        info = os.lstat(os.path.join(os.fsencode(root), name))
    except OSError:
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) else None


def _count_lines(root: str, name: bytes) -> tuple[int, bool]:
    """(lines, binary) of a working-tree file, read in chunks; (0, False) when it cannot be read."""
    lines, binary, last = 0, False, b"\n"
    try:
        with open(os.path.join(os.fsencode(root), name), "rb") as handle:
            first = handle.read(8000)
            binary = b"\0" in first  # git's own test: a NUL in the first 8000 bytes
            chunk = first
            while chunk and not binary:
                lines += chunk.count(b"\n")
                last = chunk[-1:]
                chunk = handle.read(READ_SIZE)
    except OSError:
        return 0, False
    if not binary and last != b"\n":
        lines += 1  # a last line without a newline still counts
    return (0 if binary else lines), binary


def large_untracked_change(root: str, name: bytes) -> FileChange:
    lines, binary = _count_lines(root, name)
    return FileChange(path=decode(name), old_path=None, status="added", added=lines, removed=0,
                      binary=binary, untracked=True, included=False, omitted_reason="too large")


_RAW_STATUS = {b"A": "added", b"M": "modified", b"D": "deleted", b"T": "typechange"}
_REGULAR_MODES = (b"100644", b"100755")


@dataclass(frozen=True)
class RawChange:
    name: bytes
    status: str
    old_blob: str | None     # the base side's blob when it is a regular file
    worktree_size: int | None


def large_tracked(git: Git, root: str, base: str) -> list[RawChange]:
    """Tracked changes against `base` whose working-tree file or base blob is over LARGE_FILE_BYTES."""
    out = git.out("diff", "--raw", "-z", "--no-renames", "--no-abbrev", "--no-ext-diff", "--ignore-submodules=none",
                  base, "--")
    changes = list(_parse_raw(out, root))
    blob_sizes = _blob_sizes(git, [c.old_blob for c in changes if c.old_blob is not None])
    return [c for c in changes
            if max(c.worktree_size or 0, blob_sizes.get(c.old_blob or "", 0)) > LARGE_FILE_BYTES]


def _parse_raw(out: bytes, root: str) -> Iterator[RawChange]:
    """`:old_mode new_mode old_sha new_sha X\\0path\\0` entries, regular files only."""
    fields = out.split(b"\0")
    for meta, name in zip(fields[0::2], fields[1::2], strict=False):
        parts = meta.lstrip(b":").split(b" ")
        if len(parts) != 5 or parts[4][:1] not in _RAW_STATUS:
            continue  # an unmerged entry (U) or anything unexpected: left to the diff
        old_mode, new_mode, old_sha, _, letter = parts
        if old_mode not in _REGULAR_MODES and new_mode not in _REGULAR_MODES:
            continue  # submodules and symlinks are small
        old_blob = decode(old_sha) if old_mode in _REGULAR_MODES and old_sha.strip(b"0") else None
        worktree = worktree_size(root, name) if new_mode in _REGULAR_MODES else None
        yield RawChange(name, _RAW_STATUS[letter[:1]], old_blob, worktree)


def _blob_sizes(git: Git, blobs: Sequence[str]) -> dict[str, int]:
    """Object sizes from one `cat-file --batch-check` (reads object headers, not contents)."""
    if not blobs:
        return {}
    out = git.feed("cat-file", "--batch-check=%(objectname) %(objectsize)",
                   data="".join(f"{blob}\n" for blob in dict.fromkeys(blobs)).encode())
    sizes = {}
    for line in decode(out).splitlines():
        blob, _, size = line.partition(" ")
        if size.isdigit():
            sizes[blob] = int(size)
    return sizes


def large_tracked_change(root: str, change: RawChange) -> FileChange:
    # A new file's lines are all added; for other changes the counts would need the diff we avoid.
    lines, binary = _count_lines(root, change.name) if change.worktree_size is not None else (0, False)
    return FileChange(path=decode(change.name), old_path=None, status=change.status,
                      added=lines if change.status == "added" else 0, removed=0, binary=binary,
                      untracked=False, included=False, omitted_reason="too large")


def exclusions(names: Sequence[bytes]) -> list[str]:
    """Pathspecs that keep `names` out of a diff run at the top level, whatever characters they hold."""
    return [f":(exclude,literal){os.fsdecode(name)}" for name in names]

