"""The session use cases every face shares: one look (status), the list (journal joined with the API),
the new messages since a cursor, following a session to its end, and keeping the journal fresh.

The outcome rules live here (and, for a live session, in `handoff/devin/models.py`'s `outcome_of`);
the CLI, the MCP server and the agent hooks all read them from here. Nothing here prints: following
reports each event through a callback the face renders.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from handoff import journal
from handoff.config import Settings
from handoff.devin.errors import ApiError, AuthError
from handoff.devin.models import Message, Session, outcome_of
from handoff.errors import EXIT_INTERRUPTED, HandoffError
from handoff.follow import EndEvent, Follower, decode_cursor, encode_cursor
from handoff.tags import HANDOFF_TAG

# While following, the follower is its own retry loop (with a notice and a cursor), so the client
# does not retry behind its back; one-shot calls (and send/archive around a follow) retry briefly.
FOLLOW_RETRY_BUDGET = 0.0
ONE_SHOT_RETRY_BUDGET = 5.0


def resume_hint(session_id: str) -> str:
    return f"devin-handoff tail {session_id}"


def entry_outcome(entry: journal.JournalEntry) -> str | None:
    """A journalled session's outcome: as recorded, or derived from the last status seen."""
    return str(entry.outcome) if entry.outcome else outcome_of(entry.status, entry.status_detail)


def remember(session: Session, last_devin_message: str | None = None) -> None:
    """Keep the journal's view of a session fresh; sessions not in the journal are ignored."""
    changes: dict[str, Any] = {"status": session.status, "status_detail": session.status_detail,
                               "outcome": session.outcome, "pr_urls": tuple(pr.url for pr in session.pull_requests)}
    if last_devin_message is not None:
        changes["last_devin_message"] = last_devin_message
    journal.update_session(session.session_id, **changes)


def _last_devin(messages: Any) -> str | None:
    devin = [m for m in messages or () if m.source == "devin"]
    return devin[-1].text if devin else None


# -- one look -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Snapshot:
    session: Session
    last_devin_message: str | None

    def to_json(self) -> dict[str, Any]:
        data = dict(self.session.to_json())
        data.update(outcome=self.session.outcome, last_devin_message=self.last_devin_message,
                    pull_requests=[pr.url for pr in self.session.pull_requests])
        return data


def look(client: Any, session_id: str, *, record: bool = True) -> Snapshot:
    """The session and Devin's last message, in as few requests as the API allows (the journal's copy
    when the API shows none)."""
    session = client.get(session_id)
    messages = session.messages if session.messages is not None else client.messages(session_id).items
    last = _last_devin(messages)
    if record:
        remember(session, last)
    if last is None:
        entry = journal.get_session(session.session_id)
        last = entry.last_devin_message if entry else None
    return Snapshot(session, last)


# -- new messages since a cursor (for agents that poll) ------------------------------------------------

@dataclass(frozen=True)
class NewMessages:
    session: Session
    messages: tuple[Message, ...]   # Devin's, after the cursor, oldest first
    cursor: str | None


def _after_last_seen(items: list[Message], last_seen: str | None) -> list[Message]:
    """The API's cursor may point before messages already returned (a paged API has no cursor on the last
    page), so everything up to the last event returned is dropped (the follower's cursor format)."""
    ids = [m.event_id for m in items]
    return items[ids.index(last_seen) + 1:] if last_seen in ids else items


def messages_since(client: Any, session_id: str, cursor: str | None) -> NewMessages:
    api_cursor, last_seen = decode_cursor(cursor)
    # Status first: a message published after this look is still returned by the read below, so
    # the session is never shown as ended while a final message remains unread.
    session = client.get(session_id)
    page = client.messages(session_id, after=api_cursor)
    new = _after_last_seen(list(page.items), last_seen)
    devin = tuple(m for m in new if m.source == "devin")
    remember(session, devin[-1].text if devin else None)
    return NewMessages(session, devin, encode_cursor(page.cursor or api_cursor, new[-1].event_id if new else last_seen))


# -- the list ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    """One handoff session: live facts from the API when it answered, journal facts otherwise."""

    session_id: str
    entry: journal.JournalEntry | None
    live: Session | None

    def to_json(self) -> dict[str, Any]:
        entry, live = self.entry, self.live
        if live is not None:
            status, detail, outcome = live.status, live.status_detail, live.outcome
            prs = [pr.url for pr in live.pull_requests]
            title, url = live.title or (entry.title if entry else None), live.url
        else:
            assert entry is not None
            status, detail, outcome = entry.status, entry.status_detail, entry_outcome(entry)
            prs, title, url = list(entry.pr_urls), entry.title, entry.url
        return {
            "session_id": self.session_id, "status": status, "status_detail": detail, "outcome": outcome,
            "title": title, "url": url, "pull_requests": prs,
            "source": "journal+api" if entry and live else ("journal" if entry else "api"),
            "live": live is not None,
            "repo": entry.repo_slug if entry else None, "branch": entry.branch if entry else None,
            "created_at": entry.created_at if entry else (live.created_at if live else None),
        }


@dataclass(frozen=True)
class Listing:
    rows: list[Row]
    warning: str | None            # why only the journal is shown
    auth_error: AuthError | None   # the key was rejected: the face shows the rows, then this error

    def to_json(self) -> dict[str, Any]:
        return {"sessions": [row.to_json() for row in self.rows], "warning": self.warning}


def _live_sessions(settings: Settings, client_factory: Callable[[Settings], Any]) -> dict[str, Session]:
    settings.require_key()
    with client_factory(settings) as client:
        found = client.list_sessions(tag=HANDOFF_TAG)
    return {s.session_id: s for s in found}


def list_handoffs(settings: Settings, client_factory: Callable[[Settings], Any] | None = None) -> Listing:
    """Journalled sessions joined with the handoff sessions the API knows; the journal is refreshed."""
    factory = client_factory or _one_shot_client
    entries = journal.load_sessions()
    live: dict[str, Session] = {}
    warning: str | None = None
    auth_error: AuthError | None = None
    try:
        live = _live_sessions(settings, factory)
    except AuthError as exc:
        warning, auth_error = str(exc), exc
    except HandoffError as exc:
        warning = str(exc)
    rows = [Row(entry.session_id, entry, live.get(entry.session_id)) for entry in entries]
    known = {entry.session_id for entry in entries}
    rows.extend(Row(sid, None, session) for sid, session in live.items() if sid not in known)
    for entry in entries:
        session = live.get(entry.session_id)
        if session is not None:
            remember(session)
    return Listing(rows, warning, auth_error)


def _one_shot_client(settings: Settings) -> Any:
    from handoff.app.handoff import open_client

    return open_client(settings, retry_budget=ONE_SHOT_RETRY_BUDGET)


# -- following --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ReplyFailed:
    session_id: str
    error: HandoffError


@dataclass(frozen=True)
class ReplySent:
    session_id: str


@dataclass(frozen=True)
class Archived:
    session_id: str
    error: HandoffError | None = None   # set when archiving failed (the follow's result stands)


@dataclass(frozen=True)
class Interrupted:
    session_id: str

    @property
    def resume(self) -> str:
        return resume_hint(self.session_id)

    def to_json(self) -> dict[str, Any]:
        return {"event": "end", "session_id": self.session_id, "outcome": "interrupted",
                "exit_code": EXIT_INTERRUPTED, "reason": "interrupted", "resume": self.resume}


EventSink = Callable[[Any], None]
AskReply = Callable[[], str | None]


@contextlib.contextmanager
def _follow_retry_budget(client: Any) -> Iterator[None]:
    """While polling, the follower retries (with a notice); the client's own retries would hide that."""
    saved = getattr(client, "retry_budget", None)
    if saved is None:
        yield
        return
    client.retry_budget = min(saved, FOLLOW_RETRY_BUDGET)
    try:
        yield
    finally:
        client.retry_budget = saved


def _events(follower: Follower) -> Iterator[Any]:
    iterator = follower.events()
    while True:
        with _follow_retry_budget(follower.client):
            event = next(iterator, None)
        if event is None:
            return
        yield event


def _reply(client: Any, session_id: str, ask_reply: AskReply, on_event: EventSink) -> bool:
    """Ask for a reply and send it; False when the user gives none. A failed send asks again."""
    while True:
        reply = ask_reply()
        if not reply:
            return False
        try:
            client.send(session_id, reply)
        except AuthError:
            raise
        except ApiError as exc:
            on_event(ReplyFailed(session_id, exc))
            continue
        on_event(ReplySent(session_id))
        return True


def run_follower(follower: Follower, on_event: EventSink, *, archive: bool = False,
                 ask_reply: AskReply | None = None) -> int:
    """Follow until Devin stops; each event goes to `on_event`; the exit code. With `ask_reply`, a
    session waiting for the user gets the reply it returns, and following goes on."""
    client, session_id = follower.client, follower.session_id
    try:
        while True:
            end: EndEvent | None = None
            for event in _events(follower):
                on_event(event)
                if isinstance(event, EndEvent):
                    end = event
            assert end is not None  # the follower always ends with an EndEvent or raises
            if ask_reply and end.outcome == "waiting_for_user" and _reply(client, session_id, ask_reply, on_event):
                follower.replied()
                continue
            break
    except KeyboardInterrupt:
        on_event(Interrupted(session_id))
        return EXIT_INTERRUPTED
    if archive and end.outcome != "unreachable":
        try:
            client.archive(session_id)
        except HandoffError as exc:
            on_event(Archived(session_id, exc))
        else:
            on_event(Archived(session_id))
    return end.exit_code


def follow(client: Any, session_id: str, on_event: EventSink, *, interval: float = 10.0, archive: bool = False,
           ask_reply: AskReply | None = None, cursor: str | None = None) -> int:
    """Follow a session from `cursor` (or the start) until Devin stops; the exit code."""
    follower = Follower(client, session_id, interval=interval, cursor=cursor)
    return run_follower(follower, on_event, archive=archive, ask_reply=ask_reply)
