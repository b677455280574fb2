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
from handoff.devin.ids import web_url
from handoff.devin.models import Message, Session, epoch_seconds, outcome_of
from handoff.errors import EXIT_INTERRUPTED, HandoffError
from handoff.follow import EndEvent, Follower, decode_cursor, encode_cursor
from handoff.tags import LEGACY_TAG, TOOL_TAG, made_here

# While following, the follower is its own retry loop (with a notice and a cursor), so the client
# does not retry behind its back; one-shot calls (and send/archive around a follow) retry briefly.
FOLLOW_RETRY_BUDGET = 0.0
ONE_SHOT_RETRY_BUDGET = 5.0


def resume_hint(session_id: str) -> str:
    return f"devin-handoff tail {session_id}"


def next_step(outcome: str | None, session_id: str, url: str | None, *, detail: str | None = None,
              api_version: str | None = None) -> str | None:
    """What the user should do about a session's outcome, one sentence every face shows (None: nothing)."""
    where = url or web_url(session_id)
    reply = f'devin-handoff send {session_id} "…"'
    if outcome == "waiting_for_user":
        return f"Devin is waiting for your answer: reply with {reply}"
    if outcome == "waiting_for_approval":
        return f"Devin needs your approval for an action: approve it in the web app, {where}"
    if outcome == "asleep":
        why = f" ({detail})" if detail else ""
        if api_version == "v1":
            # v1 answers a message to a sleeping session with {detail} instead of waking it
            # (docs.devin.ai/api-reference/sessions/send-a-message-to-an-existing-devin-session)
            return f"the session is asleep{why}, not failed; continue it in the web app, {where}"
        return f"the session is asleep{why}, not failed; wake it with {reply}"
    if outcome == "suspended":
        why = detail or "no reason given"
        return f"the session was stopped ({why}); fix that in the Devin web app, then wake it with {reply}"
    if outcome in ("error", "expired"):
        return f"the session ended badly ({detail or outcome}); see {where}"
    return None


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
    devin = [m for m in messages or () if not m.from_user]
    return devin[-1].text if devin else None


def next_step_for(session: Session, api_version: str | None) -> str | None:
    """What the user should do about this session now (see `next_step`)."""
    return next_step(session.outcome, session.session_id, session.url, detail=session.status_detail,
                     api_version=api_version)


# -- one look -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Snapshot:
    session: Session
    last_devin_message: str | None
    api_version: str | None = None

    @property
    def next_step(self) -> str | None:
        return next_step_for(self.session, self.api_version)

    def to_json(self) -> dict[str, Any]:
        data = dict(self.session.to_json())
        data.update(outcome=self.session.outcome, last_devin_message=self.last_devin_message,
                    pull_requests=[pr.url for pr in self.session.pull_requests], next_step=self.next_step)
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
    return Snapshot(session, last, getattr(client, "version", None))


# -- new messages since a cursor (for agents that poll) ------------------------------------------------

@dataclass(frozen=True)
class NewMessages:
    session: Session
    messages: tuple[Message, ...]   # Devin's (and any not from the user), after the cursor, oldest first
    cursor: str | None
    api_version: str | None = None

    @property
    def next_step(self) -> str | None:
        return next_step_for(self.session, self.api_version)


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
    devin = tuple(m for m in new if not m.from_user)
    remember(session, devin[-1].text if devin else None)
    return NewMessages(session, devin, encode_cursor(page.cursor or api_cursor, new[-1].event_id if new else last_seen),
                       getattr(client, "version", None))


# -- the list ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    """One handoff session: live facts from the API when it answered, journal facts otherwise."""

    session_id: str
    entry: journal.JournalEntry | None
    live: Session | None
    api_version: str | None = None   # the key's, for sessions the journal does not hold

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
        version = (entry.api_version if entry else None) or self.api_version
        return {
            "session_id": self.session_id, "status": status, "status_detail": detail, "outcome": outcome,
            "title": title, "url": url, "pull_requests": prs,
            "next_step": next_step(outcome, self.session_id, url, detail=detail, api_version=version),
            "source": "journal+api" if entry and live else ("journal" if entry else "api"),
            "live": live is not None,
            "repo": entry.repo_slug if entry else None, "branch": entry.branch if entry else None,
            # epoch seconds whatever the source: the journal's float, v3's int, v1's ISO-8601 string
            "created_at": epoch_seconds(entry.created_at if entry else (live.created_at if live else None)),
        }


@dataclass(frozen=True)
class Listing:
    rows: list[Row]
    warning: str | None            # why only the journal is shown
    auth_error: AuthError | None   # the key was rejected: the face shows the rows, then this error

    def to_json(self) -> dict[str, Any]:
        return {"sessions": [row.to_json() for row in self.rows], "warning": self.warning}


def _live_sessions(settings: Settings, client_factory: Callable[[Settings], Any],
                   entries: list[journal.JournalEntry]) -> dict[str, Session]:
    """This tool's sessions the API knows: those with the tool tag, and (made by older versions, which
    tagged them `handoff`) those with the bare tag and a client tag, looked up only when the journal holds
    sessions the first list did not return."""
    settings.require_key()
    with client_factory(settings) as client:
        found = client.list_sessions(tag=TOOL_TAG)
        listed = {s.session_id for s in found}
        if any(entry.session_id not in listed for entry in entries):
            found += client.list_sessions(tag=LEGACY_TAG)
    return {s.session_id: s for s in found if made_here(s.tags)}


def list_handoffs(settings: Settings, client_factory: Callable[[Settings], Any] | None = None) -> Listing:
    """Journalled sessions joined with the handoff sessions the API knows; the journal is refreshed."""
    factory = client_factory or _one_shot_client
    entries = journal.load_sessions()
    live: dict[str, Session] = {}
    warning: str | None = None
    auth_error: AuthError | None = None
    try:
        live = _live_sessions(settings, factory, entries)
    except AuthError as exc:
        warning, auth_error = str(exc), exc
    except HandoffError as exc:
        warning = str(exc)
    version = settings.api_version if settings.api_key else None
    rows = [Row(entry.session_id, entry, live.get(entry.session_id), version) for entry in entries]
    known = {entry.session_id for entry in entries}
    found = sorted((s for sid, s in live.items() if sid not in known),
                   key=lambda s: epoch_seconds(s.created_at) or 0.0, reverse=True)
    rows.extend(Row(s.session_id, None, s, version) for s in found)
    for entry in entries:
        session = live.get(entry.session_id)
        if session is not None:
            remember(session)
    return Listing(rows, warning, auth_error)


def _one_shot_client(settings: Settings) -> Any:
    from handoff.app.launch import open_client

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
        with contextlib.suppress(Exception):  # saving must not hide the interruption
            follower.save_position()  # everything shown so far stays shown: a later tail starts after it
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


def cursor_field(json_mode: bool) -> str:
    """The journal field holding a reader's position: people and programs (`--json`) read separately."""
    return "json_cursor" if json_mode else "cursor"


def saved_cursor(session_id: str, json_mode: bool) -> str | None:
    entry = journal.get_session(session_id)
    return getattr(entry, cursor_field(json_mode), None) if entry is not None else None


def follow(client: Any, session_id: str, on_event: EventSink, *, interval: float = 10.0, archive: bool = False,
           ask_reply: AskReply | None = None, cursor: str | None = None, json_mode: bool = False) -> int:
    """Follow a session from `cursor` (or the start) until Devin stops; the exit code."""
    follower = Follower(client, session_id, interval=interval, cursor=cursor, cursor_field=cursor_field(json_mode))
    return run_follower(follower, on_event, archive=archive, ask_reply=ask_reply)
