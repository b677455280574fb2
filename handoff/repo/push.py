"""Pushing, and what a push sends: `create --push` and the git pre-push hook's outgoing diff."""

from __future__ import annotations

from handoff.errors import UsageError
from handoff.repo.git import Git, decode, last_line
from handoff.repo.models import RepoContext
from handoff.repo.remote import scrub_urls

ZERO_OID = "0" * 40


def push_branch(ctx: RepoContext) -> None:
    """Push HEAD's branch to the inspected remote (the one Devin clones) under the same name
    (--set-upstream when it has no upstream yet)."""
    if ctx.head is None:
        raise UsageError("nothing to push: the repository has no commits yet", "commit first")
    if ctx.branch is None:
        raise UsageError("cannot push a detached HEAD", "check out a branch first: git switch -c NAME")
    if ctx.remote_name is None:
        raise UsageError("no remote to push to", "add one: git remote add origin URL")
    args = ["push", *([] if ctx.upstream else ["--set-upstream"]), ctx.remote_name,
            f"refs/heads/{ctx.branch}:refs/heads/{ctx.branch}"]
    status, _, err = Git(ctx.root, quiet=False).run(*args)
    if status != 0:
        raise UsageError(f"git push to {ctx.remote_name} failed: {_push_message(err)}",
                         "fix the push and retry, or hand off without --push")


def _push_message(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines()
             if line.strip().startswith(("error:", "fatal:", "! [", "remote: error", "ERROR"))]
    return scrub_urls("; ".join(lines[:3])) if lines else last_line(stderr)


def outgoing_patch(root: str, local_oid: str, remote_oid: str, max_bytes: int) -> tuple[str, bool] | None:
    """The diff a pre-push sends for one ref update (`local_oid` replacing `remote_oid`), cut at a file
    boundary under `max_bytes`: (patch, cut). None when nothing new goes out."""
    git = Git(root)
    base = _outgoing_base(git, local_oid, remote_oid)
    if base == local_oid:
        return None
    from handoff.repo.layout import EMPTY_TREE

    object_format = decode(git.run("rev-parse", "--show-object-format")[1]).strip() or "sha1"
    against = base or EMPTY_TREE.get(object_format, EMPTY_TREE["sha1"])
    status, out, _ = git.run("diff", "--no-color", "--no-ext-diff", against, local_oid)
    patch = decode(out) if status == 0 else ""
    if len(patch) <= max_bytes:
        return patch, False
    cut = patch.rfind("\ndiff --git ", 0, max_bytes)
    return (patch[: cut + 1] if cut > 0 else patch[:max_bytes]), True


def _outgoing_base(git: Git, local_oid: str, remote_oid: str) -> str | None:
    """What the remote already has under this push: its old oid, else the parent of the oldest outgoing commit."""
    if remote_oid != ZERO_OID and git.ok("cat-file", "-e", f"{remote_oid}^{{commit}}"):
        return remote_oid
    status, out, _ = git.run("rev-list", "--reverse", local_oid, "--not", "--remotes")
    outgoing = decode(out).split() if status == 0 else []
    if not outgoing:
        return local_oid  # nothing new: an empty range
    status, out, _ = git.run("rev-parse", "--verify", "--quiet", f"{outgoing[0]}^")
    return decode(out).strip() or None if status == 0 else None   # None: a root commit, diff against the empty tree
