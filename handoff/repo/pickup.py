"""The git side of `pickup`: fetch a PR's head through a scratch ref, check the tree is safe to leave,
stash on request, create or fast-forward the branch and switch to it. Nothing the user wrote is overwritten.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Protocol

from handoff.errors import HandoffError, UsageError
from handoff.repo.git import Git, decode, last_line

GIT_TIMEOUT = 300  # seconds; a fetch of a big PR over a slow link can take a while

SCRATCH_REF = "refs/devin-handoff/pickup"


class PullRef(Protocol):
    url: str
    slug: str
    fetch_ref: str


@dataclass(frozen=True)
class _Done:
    returncode: int
    stdout: str
    stderr: str


def _git(root: str, *args: str, check: bool = True) -> _Done:
    """One git command for pickup (it writes: no read-only environment), bounded by GIT_TIMEOUT."""
    try:
        status, out, err = Git(root, quiet=False).run(*args, env={"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"},
                                                      timeout=GIT_TIMEOUT)
    except UsageError:
        raise HandoffError("git is not installed", "install git and try again") from None
    if "Timeout: the command" in err and status != 0:
        raise HandoffError(f"git {args[0]} took longer than {GIT_TIMEOUT} s", "check the network and retry")
    if check and status != 0:
        raise HandoffError(f"git {args[0]} failed: {last_line(err)}")
    return _Done(status, decode(out), err)


def repo_root(path: str | None = None) -> str:
    done = _git(path or os.getcwd(), "rev-parse", "--show-toplevel", check=False)
    if done.returncode != 0:
        raise UsageError("not in a git repository", "run pickup inside a checkout of the session's repository")
    return done.stdout.strip()


def remotes(root: str) -> dict[str, str]:
    """Remote name -> configured URL (as written in git config, before insteadOf rewriting)."""
    done = _git(root, "config", "--get-regexp", r"^remote\..*\.url$", check=False)
    found: dict[str, str] = {}
    for line in done.stdout.splitlines():
        key, _, value = line.partition(" ")
        name = key[len("remote."):-len(".url")]
        found.setdefault(name, value.strip())
    return found


def check_branch_name(root: str, branch: str) -> None:
    done = _git(root, "check-ref-format", "--branch", branch, check=False)
    if done.returncode != 0 or branch.startswith("-"):
        raise UsageError(f"not a valid branch name: {branch!r}", "pass another --branch NAME")


def _status(root: str) -> tuple[list[str], list[str]]:
    """(tracked paths with changes, untracked files) from `git status`."""
    done = _git(root, "status", "--porcelain=v1", "-z", "--untracked-files=all")
    tracked: list[str] = []
    untracked: list[str] = []
    entries = iter(done.stdout.split("\0"))
    for entry in entries:
        if len(entry) < 4:
            continue
        code, path = entry[:2], entry[3:]
        if code == "??":
            untracked.append(path)
        elif code == "!!":
            continue
        else:
            tracked.append(path)
            if code[0] in "RC":
                next(entries, None)  # the rename's source path follows as its own entry
    return tracked, untracked


def _files_at(root: str, commit: str) -> set[str]:
    done = _git(root, "ls-tree", "-r", "-z", "--name-only", commit)
    return {name for name in done.stdout.split("\0") if name}


def _current_branch(root: str) -> str | None:
    done = _git(root, "symbolic-ref", "--quiet", "--short", "HEAD", check=False)
    return (done.stdout.strip() or None) if done.returncode == 0 else None


def _branch_commit(root: str, branch: str) -> str | None:
    done = _git(root, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}^{{commit}}", check=False)
    return (done.stdout.strip() or None) if done.returncode == 0 else None


def _is_ancestor(root: str, older: str, newer: str) -> bool:
    return _git(root, "merge-base", "--is-ancestor", older, newer, check=False).returncode == 0


def fetch_pr_head(root: str, remote: str, pr: PullRef) -> str:
    """Fetch the PR's head commit through a scratch ref (removed again); return its sha."""
    done = _git(root, "fetch", "--quiet", "--no-tags", remote, f"+{pr.fetch_ref}:{SCRATCH_REF}", check=False)
    if done.returncode != 0:
        reason = last_line(done.stderr)
        if "couldn't find remote ref" in done.stderr.lower():
            raise HandoffError(f"{remote} has no {pr.fetch_ref} for {pr.url}",
                               f"check that {remote} is {pr.slug} and that the PR still exists")
        raise HandoffError(f"could not fetch {pr.fetch_ref} from {remote}: {reason}",
                           f"check your access to {pr.slug} and the network, then retry")
    sha = _git(root, "rev-parse", "--verify", f"{SCRATCH_REF}^{{commit}}").stdout.strip()
    _git(root, "update-ref", "-d", SCRATCH_REF, check=False)
    return sha


def dirty_reason(root: str, incoming: str) -> str | None:
    """Why switching to `incoming` could lose local work, or None when the tree is safe to leave."""
    tracked, untracked = _status(root)
    if tracked:
        shown = ", ".join(tracked[:3]) + (" …" if len(tracked) > 3 else "")
        return f"uncommitted changes in {len(tracked)} file(s) ({shown})"
    clashing = sorted(set(untracked) & _files_at(root, incoming))
    if clashing:
        shown = ", ".join(clashing[:3]) + (" …" if len(clashing) > 3 else "")
        return f"untracked file(s) the checkout would overwrite ({shown})"
    return None


def stash(root: str, session_id: str) -> None:
    _git(root, "stash", "push", "--include-untracked", "-m", f"devin-handoff pickup {session_id}")


def _count(root: str, spec: str) -> int:
    done = _git(root, "rev-list", "--count", spec, check=False)
    return int(done.stdout.strip() or 0) if done.returncode == 0 else 0


def switch_to(root: str, branch: str, head: str) -> tuple[bool, str | None, int]:
    """Create `branch` at `head`, or fast-forward it, and check it out.

    Returns (created, previous commit, local commits ahead of head). A branch that has
    diverged from the PR head is never moved: the caller is told how to proceed.
    """
    previous = _branch_commit(root, branch)
    current = _current_branch(root)
    if previous is None:
        _checkout(root, "-b", branch, head)
        return True, None, 0
    ahead = 0
    if previous != head:
        if _is_ancestor(root, previous, head):
            if current == branch:
                _run_checkout_step(root, "merge", "--ff-only", "--quiet", head)
                return False, previous, 0
            _git(root, "branch", "--force", branch, head)
        elif _is_ancestor(root, head, previous):
            ahead = _count(root, f"{head}..{previous}")  # already contains the PR head; keep local commits
        else:
            raise HandoffError(
                f"branch {branch} has commits that are not in the PR head, so it cannot be fast-forwarded",
                f"pick another name with --branch NAME, or replace it: git branch --force {branch} {head[:12]}")
    if current != branch:
        _checkout(root, branch)
    return False, previous, ahead


def _checkout(root: str, *args: str) -> None:
    _run_checkout_step(root, "checkout", "--quiet", *args)


def _run_checkout_step(root: str, *args: str) -> None:
    done = _git(root, *args, check=False)
    if done.returncode != 0:
        raise HandoffError(f"git {args[0]} failed: {last_line(done.stderr)}",
                           "commit or move the files git names, or pass --stash, then retry")
