"""`retry`: send handoffs kept in the outbox (a create that failed, was interrupted, or is not confirmed)."""

from __future__ import annotations

from typing import Any

import click

from handoff.app.settings import load_settings
from handoff.cli.interrupts import Interrupted, interruptible
from handoff.cli.options import api_options, json_option
from handoff.cli.render import Output


def _show(event: Any, out: Output) -> None:
    from handoff.app.retry import RetryFailed, RetrySent, RetrySkipped, RetryWaiting

    if isinstance(event, RetrySent):
        how = "found (an earlier attempt had landed)" if event.found else "sent"
        out.say(f"{event.handoff_id}: {how}: Devin session {event.session.url}", "green")
    elif isinstance(event, RetryWaiting):
        out.say(f"{event.handoff_id}: an earlier attempt may still land; looking it up for {event.seconds:.0f} s "
                "before sending it again…", "dim")
    elif isinstance(event, RetrySkipped):
        out.say(f"{event.handoff_id}: skipped: {event.reason}", "dim")
    elif isinstance(event, RetryFailed):
        out.warn(f"{event.handoff_id}: {event.error}")


@click.command()
@click.argument("handoff_id", required=False)
@api_options
@json_option
@interruptible("interrupted", "run `devin-handoff retry` again: a handoff not confirmed sent stays in the outbox")
def retry(handoff_id: str | None, api_url: str | None, org_id: str | None, user_id: str | None,
          json_mode: bool) -> int:
    """Send handoffs kept in the outbox: their create failed, was interrupted, or is not confirmed.

    Each is looked up by its handoff tag first, and never sent while an earlier attempt may still
    land, so a create that did reach Devin is never duplicated; one process at a time sends a
    handoff (others skip it). HANDOFF_ID (the `handoff-…` tag) picks one; without it, all are sent.
    """
    from handoff.app.retry import retry_outbox

    out = Output(json_mode)
    settings = load_settings(api_url=api_url, org_id=org_id, user_id=user_id)
    settings.require_key()
    try:
        result = retry_outbox(settings, handoff_id, lambda event: _show(event, out))
    except KeyboardInterrupt:
        raise Interrupted("interrupted; every handoff not confirmed sent stays in the outbox",
                          f"resume with: devin-handoff retry{' ' + handoff_id if handoff_id else ''}") from None
    if not result.sent and not result.failed and not result.skipped:
        out.say("nothing to retry: the outbox is empty")
    if out.json_mode:
        out.json(result.to_json())
    if result.failed:
        raise result.failed[-1].error
    return 0
