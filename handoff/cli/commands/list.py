"""`list`: handoff sessions, the local journal joined with the API."""

from __future__ import annotations

from typing import Any

import click

from handoff.app.sessions import list_handoffs
from handoff.app.settings import load_settings
from handoff.cli.options import api_options, json_option
from handoff.cli.render import Output

_NEEDS_YOU = ("waiting_for_user", "waiting_for_approval", "asleep", "suspended")


def _list_text(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no handoff sessions yet"
    lines = []
    for row in rows:
        state = row["status"] or "?"
        if row["status_detail"]:
            state += f"/{row['status_detail']}"
        if not row["live"]:
            state += " (saved)"
        title = (row["title"] or "")[:60]
        lines.append(f"{row['session_id']:<40} {state:<28} {title}")
        for pr in row["pull_requests"]:
            lines.append(f"{'':<40} pr: {pr}")
        if row["next_step"] and row["outcome"] in _NEEDS_YOU:
            lines.append(f"{'':<40} {row['next_step']}")
    return "\n".join(lines)


@click.command("list")
@api_options
@json_option
def list_sessions(api_url: str | None, org_id: str | None, user_id: str | None, json_mode: bool) -> int:
    """Handoff sessions: the local journal joined with the API (live status when it answers)."""
    out = Output(json_mode)
    listing = list_handoffs(load_settings(api_url=api_url, org_id=org_id, user_id=user_id, creates_sessions=False))
    if listing.warning and listing.auth_error is None:  # an auth error gets its own line at the end
        out.warn(f"showing the local journal only: {listing.warning}")
    data = listing.to_json()
    out.result(data, _list_text(data["sessions"]))
    if listing.auth_error is not None:
        raise listing.auth_error
    return 0
