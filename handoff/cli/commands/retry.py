"""`retry`: send handoffs saved in the outbox because their create call failed."""

from __future__ import annotations

from typing import Any

import click

from handoff.app.settings import load_settings
from handoff.cli.options import api_options, json_option
from handoff.cli.render import Output


def _show(event: Any, out: Output) -> None:
    from handoff.app.handoff import RetrySent

    if isinstance(event, RetrySent):
        out.say(f"{event.handoff_id}: Devin session {event.session.url}", "green")
    else:
        out.warn(f"{event.handoff_id}: {event.error}")


@click.command()
@click.argument("handoff_id", required=False)
@api_options
@json_option
def retry(handoff_id: str | None, api_url: str | None, org_id: str | None, user_id: str | None,
          json_mode: bool) -> int:
    """Send handoffs saved in the outbox because their create call failed.

    Each is looked up by its handoff tag first, so a create that did reach Devin is never
    duplicated. HANDOFF_ID (the `handoff-…` tag) picks one; without it, all are sent.
    """
    from handoff.app.handoff import retry_outbox

    out = Output(json_mode)
    settings = load_settings(api_url=api_url, org_id=org_id, user_id=user_id)
    settings.require_key()
    result = retry_outbox(settings, handoff_id, lambda event: _show(event, out))
    if not result.sent and not result.failed:
        out.say("nothing to retry: the outbox is empty")
    if out.json_mode:
        out.json(result.to_json())
    if result.failed:
        raise result.failed[-1].error
    return 0
