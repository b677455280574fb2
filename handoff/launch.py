"""Session launcher: post a prepared handoff, journal it, or keep it in the outbox when the API fails.

A create is never duplicated: each handoff carries a unique client tag, the API client resolves
ambiguous failures by looking the tag up, and `retry` looks it up again before sending.
"""

from __future__ import annotations

from typing import Any

from handoff import journal
from handoff.api import ApiError, DevinClient, Session, UnreachableError
from handoff.config import Settings
from handoff.errors import HandoffError
from handoff.prompt import HandoffRequest, body_for_version
from handoff.render import Output


def _record(session: Session, client_tag: str, settings: Settings, meta: dict[str, Any]) -> None:
    journal.record_session(journal.JournalEntry(
        session_id=session.session_id, url=session.url, client_tag=client_tag,
        title=str(meta.get("title") or session.title or ""), api_version=settings.api_version,
        api_url=settings.api_url, repo_slug=meta.get("repo_slug"), repo_root=meta.get("repo_root"),
        branch=meta.get("branch"), base=meta.get("base"), status=session.status,
        status_detail=session.status_detail,
    ))


def create_session(request: HandoffRequest, settings: Settings,
                   meta: dict[str, Any]) -> tuple[DevinClient, Session]:
    """Post the handoff. On failure the whole request goes to the outbox and the error is re-raised
    with a hint naming `devin-handoff retry`."""
    client = DevinClient(settings)
    body = body_for_version(request.body, client.version)
    try:
        session = client.create(body, client_tag=request.client_tag)
    except ApiError as exc:
        client.close()
        path = journal.save_outbox(request.client_tag, body, meta, api_url=settings.api_url,
                                   api_version=client.version, reason=exc.message)
        exc.hint = (f"{exc.hint}; " if exc.hint else "") + \
            f"the handoff was saved ({path.name}): send it with `devin-handoff retry {request.client_tag}`"
        raise
    except BaseException:
        client.close()
        raise
    _record(session, request.client_tag, settings, meta)
    return client, session


def _send_saved(client: DevinClient, item: journal.OutboxItem, settings: Settings) -> Session:
    found = client.list_sessions(tag=item.client_tag)
    if found:
        return found[0]  # the first attempt did reach Devin: never create a second session
    return client.create(body_for_version(item.body, client.version), client_tag=item.client_tag)


def retry_outbox(settings: Settings, out: Output, handoff_id: str | None) -> int:
    """Send saved handoffs (all, or the one whose tag is `handoff_id`); exit 0 when all went out."""
    items = journal.load_outbox()
    if handoff_id:
        items = [item for item in items if item.client_tag == handoff_id]
        if not items:
            raise HandoffError(f"no saved handoff {handoff_id}", "run `devin-handoff retry` to send all saved ones")
    if not items:
        out.say("nothing to retry: the outbox is empty")
        if out.json_mode:
            out.json({"sent": [], "failed": []})
        return 0
    sent: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    last_error: HandoffError | None = None
    with DevinClient(settings) as client:
        for item in items:
            try:
                session = _send_saved(client, item, settings)
            except UnreachableError as exc:
                last_error = exc
                failed.append({"handoff_id": item.client_tag, "error": str(exc)})
                out.warn(f"{item.client_tag}: {exc}")
                continue
            _record(session, item.client_tag, settings, item.meta)
            journal.remove_outbox(item.client_tag)
            sent.append({"handoff_id": item.client_tag, **session.to_json()})
            out.say(f"{item.client_tag}: Devin session {session.url}", "green")
    if out.json_mode:
        out.json({"sent": sent, "failed": failed})
    if last_error is not None:
        raise last_error
    return 0
