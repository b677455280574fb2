"""The bundle: the whole working state as git objects, for Devin to fetch (issue #12, repo side).

A git bundle holding the unpushed commits as they are (history, messages, authors) plus one snapshot commit
of the working tree on top: tracked changes, deletions, renames, modes, binary files and untracked files
that are not ignored (nested repositories are left out: their content is not in this repository). Its
prerequisite is the base commit the remote has, so it carries only what the remote lacks.

Past a size budget the largest working-tree files are set aside (their committed or staged version stays in
the snapshot) and named in `Bundle.left_out`. While the scratch objects exist, everything the bundle carries
is handed to a reader as text (`Piece`s, see `material`): each unpushed commit's message and diff, the
snapshot's diff against HEAD with no size budget, and for every binary blob its path, its leading bytes and the
printable strings inside it. The app layer (handoff/app/bundle.py) gates these before anything is uploaded.

Nothing of the user's is written: the snapshot is staged in a scratch copy of the index, its new objects go
to a scratch object directory (the user's objects are read through alternates), the commit is made with
`git commit-tree` (no ref, no reflog entry), and the one ref a bundle needs lives in a scratch bare
repository. All of it is in a scratch folder removed however the build ends (`untracked.scratch_dir`).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO

from handoff.errors import UsageError
from handoff.lazy_regex import lazy_compile
from handoff.repo.git import Git, decode
from handoff.repo.large import exclusions
from handoff.repo.layout import layout, start_dir
from handoff.repo.models import Commit
from handoff.repo.untracked import scratch_dir

BUNDLE_REF = "refs/heads/handoff-snapshot"
SNAPSHOT_IDENTITY = {"GIT_AUTHOR_NAME": "devin-handoff", "GIT_AUTHOR_EMAIL": "devin-handoff@localhost",
                     "GIT_COMMITTER_NAME": "devin-handoff", "GIT_COMMITTER_EMAIL": "devin-handoff@localhost"}


@dataclass(frozen=True)
class Bundle:
    path: str                    # the bundle file
    ref: str                     # the ref inside it that names the snapshot
    base: str | None             # its prerequisite (None: the bundle holds the whole history)
    head: str | None             # the user's HEAD (the snapshot's parent)
    snapshot: str                # the snapshot commit
    tree: str                    # the snapshot's tree: `git rev-parse HEAD^{tree}` after checkout must say this
    commits: tuple[Commit, ...]  # the unpushed commits it carries, newest first (the snapshot not included)
    size: int                    # bytes
    left_out: tuple[str, ...] = ()   # working-tree files set aside to stay within the size budget


@dataclass(frozen=True)
class Piece:
    """One part of what the bundle carries, as text for the secret gate."""

    kind: str      # "patch" (git diff text) | "text" (a commit message, a binary file's strings)
    source: str    # where it is from: "commit <sha> message", "<path> (binary, strings)", "snapshot", …
    text: str
    path: str | None = None   # for a binary file: its path
    head: bytes = b""         # for a binary file: its first bytes (what kind of file it is)


class TooLarge(Exception):
    """Even with every working-tree change set aside, the bundle is past the budget (the commits alone)."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


MaterialReader = Callable[[Iterator[Piece]], None]
PIECE_BYTES = 4_000_000        # the gate reads the diffs in pieces of about this size (memory stays flat)
STRINGS_MIN = 8                # printable runs at least this long count as strings in a binary file
STRINGS_CAP = 1_000_000        # characters of strings kept per binary file
_CHUNK = 1 << 20
_PRINTABLE = lazy_compile(rb"[\x20-\x7e\t]{%d,}" % STRINGS_MIN)
_BUDGET_ROUNDS = 4
# Delta search over blobs past 1 MiB (media, archives, dumps) costs seconds per file and rarely pays (measured:
# 50 MB change, bundle create 5.9 s -> 0.4 s); it also bounds memory.
# Files past the threshold are also written by `add` straight into a pack, which the bundle reuses uncompressed;
# the pack is read through small mmap windows so that a 500 MB change does not count 500 MB of resident pages.
_PACK_OPTIONS = ("-c", "core.bigFileThreshold=1m", "-c", "pack.windowMemory=32m", "-c", "core.packedGitWindowSize=16m",
                 "-c", "core.packedGitLimit=64m")
_READ_OPTIONS = ("-c", "core.packedGitWindowSize=16m", "-c", "core.packedGitLimit=64m")


def build_bundle(path: str | os.PathLike[str] | None, dest: str | os.PathLike[str], *, base: str | None,
                 head: str | None = None, set_aside: Sequence[str] | None = None, max_bytes: int | None = None,
                 read_material: MaterialReader | None = None,
                 message: str = "devin-handoff snapshot of the working tree") -> Bundle:
    """Write the bundle of the checkout at `path` to `dest`; `base` is the commit the remote has.

    `head`: HEAD's commit when the caller has just read it. `set_aside`: paths (relative to the top level) to
    leave out of the snapshot; by default the untracked nested repositories (their content is not in this
    repository, a gitlink to them would be a dead end).
    `max_bytes`: past it, the largest changed files are set aside too (`Bundle.left_out`); TooLarge when the
    unpushed commits alone are past it. `read_material` is given everything the bundle carries (`Piece`s)
    before the scratch objects are removed; an exception it raises ends the build.
    """
    where = layout(start_dir(path))
    if where is None:
        raise UsageError("not in a git repository: there is nothing to bundle", "run it inside your checkout")
    git = Git(where.root)
    if set_aside is None:
        from handoff.repo.inspector import read_status

        skipped = read_status(git, True, where.root).skipped
        set_aside = [item.path for item in skipped if item.kind == "nested repository"]
    head = head or _head(git)
    objects = where.objects_dir
    commits = _commits(git, head, base)
    with scratch_dir() as scratch:
        store = os.path.join(scratch, "store.git")
        Git(scratch).out("init", "-q", "--bare", store)
        with open(os.path.join(store, "objects", "info", "alternates"), "w", encoding="utf-8") as handle:
            handle.write(objects + "\n")
        index = os.path.join(scratch, "index")
        env = {"GIT_INDEX_FILE": index, "GIT_OBJECT_DIRECTORY": os.path.join(store, "objects"),
               "GIT_ALTERNATE_OBJECT_DIRECTORIES": objects, "GIT_LITERAL_PATHSPECS": "0"}
        left_out: list[str] = []
        for _ in range(_BUDGET_ROUNDS):
            if os.path.exists(index):
                os.remove(index)
            if os.path.exists(where.index_file):
                shutil.copy2(where.index_file, index)   # keeps the stat cache: only changed files are hashed
            tree = _stage_working_tree(git, env, [*set_aside, *left_out])
            snapshot = _commit_tree(git, env, tree, head, message)
            store_git = Git(store)
            store_git.out("update-ref", BUNDLE_REF, snapshot)
            store_git.out(*_PACK_OPTIONS, "bundle", "create", "-q", os.path.abspath(dest),
                          BUNDLE_REF, *([f"^{base}"] if base else []))
            size = os.path.getsize(dest)
            if max_bytes is None or size <= max_bytes:
                break
            more = _largest_changes(git, env, head, snapshot, size - max_bytes, left_out)
            if not more:
                raise TooLarge(size)
            left_out.extend(more)
        else:
            raise TooLarge(size)
        if read_material is not None:
            read_material(material(git, env, commits, head, snapshot, scratch, base))
    return Bundle(path=os.fspath(dest), ref=BUNDLE_REF, base=base, head=head, snapshot=snapshot, tree=tree,
                  commits=commits, size=size, left_out=tuple(sorted(left_out)))


def _largest_changes(git: Git, env: dict[str, str], head: str | None, snapshot: str, excess: int,
                     already: Sequence[str]) -> list[str]:
    """The largest files the snapshot changes (not yet set aside) whose sizes add up past `excess`."""
    against = head or EMPTY_TREE
    raw = git.out("diff-tree", "-r", "-z", "--no-renames", "--raw", against, snapshot, env=env)
    fields = raw.split(b"\0")
    changed: list[tuple[str, str]] = []
    for meta, name in zip(fields[0::2], fields[1::2], strict=False):
        parts = meta.split()
        if len(parts) >= 5 and parts[4] != b"D":
            changed.append((decode(parts[3]), os.fsdecode(name)))
    if not changed:
        return []
    sizes = git.feed("cat-file", "--batch-check=%(objectsize)",
                     data="".join(f"{sha}\n" for sha, _ in changed).encode(), env=env).split()
    ranked = sorted(((int(size), name) for size, (_, name) in zip(sizes, changed, strict=False)
                     if name not in already), reverse=True)
    chosen, freed = [], 0
    for size, name in ranked:
        if freed >= excess:
            break
        chosen.append(name)
        freed += size
    return chosen


EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"  # pragma: allowlist secret (git's empty tree)


# -- what the bundle carries, for the gate -----------------------------------------------------------------

def material(git: Git, env: dict[str, str], carried: Sequence[Commit], head: str | None, snapshot: str,
             scratch: str, base: str | None) -> Iterator[Piece]:
    """Everything in the bundle as text: commit messages and diffs, the snapshot's diff, binary blobs' strings."""
    commits = [c.sha for c in reversed(carried)]
    for sha in commits:
        body = decode(git.out("log", "-1", "--no-show-signature", "--format=%an <%ae>%n%B", sha, env=env))
        yield Piece("text", f"commit {sha[:12]} message", body)
    diff = [*_READ_OPTIONS, "diff-tree", "-p", "-r", "--no-ext-diff", "--no-textconv", "--no-color", "-M",
            "--full-index"]
    for sha in commits:
        yield from _diff_pieces(git, env, f"commit {sha[:12]}", *diff, "--root", sha)
    yield from _diff_pieces(git, env, "snapshot", *diff, head or EMPTY_TREE, snapshot)
    yield from _binary_pieces(git, env, base, snapshot, scratch)


def _diff_pieces(git: Git, env: dict[str, str], source: str, *args: str) -> Iterator[Piece]:
    """A diff streamed in pieces of about PIECE_BYTES, cut only where a file's section starts."""
    with git.stream(*args, env=env) as out:
        pending: list[bytes] = []
        size = 0
        for line in out:
            if line.startswith(b"diff --git ") and size >= PIECE_BYTES:
                yield Piece("patch", source, decode(b"".join(pending)))
                pending, size = [], 0
            if not pending and not line.startswith(b"diff --git "):
                continue   # diff-tree's leading commit id line
            pending.append(line)
            size += len(line)
        if pending:
            yield Piece("patch", source, decode(b"".join(pending)))


def _binary_pieces(git: Git, env: dict[str, str], base: str | None, snapshot: str,
                   scratch: str) -> Iterator[Piece]:
    """Every blob the bundle carries that is binary (a NUL in its first 8000 bytes, git's rule), as strings."""
    listing = git.out("rev-list", "--objects", snapshot, *([f"^{base}"] if base else []), env=env)
    names: dict[bytes, str] = {}
    for line in listing.split(b"\n"):
        sha, _, name = line.partition(b" ")
        if sha.strip() and (sha not in names or not names[sha]):
            names[sha] = os.fsdecode(name)
    if not names:
        return
    kinds = git.feed("cat-file", "--batch-check=%(objectname) %(objecttype)", data=b"\n".join(names) + b"\n",
                     env=env).split(b"\n")
    blobs = [line.split()[0] for line in kinds if line.endswith(b" blob")]
    undiffed = _not_diffed_as_text(git, env, {names[blob] for blob in blobs if names.get(blob)})
    wanted = os.path.join(scratch, "blobs")
    with open(wanted, "wb") as handle:
        handle.write(b"".join(blob + b"\n" for blob in blobs))
    with open(wanted, "rb") as ids, git.stream(*_READ_OPTIONS, "cat-file", "--batch", env=env, stdin=ids) as out:
        for blob in blobs:
            size = int(out.readline().split()[2])
            path = names.get(blob) or decode(blob)
            piece = _read_blob(out, size, path, whole_text=path in undiffed)
            out.read(1)   # the newline after each object
            if piece is not None:
                yield piece


def _not_diffed_as_text(git: Git, env: dict[str, str], paths: set[str]) -> set[str]:
    """Paths whose attributes (`-diff`, `binary`) make git diff show them as binary whatever they hold."""
    if not paths:
        return set()
    out = git.feed("check-attr", "-z", "--stdin", "diff", data=b"".join(os.fsencode(p) + b"\0" for p in paths),
                   env=env).split(b"\0")
    return {os.fsdecode(path) for path, _, value in zip(out[0::3], out[1::3], out[2::3], strict=False)
            if value == b"unset"}


def _read_blob(out: IO[bytes], size: int, path: str, *, whole_text: bool = False) -> Piece | None:
    """Read one blob of `size` bytes: a Piece of its strings when it is binary, of its whole text when diffs do
    not show it (`whole_text`), else None (the diffs carry it)."""
    remaining, head, strings, kept, binary, tail = size, b"", [], 0, False, b""
    text: list[bytes] = []
    while remaining > 0:
        chunk = out.read(min(_CHUNK, remaining))
        if not chunk:
            break
        if not head:
            head = chunk[:64]
            binary = b"\0" in chunk[:8000]
        remaining -= len(chunk)
        if not binary:
            if whole_text:
                text.append(chunk)
            continue
        data = tail + chunk
        last = 0
        for match in _PRINTABLE.finditer(data):
            if match.end() == len(data):
                break   # may go on in the next chunk
            last = match.end()
            if kept < STRINGS_CAP:
                strings.append(decode(match.group()))
                kept += len(strings[-1])
        tail = data[last:][-4096:] if remaining else b""
    if not binary:
        return Piece("text", f"{path} (whole file)", decode(b"".join(text)), path=path, head=head) if text else None
    if tail and _PRINTABLE.fullmatch(tail) and kept < STRINGS_CAP:
        strings.append(decode(tail))
    return Piece("text", f"{path} (binary, strings)", "\n".join(strings), path=path, head=head)


def _head(git: Git) -> str | None:
    status, out, _ = git.run("rev-parse", "--verify", "--quiet", "HEAD^{commit}")
    return decode(out).strip() or None if status == 0 else None


def _stage_working_tree(git: Git, env: dict[str, str], set_aside: Sequence[str]) -> str:
    """Stage every tracked change, deletion and untracked non-ignored file into the scratch index; its tree id."""
    # every new file goes straight into one pack (compressed once, which `bundle create` then reads), not one loose
    # object file each: with 20k untracked files, create --dry-run went from ~11 s of CPU to ~4 s (issue 9)
    git.out("-c", "core.splitIndex=false", "-c", "advice.addEmbeddedRepo=false", *_PACK_OPTIONS,
            "-c", "core.bigFileThreshold=1", "add", "--all", "--", ".",
            *exclusions([os.fsencode(name) for name in set_aside]), env=env)
    return decode(git.out("write-tree", env=env)).strip()


def _commit_tree(git: Git, env: dict[str, str], tree: str, head: str | None, message: str) -> str:
    parents = ["-p", head] if head else []
    return decode(git.out("commit-tree", "--no-gpg-sign", tree, *parents, "-m", message,
                          env={**env, **SNAPSHOT_IDENTITY})).strip()


def _commits(git: Git, head: str | None, base: str | None) -> tuple[Commit, ...]:
    if head is None:
        return ()
    out = git.out("log", "--no-show-signature", "--format=%H %s", "-z", head, *([f"^{base}"] if base else []), "--")
    commits = []
    for record in out.split(b"\0"):
        sha, _, subject = record.partition(b" ")
        if sha.strip():
            commits.append(Commit(decode(sha).strip(), decode(subject).strip()))
    return tuple(commits)
