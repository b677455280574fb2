"""The repo stage: what Devin needs to reproduce this checkout, and the one door to git.

Modules: `git.py` (GitPython's runner: every git command of the project goes through it; `gitpython.py` loads
that runner without the rest of GitPython), `inspector.py`
(`inspect()` → `RepoContext`), `layout.py`, `base.py` (the base rule), `remote.py` (URL parsing, which remote),
`diff.py` and `large.py` (the streamed diff, files too large to diff), `untracked.py` (the scratch index),
`push.py`, `pickup.py` (git side of pickup), `bundle.py` (unpushed commits + a snapshot commit as a git bundle),
`models.py` (the dataclasses), `paths.py` (user paths, git's C-quoted names).

Importing this package is cheap: GitPython is imported only when a git command runs.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from handoff.repo.models import (
    DEFAULT_MAX_BUNDLE_BYTES,
    DEFAULT_MAX_DIFF_BYTES,
    NO_REPOSITORY,
    Commit,
    FileChange,
    Problem,
    RepoContext,
    SkippedPath,
    reproducibility_problems,
)
from handoff.repo.paths import user_path
from handoff.repo.remote import parse_remote_url, remote_slug, scrub_urls, strip_credentials

if TYPE_CHECKING:
    from handoff.repo.git import Git

__all__ = [
    "DEFAULT_MAX_BUNDLE_BYTES",
    "DEFAULT_MAX_DIFF_BYTES",
    "NO_REPOSITORY",
    "Commit",
    "FileChange",
    "Git",
    "Problem",
    "RepoContext",
    "SkippedPath",
    "git_config",
    "git_toplevel",
    "git_version",
    "inspect",
    "outgoing_patch",
    "parse_remote_url",
    "push_branch",
    "remote_slug",
    "reproducibility_problems",
    "run_git",
    "scrub_urls",
    "strip_credentials",
    "user_path",
]


def inspect(path: str | os.PathLike[str] | None = None, *, include_untracked: bool = True,
            max_diff_bytes: int = DEFAULT_MAX_DIFF_BYTES, offline: bool = False) -> RepoContext | None:
    """What Devin needs to reproduce the checkout at `path`; None outside a git work tree (see inspector.py)."""
    from handoff.repo.inspector import inspect as run

    return run(path, include_untracked=include_untracked, max_diff_bytes=max_diff_bytes, offline=offline)


def push_branch(ctx: RepoContext) -> None:
    """Push HEAD's branch to the remote Devin clones (see push.py)."""
    from handoff.repo.push import push_branch as push

    push(ctx)


def outgoing_patch(root: str, local_oid: str, remote_oid: str, max_bytes: int) -> tuple[str, bool] | None:
    """The diff a git pre-push sends for one ref update, cut under `max_bytes` (see push.py)."""
    from handoff.repo.push import outgoing_patch as patch

    return patch(root, local_oid, remote_oid, max_bytes)


def git_version() -> str | None:
    """`git version` without the prefix; None when git cannot be run (for doctor)."""
    from handoff.repo.git import version

    return version()


def git_config(cwd: str | None, pattern: str) -> dict[str, str]:
    """Git config entries whose key matches the regex `pattern` (e.g. r"^handoff\\."); {} on any failure."""
    from handoff.repo.git import config_values

    return config_values(cwd, pattern)


def git_toplevel(cwd: str) -> str | None:
    """The work tree's top level holding `cwd`; None outside one."""
    from handoff.repo.git import toplevel

    return toplevel(cwd)


def run_git(cwd: str | os.PathLike[str] | None, *args: str, timeout: float | None = 20) -> tuple[int, str, str]:
    """(status, stdout, stderr) of one git command, for rooms that write config (install); never raises."""
    from handoff.repo.git import run_in

    return run_in(cwd, *args, timeout=timeout)


def __getattr__(name: str) -> object:
    if name == "Git":
        from handoff.repo.git import Git

        return Git
    raise AttributeError(name)
