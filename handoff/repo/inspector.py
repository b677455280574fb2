"""The inspector: what Devin needs to reproduce this checkout, and whether it can.

`inspect()` runs a handful of git commands through `git.Git` (each a few milliseconds): one `rev-parse` for
the layout, one `status --porcelain=v2` for branch, HEAD, upstream and untracked files, one `config` for the
remotes and the branch's upstream, the base walk (`base.py`; plus a bounded `ls-remote` when the
remote-tracking refs cannot answer), one `diff --raw` for files too large to diff (`large.py`), one
`add -N` into a scratch index (`untracked.py`), and one streamed `diff <base>` (`diff.py`). The user's
index and working tree are never written.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from handoff.errors import UsageError
from handoff.repo import base as base_rule
from handoff.repo import large
from handoff.repo.diff import read_diff
from handoff.repo.git import Git, decode
from handoff.repo.large import (
    large_tracked,
    large_tracked_change,
    large_untracked_change,
    set_aside_large,
)
from handoff.repo.layout import Layout, layout, start_dir
from handoff.repo.models import DEFAULT_MAX_DIFF_BYTES, FileChange, Problem, RepoContext, SkippedPath
from handoff.repo.remote import RemoteChoice, choose_remote, parse_remote_url, strip_credentials
from handoff.repo.untracked import index_with_untracked


def inspect(path: str | os.PathLike[str] | None = None, *, include_untracked: bool = True,
            max_diff_bytes: int = DEFAULT_MAX_DIFF_BYTES, offline: bool = False) -> RepoContext | None:
    """What Devin needs to reproduce the checkout at `path` (default: where the user stands).

    None outside a git work tree; UsageError for a bare or broken repository. Reads only: the index and
    working tree are left exactly as they were. `offline`: never ask the remote (`git ls-remote`).
    """
    if max_diff_bytes < 0:
        raise UsageError(f"the diff budget must be 0 or more bytes, not {max_diff_bytes}", "pass a positive size")
    where = layout(start_dir(path))
    if where is None:
        return None
    git = Git(where.root)
    with _collector_paused():
        status = read_status(git, include_untracked, where.root)
        remote = read_remote(git, status.branch)
        history = base_rule.read_history(git, status.head, remote.name, upstream_ref=remote.upstream_ref,
                                         offline=offline)
        patch_base = history.base or status.head
        files, untracked_warning = _changes(git, where, status, patch_base, include_untracked, max_diff_bytes)
        submodules = tuple(dict.fromkeys([*(f.path for f in files if f.status == "submodule"), *status.submodules]))
        problems = _problems(status, remote, history)
        warnings = [w for w in (remote.warning, *history.warnings, _history_warning(status, remote, history),
                                untracked_warning) if w]
        warnings += _change_warnings(files, submodules, status, include_untracked, max_diff_bytes)
        return RepoContext(
            root=where.root, remote_name=remote.name, remote_url=remote.url, host=remote.host, slug=remote.slug,
            branch=status.branch, head=status.head, base=history.base, upstream=status.upstream,
            unpushed=history.unpushed, patch_base=patch_base, patch=files.patch, files=tuple(files),
            total_diff_bytes=files.total, max_diff_bytes=max_diff_bytes, include_untracked=include_untracked,
            submodules=submodules, warnings=tuple(warnings), unpushed_total=history.unpushed_total,
            base_ref=history.base_ref, base_source=history.source, remote_choice=remote.why,
            problems=problems, skipped=tuple(status.skipped))


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cycle collector off while the per-file objects are made: they hold no cycles, and with 100k
    untracked files its full passes over all of them cost ~0.2 s (measured); it is back on when we return."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class _Files(list[FileChange]):
    patch: str = ""
    total: int = 0


def _changes(git: Git, where: Layout, status: Status, patch_base: str | None, include_untracked: bool,
             budget: int) -> tuple[_Files, str | None]:
    against = patch_base or where.empty_tree
    untracked, too_large = set_aside_large(where.root, status.untracked if include_untracked else [])
    # `diff --raw` finds tracked files too large to diff; with no tracked change and nothing unpushed there are none.
    tracked_large = large_tracked(git, where.root, against) if status.tracked_changed or against != status.head else []
    set_aside = [*too_large, *(os.fsencode(s.path) for s in status.skipped if s.kind == "nested repository")]
    with index_with_untracked(git, where.index_file, untracked, set_aside) as (env, warning):
        untracked_names = {decode(name) for name in untracked} if not warning else set()
        splitter, changes = read_diff(git, against, env, budget, exclude=[change.name for change in tracked_large],
                                      untracked=untracked_names)
    files = _Files(changes)
    files += [large_tracked_change(where.root, change) for change in tracked_large]
    files += [large_untracked_change(where.root, name) for name in too_large]
    files.patch, files.total = "".join(splitter.patch_parts), splitter.total
    return files, warning


# ---------------------------------------------------------------------------------------------
# Branch, HEAD, upstream, untracked files: one `git status`


@dataclass
class Status:
    head: str | None = None
    branch: str | None = None
    upstream: str | None = None
    untracked: list[bytes] = field(default_factory=list)
    skipped: list[SkippedPath] = field(default_factory=list)   # untracked folders git does not descend into
    submodules: list[str] = field(default_factory=list)        # submodules with any change
    tracked_changed: bool = False                               # any change to a tracked file, staged or not


def read_status(git: Git, include_untracked: bool, root: str) -> Status:
    out = git.out("status", "--porcelain=v2", "-z", "--branch", "--no-renames",
                  f"--untracked-files={'all' if include_untracked else 'normal'}")
    status = Status()
    tokens = iter(out.split(b"\0"))
    for token in tokens:
        kind = token[:2]
        if kind == b"# ":
            _status_header(status, decode(token[2:]))
        elif kind in (b"1 ", b"2 ", b"u "):
            status.tracked_changed = True
            fields = token.split(b" ", {b"1 ": 8, b"2 ": 9, b"u ": 10}[kind])
            if kind == b"2 ":
                next(tokens, None)  # the original path of a staged rename
            if fields[2].startswith(b"S"):
                status.submodules.append(decode(fields[-1]))
        elif kind == b"? ":
            name = token[2:]
            if name.endswith(b"/"):
                # With --untracked-files=all git lists a folder only when it holds its own repository;
                # with =normal (--no-untracked) a plain untracked folder is listed too: tell them apart.
                nested = os.path.exists(os.path.join(os.fsencode(root), name, b".git"))
                status.skipped.append(SkippedPath(decode(name), "nested repository" if nested else "untracked"))
            else:
                status.untracked.append(name)
    return status


def _status_header(status: Status, line: str) -> None:
    key, _, value = line.partition(" ")
    if key == "branch.oid" and value != "(initial)":
        status.head = value
    elif key == "branch.head" and value != "(detached)":
        status.branch = value
    elif key == "branch.upstream":
        status.upstream = value


# ---------------------------------------------------------------------------------------------
# The remote Devin clones: the branch's upstream remote, else origin, else the only remote


@dataclass(frozen=True)
class Remote:
    name: str | None
    url: str | None          # credentials, query and fragment stripped
    host: str | None
    slug: str | None
    why: str                 # see RemoteChoice.why
    upstream_ref: str | None  # the branch's upstream as the remote names it, when it is on this remote
    count: int               # how many remotes there are
    warning: str | None


def read_remote(git: Git, branch: str | None) -> Remote:
    # The configured URLs as written, without url.<base>.insteadOf rewriting (that may point at a mirror).
    status, out, _ = git.run("config", "-z", "--get-regexp", r"^(remote\..+\.url|branch\..+\.(remote|merge))$")
    urls: dict[str, str] = {}
    branch_config: dict[str, str] = {}
    for entry in out.split(b"\0") if status == 0 else []:
        key, _, value = decode(entry).partition("\n")
        if key.startswith("remote.") and key.endswith(".url"):
            urls.setdefault(key[len("remote."):-len(".url")], value)
        elif branch is not None and key in (f"branch.{branch}.remote", f"branch.{branch}.merge"):
            branch_config.setdefault(key.rsplit(".", 1)[1], value)
    choice = choose_remote(urls, branch_config.get("remote"))
    return _remote(choice, urls, branch_config)


def _remote(choice: RemoteChoice, urls: dict[str, str], branch_config: dict[str, str]) -> Remote:
    if choice.name is None:
        if not urls:
            return Remote(None, None, None, None, choice.why, None, 0, (
                "no git remote: Devin cannot clone this repository and gets only the patch; add a remote and push "
                "to share the history"))
        return Remote(None, None, None, None, choice.why, None, len(urls), (
            f"{len(urls)} remotes ({', '.join(sorted(urls))}) and none is the branch's upstream or 'origin': "
            "no repository is named"))
    upstream_ref = branch_config.get("merge") if branch_config.get("remote") == choice.name else None
    url = strip_credentials(urls[choice.name])
    host, slug = parse_remote_url(url)
    warning = None if slug else (f"remote '{choice.name}' ({url}) is not a hosted repository: Devin cannot clone "
                                 "it and gets only the patch")
    return Remote(choice.name, url, host, slug, choice.why, upstream_ref, len(urls), warning)


# ---------------------------------------------------------------------------------------------
# Can Devin rebuild this state?


def _problems(status: Status, remote: Remote, history: base_rule.History) -> tuple[Problem, ...]:
    allow = "or pass --allow-partial to send it anyway (the prompt says what is missing)"
    if remote.name is None and remote.count == 0:
        return (Problem("no-remote", "no git remote: Devin cannot clone this repository",
                        f"add one and push (git remote add origin URL; devin-handoff create --push), {allow}"),)
    if remote.name is None:
        return (Problem("no-remote", f"{remote.count} remotes and none is the branch's upstream or 'origin': "
                        "which repository Devin should clone is unknown",
                        f"set an upstream (git branch --set-upstream-to REMOTE/BRANCH), {allow}"),)
    problems = []
    if remote.slug is None:
        problems.append(Problem("remote-not-clonable", f"remote '{remote.name}' ({remote.url}) is not a hosted "
                                "repository Devin can clone", f"point it at the hosted repository, {allow}"))
    if status.head is None:
        problems.append(Problem("no-commits", "the repository has no commits yet: there is nothing on "
                                f"'{remote.name}' to start from", f"commit and push (--push), {allow}"))
    elif history.base is None:
        fix = ("push them (devin-handoff create --push)" if status.branch else
               "check out a branch and push it (git switch -c NAME; devin-handoff create --push)")
        problems.append(Problem("base-not-on-remote", f"none of HEAD's commits is known to be on '{remote.name}' "
                                f"({history.unpushed_total} local commit(s)): Devin cannot fetch the starting point",
                                f"{fix}, set an upstream that has them, {allow}"))
    return tuple(problems)


def _history_warning(status: Status, remote: Remote, history: base_rule.History) -> str | None:
    if history.base is not None or status.head is None or remote.name is None:
        return None
    count = (str(history.unpushed_total) if history.unpushed_total <= base_rule.MAX_LISTED_COMMITS
             else f"more than {base_rule.MAX_LISTED_COMMITS}")
    return (f"{count} local commit(s) are not on '{remote.name}' and are NOT carried: the patch holds only the "
            f"uncommitted changes on top of {status.head[:12]}; push first (devin-handoff create --push) or run "
            f"`git fetch {remote.name}` if they are already pushed")


def _names(paths: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(paths[:limit])
    return shown if len(paths) <= limit else f"{shown} and {len(paths) - limit} more"


def _change_warnings(files: Sequence[FileChange], submodules: Sequence[str], status: Status,
                     include_untracked: bool, budget: int) -> list[str]:
    warnings = []
    by_reason: dict[str, list[str]] = {}
    for change in files:
        if change.omitted_reason:
            by_reason.setdefault(change.omitted_reason, []).append(change.path)
    if over := by_reason.get("size budget"):
        warnings.append(f"{len(over)} changed file(s) left out of the patch to keep it under {budget} bytes "
                        f"(raise --max-diff-bytes to send more): {_names(over)}")
    if odd := by_reason.get("not UTF-8"):
        warnings.append(f"{len(odd)} file(s) left out because their diff is not UTF-8 text: {_names(odd)}")
    if too_large := by_reason.get("too large"):
        warnings.append(f"{len(too_large)} file(s) over {large.LARGE_FILE_BYTES / 1_000_000:g} MB are named but not "
                        f"carried (too large to diff): {_names(too_large)}")
    if binary := by_reason.get("binary"):
        warnings.append(f"{len(binary)} binary file(s) are named but not carried: {_names(binary)}")
    if submodules:
        warnings.append("submodule changes are named (new commit pointers only) but their content is not "
                        f"carried: {_names(list(submodules))}")
    plain = [s.path for s in status.skipped if s.kind == "untracked"]
    if not include_untracked and (status.untracked or plain):
        names = [decode(name) for name in status.untracked] + plain
        warnings.append(f"{len(names)} untracked file(s) or folder(s) are NOT carried (untracked files "
                        f"excluded): {_names(names)}")
    if nested := [s.path for s in status.skipped if s.kind == "nested repository"]:
        warnings.append(f"untracked nested repositories (folders with their own .git) are NOT carried: "
                        f"{_names(nested)}")
    return warnings
