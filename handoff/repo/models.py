"""What the repo inspector returns: plain frozen dataclasses (no git here, cheap to import)."""

from __future__ import annotations

from dataclasses import dataclass, field

from handoff.limits import DEFAULT_MAX_BUNDLE_BYTES as DEFAULT_MAX_BUNDLE_BYTES  # the repo stage's defaults
from handoff.limits import DEFAULT_MAX_DIFF_BYTES as DEFAULT_MAX_DIFF_BYTES


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
    omitted_reason: str | None = None   # "size budget" | "not UTF-8" | "binary" | "too large" | None (included)


@dataclass(frozen=True)
class Problem:
    """Why Devin could not rebuild this state from what is sent (the handoff is refused unless --allow-partial)."""

    code: str        # "no-repository" | "no-remote" | "remote-not-clonable" | "no-commits" | "base-not-on-remote"
    message: str
    fix: str


@dataclass(frozen=True)
class SkippedPath:
    """An untracked path that is not carried, with what it is."""

    path: str
    kind: str        # "nested repository" | "untracked"


@dataclass(frozen=True)
class RepoContext:
    root: str                    # top level of the working tree
    remote_name: str | None      # the remote Devin clones (upstream remote, else origin, else the only one)
    remote_url: str | None       # credentials, query and fragment stripped
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
    unpushed_total: int = 0      # commits not on the remote (carried or not); may exceed len(unpushed)
    base_ref: str | None = None  # a ref of the remote that holds `base`, as the remote names it (refs/heads/main)
    base_source: str | None = None   # how the remote's refs were learnt: "remote-tracking" | "ls-remote" | None
    remote_choice: str | None = None  # why this remote: "upstream" | "origin" | "only remote"
    problems: tuple[Problem, ...] = ()   # empty = Devin can rebuild this state from the remote and the patch
    skipped: tuple[SkippedPath, ...] = ()  # untracked paths not carried, labelled

    @property
    def truncated(self) -> bool:
        return any(not f.included for f in self.files)

    @property
    def reproducible(self) -> bool:
        return not self.problems


NO_REPOSITORY = Problem("no-repository", "not in a git repository: Devin gets the task without any code",
                        "run it inside your checkout, or pass --allow-partial to send the task alone")


def reproducibility_problems(ctx: RepoContext | None) -> tuple[Problem, ...]:
    """The verdict for a handoff: () when Devin can rebuild the state, else what stands in the way."""
    return (NO_REPOSITORY,) if ctx is None else ctx.problems
