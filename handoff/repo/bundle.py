"""The bundle: the whole working state as git objects, for Devin to fetch (issue #12, repo side).

A git bundle holding the unpushed commits as they are (history, messages, authors) plus one snapshot commit
of the working tree on top: tracked changes, deletions, renames, modes, binary files and untracked files
that are not ignored (nested repositories are left out: their content is not in this repository). Its
prerequisite is the base commit the remote has, so it carries only what the remote lacks.

Nothing of the user's is written: the snapshot is staged in a scratch copy of the index, its new objects go
to a scratch object directory (the user's objects are read through alternates), the commit is made with
`git commit-tree` (no ref, no reflog entry), and the one ref a bundle needs lives in a scratch bare
repository. All of it is in a scratch folder removed however the build ends (`untracked.scratch_dir`).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass

from handoff.errors import UsageError
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


def build_bundle(path: str | os.PathLike[str] | None, dest: str | os.PathLike[str], *, base: str | None,
                 set_aside: Sequence[str] | None = None,
                 message: str = "devin-handoff snapshot of the working tree") -> Bundle:
    """Write the bundle of the checkout at `path` to `dest`; `base` is the commit the remote has.

    `set_aside`: paths (relative to the top level) to leave out of the snapshot; by default the untracked
    nested repositories (their content is not in this repository, a gitlink to them would be a dead end).
    """
    where = layout(start_dir(path))
    if where is None:
        raise UsageError("not in a git repository: there is nothing to bundle", "run it inside your checkout")
    git = Git(where.root)
    if set_aside is None:
        from handoff.repo.inspector import read_status

        skipped = read_status(git, True, where.root).skipped
        set_aside = [item.path for item in skipped if item.kind == "nested repository"]
    head = _head(git)
    objects = os.path.abspath(os.path.join(where.root, decode(git.out("rev-parse", "--git-path", "objects")).strip()))
    with scratch_dir() as scratch:
        store = os.path.join(scratch, "store.git")
        Git(scratch).out("init", "-q", "--bare", store)
        with open(os.path.join(store, "objects", "info", "alternates"), "w", encoding="utf-8") as handle:
            handle.write(objects + "\n")
        index = os.path.join(scratch, "index")
        if os.path.exists(where.index_file):
            shutil.copy2(where.index_file, index)   # keeps the stat cache: only changed files are hashed
        env = {"GIT_INDEX_FILE": index, "GIT_OBJECT_DIRECTORY": os.path.join(store, "objects"),
               "GIT_ALTERNATE_OBJECT_DIRECTORIES": objects, "GIT_LITERAL_PATHSPECS": "0"}
        tree = _stage_working_tree(git, env, set_aside)
        snapshot = _commit_tree(git, env, tree, head, message)
        store_git = Git(store)
        store_git.out("update-ref", BUNDLE_REF, snapshot)
        store_git.out("bundle", "create", "-q", os.path.abspath(dest), BUNDLE_REF,
                      *([f"^{base}"] if base else []))
    return Bundle(path=os.fspath(dest), ref=BUNDLE_REF, base=base, head=head, snapshot=snapshot, tree=tree,
                  commits=_commits(git, head, base), size=os.path.getsize(dest))


def _head(git: Git) -> str | None:
    status, out, _ = git.run("rev-parse", "--verify", "--quiet", "HEAD^{commit}")
    return decode(out).strip() or None if status == 0 else None


def _stage_working_tree(git: Git, env: dict[str, str], set_aside: Sequence[str]) -> str:
    """Stage every tracked change, deletion and untracked non-ignored file into the scratch index; its tree id."""
    git.out("-c", "core.splitIndex=false", "-c", "advice.addEmbeddedRepo=false", "add", "--all", "--", ".",
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
