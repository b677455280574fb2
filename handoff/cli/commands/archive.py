"""`archive`: archive a session (v3 `cog_` keys)."""

from __future__ import annotations

import click

from handoff.cli.options import api_options, json_option
from handoff.cli.render import Output
from handoff.cli.sessions import one_shot_client, session_id, settings_with_key


@click.command()
@click.argument("session_ref", metavar="ID")
@api_options
@json_option
def archive(session_ref: str, api_url: str | None, org_id: str | None, user_id: str | None, json_mode: bool) -> int:
    """Archive a session (v3 `cog_` keys): it stays viewable but can no longer be continued."""
    out = Output(json_mode)
    sid = session_id(session_ref)
    with one_shot_client(settings_with_key(api_url, org_id, user_id)) as client:  # v1: the dialect refuses
        session = client.archive(sid)
    out.say(f"archived {sid}", "green")
    out.result(session.to_json() if session is not None else {"session_id": sid, "archived": True}, None)
    return 0
