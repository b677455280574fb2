"""The launch use case: outbox (write-ahead) → create → journal, never a duplicate session.

Write-ahead: the handoff is in the outbox (journal.py) before its create request goes out, with the
window in which that request may still land; it leaves the outbox only once its session is journalled.
So every interruption leaves a journal entry with the session URL, or an outbox entry that `retry`
resolves by looking its tag up first. A per-handoff lock lets one process at a time send it.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from handoff import journal
from handoff.config import Settings
from handoff.devin.dialect import body_for_version
from handoff.devin.errors import AmbiguousCreate, ApiError
from handoff.devin.models import Session
from handoff.notices import notice
from handoff.prompt import HandoffRequest
from handoff.runtime import Runtime

if TYPE_CHECKING:
    from handoff.app.bundle import PreparedBundle
    from handoff.devin.client import DevinClient

# A create attempt (its retries within the client's budget, plus one read timeout) may land this long after it
# started; after a clean interruption, a request already sent may still be processed for about a read timeout.
IN_FLIGHT_SECONDS = 90.0
AFTER_INTERRUPT_SECONDS = 30.0
LOOKUP_EVERY = 5.0      # seconds between tag lookups while an earlier attempt may still land


def open_client(settings: Settings, *, retry_budget: float = 60.0, runtime: Runtime | None = None) -> DevinClient:
    from handoff.devin.client import DevinClient  # httpx only when a request is about to be made

    return DevinClient(settings, retry_budget=retry_budget, runtime=runtime)


def _record(session: Session, client_tag: str, settings: Settings, meta: dict[str, Any]) -> None:
    journal.record_session(journal.JournalEntry(
        session_id=session.session_id, url=session.url, client_tag=client_tag,
        title=str(meta.get("title") or session.title or ""), api_version=settings.api_version,
        api_url=settings.api_url, repo_slug=meta.get("repo_slug"), repo_root=meta.get("repo_root"),
        branch=meta.get("branch"), base=meta.get("base"), status=session.status,
        status_detail=session.status_detail,
    ))


def settle(session: Session, item: journal.OutboxItem, settings: Settings) -> bool:
    """Journal the session, then drop its outbox entry; False (and a notice) when the journal cannot be written:
    the entry stays, and `retry` journals the session later (found by its tag, never sent again)."""
    try:
        _record(session, item.client_tag, settings, item.meta)
    except journal.StateError as exc:
        notice(f"session {session.url} was created but not journalled ({exc.message}); it stays in the "
               f"outbox: `devin-handoff retry {item.client_tag}` journals it without sending it again")
        return False
    journal.remove_outbox(item.client_tag)
    from handoff.app.bundle import SAVED_BUNDLE_KEY, forget_saved

    if item.meta.get(SAVED_BUNDLE_KEY):
        forget_saved(item.meta)
    return True


def mark_outbox(item: journal.OutboxItem, *, reason: str | None = None, in_flight_for: float | None = None,
          wall: float) -> journal.OutboxItem:
    """Best effort: note why the handoff is still here and until when it may still land (the entry exists)."""
    changed = dataclasses.replace(item, reason=reason if reason is not None else item.reason,
                                  in_flight_until=wall + in_flight_for if in_flight_for is not None
                                  else item.in_flight_until)
    with contextlib.suppress(journal.StateError):
        journal.write_outbox(changed)
    return changed


def in_flight_after(exc: ApiError) -> float:
    """How long a failed create may still land: a timed-out or ambiguous one for a read timeout, else not."""
    return AFTER_INTERRUPT_SECONDS if isinstance(exc, AmbiguousCreate) else 0.0


ClientFactory = Callable[[Settings], "DevinClient"]


def create_session(request: HandoffRequest, settings: Settings, meta: dict[str, Any], *,
                   client_factory: ClientFactory | None = None,
                   bundle: PreparedBundle | None = None) -> tuple[DevinClient, Session]:
    """Save the handoff (write-ahead), post it, journal the session. On an API failure the handoff stays in
    the outbox and the error is re-raised with a hint naming `devin-handoff retry`; StateError (exit 4,
    nothing sent: the entry is written before any request) when the state directory cannot be written.
    An interruption leaves the entry in place."""
    client = (client_factory or open_client)(settings)
    lock = journal.HandoffLock(request.client_tag)
    try:
        wall = client.runtime.wall()
        body = body_for_version(request.body, client.version, user_id=settings.user_id)
        lock.acquire()  # a fresh tag: nobody else holds it; `retry` run meanwhile skips it
        if bundle is not None:  # write-ahead covers the bundle too: `retry` uploads the kept copy
            from handoff.app.bundle import SAVED_BUNDLE_KEY, keep_for_retry

            meta = {**meta, SAVED_BUNDLE_KEY: keep_for_retry(bundle, request.client_tag)}
        item = journal.save_outbox(request.client_tag, body, meta, api_url=settings.api_url,
                                   api_version=client.version, reason="sending (not confirmed yet)",
                                   in_flight_until=wall + IN_FLIGHT_SECONDS, attempts=1, saved_at=wall)
        try:
            if bundle is not None:
                from handoff.app.bundle import attach

                body = attach(body, bundle, client)
            session = client.create(body, client_tag=request.client_tag)
        except ApiError as exc:
            mark_outbox(item, reason=exc.message, in_flight_for=in_flight_after(exc), wall=client.runtime.wall())
            exc.hint = (f"{exc.hint}; " if exc.hint else "") + \
                f"the handoff was saved: send it with `devin-handoff retry {request.client_tag}`"
            raise
        except BaseException:  # Ctrl-C, SIGTERM, SIGHUP: the request may still land
            mark_outbox(item, reason="interrupted while sending", in_flight_for=AFTER_INTERRUPT_SECONDS,
                  wall=client.runtime.wall())
            raise
        lock.release(done=settle(session, item, settings))
    except BaseException:
        lock.release()
        client.close()
        raise
    return client, session


def launch_state(client_tag: str) -> tuple[str, journal.JournalEntry | None]:
    """Where an interrupted launch left its handoff: ('journal', entry), ('outbox', None) or ('nothing', None)."""
    if journal.get_outbox(client_tag) is not None:
        return "outbox", None
    entry = next((e for e in journal.load_sessions() if e.client_tag == client_tag), None)
    return ("journal", entry) if entry is not None else ("nothing", None)
