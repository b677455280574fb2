"""Bring a session's work back: fetch its PR head into a local branch and check it out.

Git is driven through subprocess (plain `git` calls, no GitPython needed): fetch the PR's
head ref (`pull/N/head` on GitHub, `merge-requests/N/head` on GitLab) from the remote that
hosts the PR's repo, then create or fast-forward the branch and switch to it. A dirty tree is
refused unless the caller asks to stash it; nothing the user wrote is ever overwritten.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from urllib.parse import urlsplit

from handoff.errors import HandoffError, UsageError

GIT_TIMEOUT = 300  # seconds; a fetch of a big PR over a slow link can take a while

SCRATCH_REF = "refs/devin-handoff/pickup"

KNOWN_HOSTS = {"github.com": "github", "gitlab.com": "gitlab"}


@dataclass(frozen=True)
class PrRef:
    """A pull/merge request, parsed from its web URL."""

    url: str
    kind: str       # "github" | "gitlab"
    host: str
    slug: str       # owner/repo, or group/sub/repo on GitLab
    number: int

    @property
    def fetch_ref(self) -> str:
        """The ref the hosting service publishes for the request's head commit."""
        if self.kind == "gitlab":
            return f"refs/merge-requests/{self.number}/head"
        return f"refs/pull/{self.number}/head"


@dataclass(frozen=True)
class PickupResult:
    branch: str
    head: str
    remote: str
    stashed: bool
    created: bool          # the branch did not exist before
    previous: str | None   # the branch's commit before, when it existed
    ahead: int = 0         # local commits on the branch beyond the PR head (kept)


_GITHUB_PATH = re.compile(r"^/(?P<slug>[^/]+/[^/]+)/pull/(?P<num>\d+)(?:/.*)?$")
_GITLAB_PATH = re.compile(r"^/(?P<slug>[^/]+(?:/[^/]+)+?)/-/merge_requests/(?P<num>\d+)(?:/.*)?$")


def parse_pr_url(url: str, extra_hosts: dict[str, str] | None = None) -> PrRef:
    """Parse a GitHub pull request or GitLab merge request URL.

    `extra_hosts` maps further host names (self-hosted instances the repo's remotes point at)
    to "github" or "gitlab". Any other host is a UsageError: we would not know which ref to fetch.
    """
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    kinds = {**KNOWN_HOSTS, **(extra_hosts or {})}
    kind = kinds.get(host)
    if parts.scheme not in ("http", "https") or kind is None:
        raise UsageError(f"cannot pick up {url}: only GitHub and GitLab pull requests are supported",
                         "fetch the PR branch by hand with git")
    pattern = _GITLAB_PATH if kind == "gitlab" else _GITHUB_PATH
    match = pattern.match(parts.path)
    if match is None:
        expected = ".../-/merge_requests/N" if kind == "gitlab" else ".../owner/repo/pull/N"
        raise UsageError(f"not a pull request URL: {url}", f"expected {expected}")
    slug = match.group("slug").removesuffix(".git")
    return PrRef(url=url.strip(), kind=kind, host=host, slug=slug, number=int(match.group("num")))


def remote_slug(url: str) -> tuple[str | None, str | None]:
    """(host, owner/repo) of a remote URL: https://, ssh://, scp-like git@host:owner/repo(.git)."""
    url = url.strip()
    if "://" in url:
        parts = urlsplit(url)
        host, path = parts.hostname, parts.path
    else:
        match = re.match(r"^(?:[^@/]+@)?(?P<host>[^:/]+):(?P<path>.+)$", url)
        if match is None:
            return None, None  # a local path
        host, path = match.group("host"), match.group("path")
    slug = path.strip("/").removesuffix(".git").strip("/")
    return (host.lower() if host else None), (slug or None)


# -- git plumbing -----------------------------------------------------------------------------------

def _git(root: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    try:
        done = subprocess.run(["git", *args], cwd=root, env=env, capture_output=True, text=True,
                              timeout=GIT_TIMEOUT, check=False)
    except FileNotFoundError:
        raise HandoffError("git is not installed", "install git and try again") from None
    except subprocess.TimeoutExpired:
        raise HandoffError(f"git {args[0]} took longer than {GIT_TIMEOUT} s", "check the network and retry") from None
    if check and done.returncode != 0:
        raise HandoffError(f"git {args[0]} failed: {_last_line(done.stderr)}")
    return done


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    meaningful = [line for line in lines if line.lower().startswith(("fatal", "error"))]
    return (meaningful or lines or ["(no output)"])[-1]


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


def remote_host_kinds(remote_urls: dict[str, str]) -> dict[str, str]:
    """Hosts of the repo's remotes whose name says GitHub or GitLab (self-hosted instances)."""
    kinds: dict[str, str] = {}
    for url in remote_urls.values():
        host, _ = remote_slug(url)
        if host and "gitlab" in host:
            kinds[host] = "gitlab"
        elif host and "github" in host:
            kinds[host] = "github"
    return kinds


def choose_remote(pr: PrRef, remote_urls: dict[str, str]) -> str:
    """The remote whose repo is the PR's (same host and slug, case-insensitive), else origin."""
    wanted = (pr.host, pr.slug.lower())
    for name, url in sorted(remote_urls.items(), key=lambda item: item[0] != "origin"):
        host, slug = remote_slug(url)
        if (host, (slug or "").lower()) == wanted:
            return name
    if "origin" in remote_urls:
        return "origin"
    if not remote_urls:
        raise UsageError("this repository has no remote to fetch the PR from",
                         f"add one: git remote add origin https://{pr.host}/{pr.slug}.git")
    raise UsageError(f"no remote of this repository points at {pr.slug}",
                     f"add one: git remote add devin https://{pr.host}/{pr.slug}.git")


def default_branch_name(session_id: str) -> str:
    return f"devin/{session_id.removeprefix('devin-')}"


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


def fetch_pr_head(root: str, remote: str, pr: PrRef) -> str:
    """Fetch the PR's head commit through a scratch ref (removed again); return its sha."""
    done = _git(root, "fetch", "--quiet", "--no-tags", remote, f"+{pr.fetch_ref}:{SCRATCH_REF}", check=False)
    if done.returncode != 0:
        reason = _last_line(done.stderr)
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
        raise HandoffError(f"git {args[0]} failed: {_last_line(done.stderr)}",
                           "commit or move the files git names, or pass --stash, then retry")


def pickup(root: str, pr: PrRef, *, session_id: str, branch: str, use_stash: bool) -> PickupResult:
    """Fetch the PR head and check it out in `branch`; refuse on a dirty tree unless `use_stash`."""
    check_branch_name(root, branch)
    remote_urls = remotes(root)
    remote = choose_remote(pr, remote_urls)
    head = fetch_pr_head(root, remote, pr)
    already_there = _current_branch(root) == branch and _branch_commit(root, branch) == head
    reason = None if already_there else dirty_reason(root, head)
    stashed = False
    if reason and not use_stash:
        raise HandoffError(f"refusing to switch branches: {reason}",
                           "commit them, or pass --stash to stash them (get them back with `git stash pop`)")
    if reason:
        stash(root, session_id)
        stashed = True
    try:
        created, previous, ahead = switch_to(root, branch, head)
    except HandoffError as exc:
        if stashed:
            exc.hint = (f"{exc.hint}; " if exc.hint else "") + "your changes are in `git stash list` (pop them back)"
        raise
    return PickupResult(branch=branch, head=head, remote=remote, stashed=stashed, created=created,
                        previous=previous, ahead=ahead)
