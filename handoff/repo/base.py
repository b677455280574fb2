"""The base: the newest commit of HEAD's history that the remote Devin will clone has.

The rule (also in docs/ARCHITECTURE.md): the remote is the branch's upstream remote, else `origin`, else
the only remote (`remote.choose_remote`). What that remote has is read from its remote-tracking refs
(`refs/remotes/<remote>/*`). When they are missing (never fetched) or may be stale (HEAD has commits they do
not hold), the remote itself is asked with `git ls-remote --heads --tags`, bounded in time, never prompting
(GIT_TERMINAL_PROMPT=0, ssh BatchMode); `offline` skips that. The base is then found by walking HEAD's
first-parent line down to the first commit the remote has; the commits above it are the unpushed ones.
The facts name the remote, the ref that holds the base, and where that knowledge came from.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from handoff.repo.git import Git, decode, last_line
from handoff.repo.models import Commit

MAX_LISTED_COMMITS = 1000
LS_REMOTE_TIMEOUT = 10.0        # seconds; a remote that does not answer by then is treated as unreachable
_MAX_REF_CHECKS = 20            # `merge-base --is-ancestor` calls spent on naming the ref that holds the base


@dataclass(frozen=True)
class RemoteTip:
    ref: str                    # as the remote names it: refs/heads/main, refs/tags/v1
    sha: str


@dataclass(frozen=True)
class History:
    base: str | None
    unpushed: tuple[Commit, ...]     # carried in the patch (empty when base is None)
    unpushed_total: int
    base_ref: str | None = None
    source: str | None = None        # "remote-tracking" | "ls-remote"
    warnings: tuple[str, ...] = ()


def read_history(git: Git, head: str | None, remote: str | None, *, upstream_ref: str | None = None,
                 offline: bool = False, timeout: float | None = None) -> History:
    """Base and unpushed commits of `head` against `remote` (see the module docstring for the rule).

    `upstream_ref` is the branch's upstream as the remote names it (refs/heads/main) when it is on `remote`.
    """
    if head is None or remote is None:
        return History(None, (), 0)
    tips = tracking_tips(git, remote)
    source, warnings = "remote-tracking", []
    walk = _walk(git, head, [tip.sha for tip in tips])
    if walk.commits and not offline:
        asked, problem = ls_remote(git, remote, LS_REMOTE_TIMEOUT if timeout is None else timeout)
        if asked is None:
            known_from = "its remote-tracking refs, which may be stale" if tips else "nothing: it was never fetched"
            warnings.append(f"could not ask '{remote}' what it has ({problem}); the base comes from {known_from}")
        else:
            known = _known_commits(git, [tip.sha for tip in asked])
            tips, source = _merge_tips(asked, known, tips), "ls-remote"
            walk = _walk(git, head, [tip.sha for tip in tips])
            if unknown := len({tip.sha for tip in asked} - known):
                warnings.append(f"'{remote}' has {unknown} ref tip(s) this clone has not fetched; "
                                f"`git fetch {remote}` may show that more of your commits are already there")
    elif not tips:
        source = None
        if walk.commits:
            warnings.append(f"'{remote}' was never fetched (no remote-tracking refs) and --offline is set: "
                            "nothing is known to be on it")
    return _history(git, head, remote, walk, tips, upstream_ref, source, warnings)


def _merge_tips(asked: Sequence[RemoteTip], known: set[str], tracked: Sequence[RemoteTip]) -> list[RemoteTip]:
    """The remote's refs as it answered; a ref whose new tip this clone lacks (the remote moved ahead) keeps
    its remote-tracking tip, which the remote still holds after a fast-forward. Refs it no longer has are gone."""
    last_seen = {tip.ref: tip for tip in tracked}
    merged = []
    for tip in asked:
        if tip.sha in known:
            merged.append(tip)
        elif tip.ref in last_seen:
            merged.append(last_seen[tip.ref])
    return merged


@dataclass(frozen=True)
class _Walk:
    commits: list[Commit]
    parents: dict[str, list[str]]
    excluded: tuple[str, ...]


def _walk(git: Git, head: str, remote_shas: Sequence[str]) -> _Walk:
    """Commits of HEAD's history that none of `remote_shas` holds (newest first, at most MAX_LISTED + 1)."""
    excluded = tuple(dict.fromkeys(remote_shas))
    out = git.feed("log", "--no-show-signature", "--no-color", "--format=%H %P%x00%s", "-z",
                   f"--max-count={MAX_LISTED_COMMITS + 1}", head, "--stdin", "--",
                   data="".join(f"^{sha}\n" for sha in excluded).encode())
    parents: dict[str, list[str]] = {}
    commits: list[Commit] = []
    fields = out.split(b"\0")
    for ids, subject in zip(fields[0::2], fields[1::2], strict=False):
        sha, *parent_ids = decode(ids).strip().split()
        parents[sha] = parent_ids
        commits.append(Commit(sha, decode(subject).strip()))
    return _Walk(commits, parents, excluded)


def _history(git: Git, head: str, remote: str, walk: _Walk, tips: Sequence[RemoteTip], upstream_ref: str | None,
             source: str | None, warnings: list[str]) -> History:
    if not walk.commits:
        base_ref = _ref_holding(git, head, tips, upstream_ref)
        return History(head, (), 0, base_ref, source, tuple(warnings))
    listed_all = len(walk.commits) <= MAX_LISTED_COMMITS
    base = _first_known_ancestor(head, walk.parents)
    if base is not None and not listed_all and not _has(git, base, walk.excluded):
        base = None
    if base is not None and not walk.excluded:
        base = None   # a root commit reached without any remote tip: nothing is known to be on the remote
    if base is None:
        return History(None, (), len(walk.commits), None, source, tuple(warnings))
    return History(base, tuple(walk.commits[:MAX_LISTED_COMMITS]), len(walk.commits),
                   _ref_holding(git, base, tips, upstream_ref), source, tuple(warnings))


def _first_known_ancestor(head: str, unpushed_parents: dict[str, list[str]]) -> str | None:
    commit: str | None = head
    while commit is not None and commit in unpushed_parents:
        first_parents = unpushed_parents[commit]
        commit = first_parents[0] if first_parents else None
    return commit


def _has(git: Git, commit: str, remote_shas: Sequence[str]) -> bool:
    """Whether `commit` is reachable from one of `remote_shas`."""
    out = git.feed("rev-list", "--max-count=1", commit, "--stdin", "--",
                   data="".join(f"^{sha}\n" for sha in remote_shas).encode())
    return not out.strip()


def _ref_holding(git: Git, commit: str, tips: Sequence[RemoteTip], upstream_ref: str | None) -> str | None:
    """The remote's ref that holds `commit`: the upstream branch first, then the default branch, then any."""
    def rank(tip: RemoteTip) -> tuple[bool, bool]:
        return tip.ref != upstream_ref, tip.ref not in ("refs/heads/main", "refs/heads/master")

    ordered = sorted((tip for tip in tips if tip.ref != "HEAD"), key=rank)
    for tip in ordered:
        if tip.sha == commit:
            return tip.ref
    for tip in ordered[:_MAX_REF_CHECKS]:
        if git.ok("merge-base", "--is-ancestor", commit, tip.sha):
            return tip.ref
    return None


# ---------------------------------------------------------------------------------------------
# What the remote has


def tracking_tips(git: Git, remote: str) -> list[RemoteTip]:
    """The remote's branches as this clone last saw them (refs/remotes/<remote>/*), named as the remote names them."""
    prefix = f"refs/remotes/{remote}/"
    out = git.out("for-each-ref", "--format=%(objectname) %(refname)", prefix)
    tips = []
    for line in decode(out).splitlines():
        sha, _, ref = line.partition(" ")
        name = ref.removeprefix(prefix)
        tips.append(RemoteTip("HEAD" if name == "HEAD" else f"refs/heads/{name}", sha))
    return tips


def ls_remote(git: Git, remote: str, timeout: float) -> tuple[list[RemoteTip] | None, str]:
    """(the remote's branch and tag tips, "") or (None, why not): bounded by `timeout`, never prompting."""
    status, out, err = git.run("ls-remote", "--heads", "--tags", "--", remote, env=_no_prompt_env(git),
                               timeout=timeout)
    if status != 0:
        reason = "no answer" if "Timeout" in err else last_line(err)
        return None, reason
    tips: dict[str, RemoteTip] = {}
    for line in decode(out).splitlines():
        sha, _, ref = line.partition("\t")
        if ref.endswith("^{}"):
            ref = ref[:-3]          # a peeled tag: the commit it points at wins over the tag object
        elif ref in tips:
            continue
        tips[ref] = RemoteTip(ref, sha.strip())
    return list(tips.values()), ""


def _no_prompt_env(git: Git) -> dict[str, str]:
    env = {"GIT_TERMINAL_PROMPT": "0", "GCM_INTERACTIVE": "never", "GIT_ASKPASS": "", "SSH_ASKPASS": ""}
    if not os.environ.get("GIT_SSH_COMMAND") and not os.environ.get("GIT_SSH"):
        status, _, _ = git.run("config", "core.sshCommand")
        if status != 0:  # no command of the user's own: ssh must fail rather than ask for a passphrase
            env["GIT_SSH_COMMAND"] = "ssh -o BatchMode=yes"
    return env


def _known_commits(git: Git, shas: Iterable[str]) -> set[str]:
    """The subset of `shas` that this clone has as commits (one `cat-file --batch-check`)."""
    unique = list(dict.fromkeys(shas))
    if not unique:
        return set()
    out = git.feed("cat-file", "--batch-check=%(objectname) %(objecttype)",
                   data="".join(f"{sha}\n" for sha in unique).encode())
    return {line.split(" ", 1)[0] for line in decode(out).splitlines() if line.endswith(" commit")}
