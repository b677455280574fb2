"""Bring a session's work back: fetch its PR head into a local branch and check it out.

This module knows pull requests (URLs, which remote hosts them, branch names); the git work is in
`handoff/repo/pickup.py`: fetch the PR's head ref (`pull/N/head` on GitHub, `merge-requests/N/head` on
GitLab) from the remote that hosts the PR's repo, then create or fast-forward the branch and switch to it.
A dirty tree is refused unless the caller asks to stash it; nothing the user wrote is ever overwritten.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from handoff.errors import HandoffError, UsageError
from handoff.lazy_regex import lazy_compile
from handoff.repo.pickup import (  # noqa: F401  (re-exported: the pickup command and tests use these names)
    GIT_TIMEOUT,
    SCRATCH_REF,
    _branch_commit,
    _current_branch,
    check_branch_name,
    dirty_reason,
    fetch_pr_head,
    remotes,
    repo_root,
    stash,
    switch_to,
)
from handoff.repo.remote import remote_slug

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


_GITHUB_PATH = lazy_compile(r"^/(?P<slug>[^/]+/[^/]+)/pull/(?P<num>\d+)(?:/.*)?$")
_GITLAB_PATH = lazy_compile(r"^/(?P<slug>[^/]+(?:/[^/]+)+?)/-/merge_requests/(?P<num>\d+)(?:/.*)?$")


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
    """The remote whose repo is the PR's (same host and slug, case-insensitive).

    No other remote will do: `pull/N/head` of another repository (a fork, an unrelated repo) is another
    pull request, so fetching it would check out someone else's work. Without a matching remote this is a
    refusal (exit 2) that says which remote to add."""
    wanted = (pr.host, pr.slug.lower())
    for name, url in sorted(remote_urls.items(), key=lambda item: item[0] != "origin"):
        host, slug = remote_slug(url)
        if (host, (slug or "").lower()) == wanted:
            return name
    add = f"git remote add devin https://{pr.host}/{pr.slug}.git"
    if not remote_urls:
        raise UsageError("this repository has no remote to fetch the PR from", f"add one: {add}")
    seen = ", ".join(f"{name} ({remote_slug(url)[1] or url})" for name, url in sorted(remote_urls.items()))
    raise UsageError(f"the session's PR is in {pr.host}/{pr.slug}, which no remote of this repository points at "
                     f"(remotes: {seen})", f"pick it up from a checkout of {pr.slug}, or add its remote: {add}")


def default_branch_name(session_id: str) -> str:
    return f"devin/{session_id.removeprefix('devin-')}"



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
        raise UsageError(f"refusing to switch branches: {reason}",  # a refusal: exit 2, like bad input
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
