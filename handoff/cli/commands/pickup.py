"""`pickup`: check out a session's pull request head in a local branch."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from handoff.app.settings import load_settings
from handoff.cli.options import api_options, json_option
from handoff.cli.render import Output
from handoff.errors import UsageError

if TYPE_CHECKING:
    from handoff.pickup import PickupResult


@click.command()
@click.argument("session")
@click.option("--stash", "use_stash", is_flag=True,
              help="Stash local changes (including untracked files) instead of refusing on a dirty tree.")
@click.option("--branch", "branch", default=None, metavar="NAME",
              help="Local branch to create or fast-forward (default devin/<session id>).")
@api_options
@json_option
def pickup(session: str, use_stash: bool, branch: str | None, api_url: str | None, org_id: str | None,
           user_id: str | None, json_mode: bool) -> int:
    """Fetch the session's PR head into a local branch and check it out.

    SESSION is a session id (with or without `devin-`) or its URL. GitHub pull requests and
    GitLab merge requests are supported. A dirty tree is refused unless --stash; an existing
    branch is only fast-forwarded, never rewritten.
    """
    from handoff import pickup as picker
    from handoff.app.launch import open_client
    from handoff.devin.ids import normalize_session_id

    out = Output(json_mode)
    session_id = normalize_session_id(session)
    root = picker.repo_root()
    settings = load_settings(api_url=api_url, org_id=org_id, user_id=user_id, cwd=root, creates_sessions=False)
    settings.require_key()
    with open_client(settings) as client:
        found = client.get(session_id)
    if not found.pull_requests:
        raise UsageError(f"session {session_id} has no pull request yet",  # nothing to pick up: a refusal
                            f"check on it with `devin-handoff status {session_id}`")
    pr_url = found.pull_requests[-1].url  # the newest one, when Devin opened several
    pr = picker.parse_pr_url(pr_url, extra_hosts=picker.remote_host_kinds(picker.remotes(root)))
    target = branch or picker.default_branch_name(session_id)
    result = picker.pickup(root, pr, session_id=session_id, branch=target, use_stash=use_stash)
    _report(out, session_id, pr_url, result)
    return 0


def _report(out: Output, session_id: str, pr_url: str, result: PickupResult) -> None:
    if result.stashed:
        out.say(f"your local changes were stashed (\"devin-handoff pickup {session_id}\"); "
                "get them back with `git stash pop` on the branch you were on", "yellow")
    if result.created:
        action = "created"
    elif result.previous == result.head or result.ahead:
        action = "already up to date:"
    else:
        action = "fast-forwarded"
    out.say(f"{action} {result.branch} at {result.head[:12]} from {result.remote} ({pr_url})", "green")
    if result.ahead:
        out.say(f"note: {result.branch} has {result.ahead} local commit(s) beyond the PR head; they were kept")
    if out.json_mode:
        out.json({"session_id": session_id, "pr_url": pr_url, "branch": result.branch, "head": result.head,
                  "stashed": result.stashed})
