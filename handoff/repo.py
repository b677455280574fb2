"""Repo inspector: what Devin needs to reproduce this checkout (GitPython).

CONTRACT (owned by the repo-inspector work; prompt.py, secrets.py and the CLI rely on these names).
"""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_MAX_DIFF_BYTES = 100_000


@dataclass(frozen=True)
class Commit:
    sha: str
    subject: str


@dataclass(frozen=True)
class FileChange:
    path: str                    # path in the working tree (the old path for a deletion)
    old_path: str | None         # set for renames and copies
    status: str                  # added | modified | deleted | renamed | copied | mode | typechange | submodule
    added: int                   # lines added (0 for binary)
    removed: int                 # lines removed (0 for binary)
    binary: bool
    untracked: bool
    included: bool               # its diff is inside RepoContext.patch
    omitted_reason: str | None = None   # "size budget" | "not UTF-8" | None when included


@dataclass(frozen=True)
class RepoContext:
    root: str                    # top level of the working tree
    remote_name: str | None
    remote_url: str | None       # credentials stripped
    host: str | None             # e.g. github.com
    slug: str | None             # owner/repo (group/sub/repo on GitLab)
    branch: str | None           # None on a detached or unborn HEAD without a branch name
    head: str | None             # HEAD sha, None when unborn
    base: str | None             # newest commit of HEAD's history the remote has; None when unknown
    upstream: str | None         # e.g. origin/main
    unpushed: tuple[Commit, ...]
    patch_base: str | None       # the commit `patch` applies to (base, else HEAD); None = the empty tree
    patch: str                   # `git diff <base or HEAD>` incl. untracked files, cut to the budget at file boundaries
    files: tuple[FileChange, ...]
    total_diff_bytes: int        # size of the whole diff before the budget cut
    max_diff_bytes: int
    include_untracked: bool
    submodules: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default=())

    @property
    def truncated(self) -> bool:
        return any(not f.included for f in self.files)
