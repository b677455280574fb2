"""`tail` (alias `poll`): follow a session until Devin stops."""

from __future__ import annotations

import click

from handoff.app.sessions import saved_cursor
from handoff.cli.following import follow_session
from handoff.cli.options import api_options, json_option
from handoff.cli.render import Output
from handoff.cli.sessions import one_shot_client, session_id, settings_with_key


@click.command()
@click.argument("session_ref", metavar="ID")
@click.option("--interval", type=click.FloatRange(min=1), default=10.0, show_default=True,
              help="Longest wait between polls (shorter right after activity).")
@click.option("--archive", is_flag=True, help="Archive the session when Devin stops (v3).")
@click.option("--all", "show_all", is_flag=True,
              help="Print every message, not only those after the last one shown before.")
@api_options
@json_option
def tail(session_ref: str, interval: float, archive: bool, show_all: bool, api_url: str | None, org_id: str | None,
         user_id: str | None, json_mode: bool) -> int:
    """Follow a session: each Devin message once, status changes, PR links, until Devin stops.

    ID is `devin-…`, the bare id or the session URL. Exit 0 when Devin finished, waits for your
    answer or approval, or is asleep; 1 when the session ended badly (error, stopped for credits or
    quota, expired); 130 on Ctrl-C (the next `tail` starts after the last message shown).
    """
    out = Output(json_mode)
    sid = session_id(session_ref)
    settings = settings_with_key(api_url, org_id, user_id)
    cursor = None if show_all else saved_cursor(sid, json_mode)  # `tail` and `tail --json` read apart
    if cursor:
        out.say("(resuming after the last message shown before; --all prints them all)", "dim")
    with one_shot_client(settings) as client:
        return follow_session(client, sid, out, interval=interval, archive=archive, cursor=cursor)
