"""`status`: one look at a session."""

from __future__ import annotations

import click

from handoff.app.sessions import Snapshot, look
from handoff.cli.options import api_options, json_option
from handoff.cli.render import Output
from handoff.cli.sessions import one_shot_client, session_id, settings_with_key


def _status_text(snapshot: Snapshot) -> str:
    session = snapshot.session
    detail = f" ({session.status_detail})" if session.status_detail else ""
    lines = [f"{session.session_id}  {session.status}{detail}"]
    if session.outcome:
        lines.append(f"outcome: {session.outcome}")
    if snapshot.next_step:
        lines.append(f"next:    {snapshot.next_step}")
    if session.title:
        lines.append(f"title:   {session.title}")
    lines.append(f"url:     {session.url}")
    lines.extend(f"pr:      {pr.url}" for pr in session.pull_requests)
    if snapshot.last_devin_message:
        text = snapshot.last_devin_message.rstrip().splitlines() or [""]
        lines.append(f"last:    {text[0]}")
        lines.extend(f"         {line}" for line in text[1:])
    return "\n".join(lines)


@click.command()
@click.argument("session_ref", metavar="ID")
@api_options
@json_option
def status(session_ref: str, api_url: str | None, org_id: str | None, user_id: str | None, json_mode: bool) -> int:
    """One look at a session: status, detail, PR, last Devin message, URL."""
    out = Output(json_mode)
    sid = session_id(session_ref)
    with one_shot_client(settings_with_key(api_url, org_id, user_id)) as client:
        snapshot = look(client, sid)
    out.result(snapshot.to_json(), _status_text(snapshot))
    return 0
