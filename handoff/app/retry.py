"""The retry use case: send the handoffs the outbox kept, each once.

Each saved handoff is taken under its lock, looked up by its tag first, and sent only once no earlier
attempt can still land (handoff/app/launch.py wrote its in-flight window before that attempt went out).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from handoff import journal
from handoff.app.launch import (
    AFTER_INTERRUPT_SECONDS,
    IN_FLIGHT_SECONDS,
    LOOKUP_EVERY,
    in_flight_after,
    mark_outbox,
    open_client,
    settle,
)
from handoff.config import Settings
from handoff.devin.dialect import body_for_version
from handoff.devin.errors import ApiError, AuthError
from handoff.devin.models import Session
from handoff.errors import HandoffError, SavedBundleGone
from handoff.prompt import awaits_bundle_url

if TYPE_CHECKING:
    from handoff.devin.client import DevinClient

@dataclass(frozen=True)
class RetrySent:
    handoff_id: str
    session: Session
    found: bool = False           # an earlier attempt had landed: adopted, not sent again
    journalled: bool = True

    def to_json(self) -> dict[str, Any]:
        return {"handoff_id": self.handoff_id, "found": self.found, "journalled": self.journalled,
                **self.session.to_json()}


@dataclass(frozen=True)
class RetryFailed:
    handoff_id: str
    error: HandoffError

    def to_json(self) -> dict[str, Any]:
        return {"handoff_id": self.handoff_id, "error": str(self.error)}


@dataclass(frozen=True)
class RetrySkipped:
    handoff_id: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"handoff_id": self.handoff_id, "reason": self.reason}


@dataclass(frozen=True)
class RetryWaiting:
    """An earlier attempt may still land: looked up again until `seconds` have passed, then sent if absent."""

    handoff_id: str
    seconds: float


RetryEvent = RetrySent | RetryFailed | RetrySkipped | RetryWaiting


@dataclass
class RetryResult:
    sent: list[RetrySent] = field(default_factory=list)
    failed: list[RetryFailed] = field(default_factory=list)
    skipped: list[RetrySkipped] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"sent": [s.to_json() for s in self.sent], "failed": [f.to_json() for f in self.failed],
                "skipped": [s.to_json() for s in self.skipped]}


def _lookup(client: DevinClient, client_tag: str) -> Session | None:
    found = client.list_sessions(tag=client_tag, limit=10)
    return found[0] if found else None


def _wait_for_earlier_attempt(client: DevinClient, item: journal.OutboxItem,
                              on_event: Callable[[RetryEvent], None]) -> Session | None:
    """While an earlier create may still land, look its tag up again now and then; never send meanwhile."""
    runtime = client.runtime
    wait = min(item.in_flight_until - runtime.wall(), IN_FLIGHT_SECONDS)  # a clock far behind waits once
    if wait <= 0:
        return None
    on_event(RetryWaiting(item.client_tag, wait))
    deadline = runtime.deadline(wait)
    for _ in range(int(IN_FLIGHT_SECONDS / LOOKUP_EVERY) + 2):  # bounded in count as well as in time
        runtime.sleep(max(0.0, min(LOOKUP_EVERY, deadline.remaining())))
        found = _lookup(client, item.client_tag)
        if found is not None or deadline.passed:
            return found
    return _lookup(client, item.client_tag)


def _find_or_send(client: DevinClient, item: journal.OutboxItem, settings: Settings,
                  on_event: Callable[[RetryEvent], None]) -> tuple[Session, bool]:
    """(session, found): the tag looked up first; sent only once no earlier attempt can still land. The entry
    keeps why it is still here; its window changes only with an attempt of ours (a failed lookup proves nothing)."""
    runtime = client.runtime
    try:
        found = _lookup(client, item.client_tag) or _wait_for_earlier_attempt(client, item, on_event)
    except ApiError as exc:
        mark_outbox(item, reason=f"looking it up by tag failed: {exc.message}", wall=runtime.wall())
        raise
    if found is not None:
        return found, True
    # write-ahead again: this attempt's window is on disk before its request goes out
    item = dataclasses.replace(item, in_flight_until=runtime.wall() + IN_FLIGHT_SECONDS, attempts=item.attempts + 1,
                               reason="sending (not confirmed yet)")
    journal.write_outbox(item)
    body = body_for_version(item.body, client.version, user_id=settings.user_id)
    try:
        if awaits_bundle_url(body):
            from handoff.app.bundle import attach_saved

            body = attach_saved(body, item.meta, client)
        return client.create(body, client_tag=item.client_tag), False
    except ApiError as exc:
        mark_outbox(item, reason=exc.message, in_flight_for=in_flight_after(exc), wall=runtime.wall())
        raise
    except SavedBundleGone:
        raise   # found before anything was sent: no request may still land
    except BaseException:  # Ctrl-C, SIGTERM, SIGHUP: the request may still land
        mark_outbox(item, reason="interrupted while sending", in_flight_for=AFTER_INTERRUPT_SECONDS,
                    wall=runtime.wall())
        raise


def _retry_one(client: DevinClient, tag: str, settings: Settings, result: RetryResult,
               on_event: Callable[[RetryEvent], None]) -> None:
    lock = journal.HandoffLock(tag)
    if not lock.acquire():
        result.skipped.append(RetrySkipped(tag, "another devin-handoff process is sending it"))
        on_event(result.skipped[-1])
        return
    done = False
    try:
        item = journal.get_outbox(tag)  # read again under the lock: another process may have sent it
        if item is None:
            result.skipped.append(RetrySkipped(tag, "already sent by another devin-handoff process"))
            on_event(result.skipped[-1])
            return
        try:
            session, found = _find_or_send(client, item, settings, on_event)
        except AuthError:
            raise  # the key, not this handoff: the others would fail the same way
        except (ApiError, SavedBundleGone) as exc:   # this handoff only: the others are still tried
            result.failed.append(RetryFailed(tag, exc))
            on_event(result.failed[-1])
            return
        done = settle(session, item, settings)
        result.sent.append(RetrySent(tag, session, found=found, journalled=done))
        on_event(result.sent[-1])
    finally:
        lock.release(done=done)


def retry_outbox(settings: Settings, handoff_id: str | None,
                 on_event: Callable[[RetryEvent], None] = lambda _: None) -> RetryResult:
    """Send saved handoffs (all, or the one whose tag is `handoff_id`), each under its lock, looked up by tag
    first, and never while an earlier attempt may still land."""
    items = journal.load_outbox()
    if handoff_id:
        items = [item for item in items if item.client_tag == handoff_id]
        if not items:
            raise HandoffError(f"no saved handoff {handoff_id}", "run `devin-handoff retry` to send all saved ones")
    result = RetryResult()
    if not items:
        return result
    journal.check_writable()
    with open_client(settings) as client:
        for item in items:
            _retry_one(client, item.client_tag, settings, result, on_event)
    return result
