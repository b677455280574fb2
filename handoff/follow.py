"""Follower: turn polls of one Devin session into a stream of typed events with a resumable cursor.

The follower never prints. It yields MessageEvent / StatusEvent / PullRequestEvent / NoticeEvent and,
last, one EndEvent; the command that consumes them decides how to show them (text or JSON Lines).

Polling adapts to the session: right after activity (a new message, a status change, a newer
`updated_at`) it polls every `min_interval` seconds, so a message shows up within about a second;
while nothing happens it backs off ×1.5 per quiet poll up to `max_interval`. Where messages come
separately from the session, a full poll costs two requests (get + messages), so messages are
fetched only when the session shows signs of change or was recently active; a long-idle
follower makes about one request per `max_interval`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from handoff import journal
from handoff.devin.errors import ApiError, AuthError, NotFoundError, ValidationError
from handoff.devin.models import SUCCESS_OUTCOMES
from handoff.errors import EXIT_SESSION_FAILED, EXIT_UNREACHABLE
from handoff.runtime import REAL, Runtime, current

GIVE_UP_AFTER = 600.0       # seconds of continuous failure before a follow ends with exit 5 (README: faults)
FIRST_CONTACT_GIVE_UP = 30.0  # ... when nothing ever answered at all (a wrong URL, no network)
RETRY_AFTER_FLOOR = 1.0     # a server's Retry-After (seconds, or a date maybe past) is waited at least this long
RETRY_AFTER_CAP = 300.0     # ... and at most this long per wait
SAVE_EVERY = 20             # messages shown between two saves of the resume position (and on every stop)
HOT_SECONDS = 8.0           # after activity, keep polling at the shortest interval this long
SAFETY_FETCH_SECONDS = 60.0  # paged messages: fetch messages at least this often even when updated_at stands still
REPLY_GRACE_SECONDS = 120.0  # after a reply, how long a stale "waiting_for_user" is not taken as the end


class FollowClient(Protocol):
    """What the follower needs from handoff.devin.client.DevinClient (it reads only the internal model)."""

    messages_with_session: bool   # a get carries the messages: one request per look

    def get(self, session_id: str) -> Any: ...

    def messages(self, session_id: str, after: str | None = None) -> Any: ...


# -- events ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MessageEvent:
    session_id: str
    event_id: str
    text: str
    source: str = "devin"
    created_at: str | int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"event": "message", "session_id": self.session_id, "event_id": self.event_id,
                "source": self.source, "text": self.text, "created_at": self.created_at}


@dataclass(frozen=True)
class StatusEvent:
    session_id: str
    status: str
    status_detail: str | None

    def to_json(self) -> dict[str, Any]:
        return {"event": "status", "session_id": self.session_id, "status": self.status,
                "status_detail": self.status_detail}


@dataclass(frozen=True)
class PullRequestEvent:
    session_id: str
    url: str
    state: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"event": "pull_request", "session_id": self.session_id, "url": self.url, "state": self.state}


@dataclass(frozen=True)
class EndEvent:
    session_id: str
    # finished | waiting_for_user | waiting_for_approval | asleep | exit (exit 0) ·
    # error | suspended | expired (exit 1) · unreachable (exit 5)
    outcome: str
    exit_code: int
    reason: str | None = None
    url: str | None = None
    pr_urls: tuple[str, ...] = ()
    status_detail: str | None = None
    api_version: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"event": "end", "session_id": self.session_id, "outcome": self.outcome,
                "exit_code": self.exit_code, "reason": self.reason, "url": self.url,
                "status_detail": self.status_detail, "pull_requests": list(self.pr_urls)}


@dataclass(frozen=True)
class NoticeEvent:
    """A transient problem (or recovery from one); shown to people, never part of the JSON stream."""

    session_id: str
    text: str


FollowEvent = MessageEvent | StatusEvent | PullRequestEvent | EndEvent | NoticeEvent


# -- cursor ------------------------------------------------------------------------------------------

_CURSOR_SEP = "|"


def encode_cursor(api_cursor: str | None, last_event_id: str | None) -> str | None:
    """The follower's resumable cursor: the API's page cursor plus the last message seen.

    The API cursor may point before messages already shown (a paged API keeps the previous page's cursor
    when the last page has none), so on resume everything up to the last seen event is skipped."""
    if not api_cursor and not last_event_id:
        return None
    return f"{api_cursor or ''}{_CURSOR_SEP}{last_event_id or ''}"


def decode_cursor(cursor: Any) -> tuple[str | None, str | None]:
    """(API cursor, last event id shown); a number (an older journal, a hand-edited file) is read as an API cursor."""
    if isinstance(cursor, int) and not isinstance(cursor, bool):
        cursor = str(cursor)
    if not cursor or not isinstance(cursor, str):
        return None, None
    if _CURSOR_SEP not in cursor:
        return cursor, None  # a bare API cursor, e.g. from an older journal
    api_cursor, _, last_event_id = cursor.rpartition(_CURSOR_SEP)
    return api_cursor or None, last_event_id or None


# -- pacing ------------------------------------------------------------------------------------------

class Pacer:
    """How long to wait before the next poll: short after activity, ×`factor` per quiet poll, capped."""

    def __init__(self, max_interval: float, *, min_interval: float = 1.0, factor: float = 1.5,
                 hot_seconds: float = HOT_SECONDS, clock: Callable[[], float] = REAL.clock) -> None:
        self.max_interval = max(max_interval, 0.05)
        self.min_interval = min(min_interval, self.max_interval)
        self.factor = factor
        self.hot_seconds = hot_seconds
        self.clock = clock
        self.current = self.min_interval
        self.last_activity = clock()

    def after_poll(self, active: bool) -> float:
        """Record whether the poll saw activity; return the wait before the next one."""
        now = self.clock()
        if active:
            self.last_activity = now
            self.current = self.min_interval
        elif now - self.last_activity >= self.hot_seconds:
            self.current = min(self.current * self.factor, self.max_interval)
        return self.current

    @property
    def hot(self) -> bool:
        """Still close to the last activity: worth fetching messages on every poll."""
        return self.clock() - self.last_activity < self.hot_seconds


# -- follower ----------------------------------------------------------------------------------------

# errors that end a follow at once; other API errors are worth waiting out
_FATAL = (AuthError, NotFoundError, ValidationError)


def failure_reason(session: Any) -> str | None:
    outcome = session.outcome
    if outcome == "asleep":
        return session.status_detail or "asleep"
    if outcome == "suspended":
        return session.status_detail or "suspended"
    if outcome == "error":
        return session.status_detail if session.status_detail not in (None, "error") else "Devin reported an error"
    if outcome == "expired":
        return "the session expired"
    return None


@dataclass
class _State:
    api_cursor: str | None = None
    last_event_id: str | None = None
    skip_through: str | None = None        # on resume: skip messages up to and including this one
    seen: set[str] = field(default_factory=set)
    status: tuple[str, str | None] | None = None
    updated_at: Any = None
    pr_urls: list[str] = field(default_factory=list)
    last_devin_message: str | None = None
    last_messages_fetch: float = float("-inf")
    replied_at: float | None = None         # monotonic time of our last reply
    devin_spoke_since_reply: bool = False
    unsaved: int = 0                        # messages shown since the position was last saved


class Follower:
    """Polls one session and yields events until Devin stops (or the API stays unreachable)."""

    def __init__(self, client: FollowClient, session_id: str, *, interval: float = 10.0,
                 cursor: str | None = None, min_interval: float = 1.0, give_up_after: float = GIVE_UP_AFTER,
                 first_contact_give_up: float = FIRST_CONTACT_GIVE_UP, runtime: Runtime | None = None,
                 record: bool = True, cursor_field: str = "cursor") -> None:
        runtime = runtime or getattr(client, "runtime", None) or current()
        self.client = client
        self.session_id = session_id
        self.clock = runtime.clock
        self.sleep = runtime.sleep
        self.give_up_after = give_up_after
        self.first_contact_give_up = first_contact_give_up
        self._reached = False  # has the API answered anything yet?
        self.record = record
        self.cursor_field = cursor_field  # the journal field of this reader's position (text and JSON differ)
        self.pacer = Pacer(interval, min_interval=min_interval, clock=runtime.clock)
        self.state = _State()
        self.state.api_cursor, self.state.skip_through = decode_cursor(cursor)
        self.state.last_event_id = self.state.skip_through
        self._from_start = cursor is None  # the first message then is the handoff prompt: not news to its author
        self.session: Any = None
        self.requests = 0
        self._was_active = self._saw_session = False

    @property
    def cursor(self) -> str | None:
        return encode_cursor(self.state.api_cursor, self.state.last_event_id)

    @property
    def api_version(self) -> str | None:
        version = getattr(self.client, "version", None)
        return version if isinstance(version, str) else None

    def save_position(self) -> None:
        """Record how far the reader got (the last message handed out and taken), so a later tail resumes there."""
        state = self.state
        changes: dict[str, Any] = {self.cursor_field: self.cursor}
        if state.last_devin_message is not None:
            changes["last_devin_message"] = state.last_devin_message
        state.unsaved = 0
        self._save(**changes)

    def prime(self) -> None:
        """Mark the messages and PRs there are now as already shown (before sending a reply)."""
        if self.client.messages_with_session:
            session = self.client.get(self.session_id)
            items, api_cursor = session.messages, None
        else:
            session = None
            page = self.client.messages(self.session_id, after=self.state.api_cursor)
            items, api_cursor = page.items, page.cursor
        self.requests += 1
        for _ in self._take_messages(items, api_cursor):
            pass
        if session is not None:
            self.state.pr_urls.extend(pr.url for pr in session.pull_requests if pr.url not in self.state.pr_urls)

    def replied(self) -> None:
        """We just sent Devin a message: a `waiting_for_user` read before Devin picks it up is not the end."""
        self.state.replied_at = self.clock()
        self.state.devin_spoke_since_reply = False
        self.pacer.after_poll(active=True)

    def events(self) -> Iterator[FollowEvent]:
        failing_since: float | None = None
        last_notice_at = float("-inf")
        backoff = self.pacer.min_interval
        while True:
            try:
                ended = yield from self._poll()
            except _FATAL:
                raise
            except ApiError as exc:
                now = self.clock()
                # any answer (even an error) proves the API is there: only silence gets the short first-contact limit
                self._reached = self._reached or self._saw_session or exc.status is not None
                failing_since = now if failing_since is None else failing_since
                limit = self.give_up_after if self._reached else min(self.give_up_after, self.first_contact_give_up)
                if now - failing_since >= limit:
                    yield EndEvent(self.session_id, "unreachable", EXIT_UNREACHABLE,
                                   f"the API kept failing for {int(now - failing_since)} s: {exc}",
                                   url=getattr(self.session, "url", None), pr_urls=tuple(self.state.pr_urls),
                                   api_version=self.api_version)
                    return
                wait = self._wait_after(exc, backoff)
                if now - last_notice_at >= 60 or last_notice_at < failing_since:
                    last_notice_at = now
                    yield NoticeEvent(self.session_id, f"API trouble ({exc}); retrying in {wait:.0f} s, "
                                                       "resuming where it left off")
                self.sleep(min(wait, max(limit - (now - failing_since), 0.0) + self.pacer.min_interval))
                if exc.retry_after is None:
                    backoff = min(backoff * 1.5, self.pacer.max_interval)
                continue
            if failing_since is not None and self._saw_session and not ended:  # a messages-only poll proves little
                yield NoticeEvent(self.session_id, "API reachable again")
                failing_since, backoff = None, self.pacer.min_interval
            self._reached = self._reached or self._saw_session
            if ended:
                return
            self.sleep(self.pacer.after_poll(self._was_active))

    @staticmethod
    def _wait_after(exc: ApiError, backoff: float) -> float:
        """The server's Retry-After when it sent one (never below the floor, which a date in the past
        would give), else our backoff."""
        if exc.retry_after is None:
            return backoff
        return min(max(exc.retry_after, RETRY_AFTER_FLOOR, backoff), RETRY_AFTER_CAP)

    # -- one poll --------------------------------------------------------------------------------

    def _poll(self) -> Iterator[FollowEvent]:
        """One round of requests; returns True when the follow is over."""
        self._was_active = self._saw_session = False
        if self._messages_only_poll():
            yield from self._fetch_messages()
            return False
        session = self.client.get(self.session_id)
        self.requests += 1
        self._saw_session = self._reached = True
        self.session = session
        status = (session.status, session.status_detail)
        changed = status != self.state.status or session.updated_at != self.state.updated_at
        first_poll = self.state.status is None
        # Messages first, then the status change: what Devin said before it stopped reads before "stopped".
        if session.messages is not None:  # they came with the session
            yield from self._take_messages(session.messages, None)
        elif changed or first_poll or self.pacer.hot or session.outcome is not None:
            yield from self._fetch_messages()
        if status != self.state.status:
            self.state.status = status
            self._was_active = True
            self._save(status=session.status, status_detail=session.status_detail, outcome=session.outcome)
            if session.outcome != "waiting_for_user":
                self.state.replied_at = None  # Devin picked our reply up: the next wait is a real one
            yield StatusEvent(self.session_id, session.status, session.status_detail)
        if session.updated_at != self.state.updated_at:
            self.state.updated_at = session.updated_at
            self._was_active = True
        yield from self._pull_requests(session)
        outcome = self._effective_outcome(session)  # a message fetched just now may settle a reply wait
        if outcome is None:
            return False
        code = 0 if outcome in SUCCESS_OUTCOMES else EXIT_SESSION_FAILED
        self._save(outcome=outcome)
        yield EndEvent(self.session_id, outcome, code, failure_reason(session), url=session.url,
                       pr_urls=tuple(self.state.pr_urls), status_detail=session.status_detail,
                       api_version=self.api_version)
        return True

    def _messages_only_poll(self) -> bool:
        """Long idle: swap one get for a messages fetch now and then, in case updated_at lags (only
        where messages come separately)."""
        if self.client.messages_with_session or self.state.status is None or self.pacer.hot:
            return False
        return self.clock() - self.state.last_messages_fetch >= SAFETY_FETCH_SECONDS

    def _effective_outcome(self, session: Any) -> str | None:
        outcome = session.outcome
        replied_at = self.state.replied_at
        if outcome != "waiting_for_user" or replied_at is None:
            return outcome
        if self.state.devin_spoke_since_reply or self.clock() - replied_at > REPLY_GRACE_SECONDS:
            return outcome
        return None  # our reply has not been picked up yet

    def _fetch_messages(self) -> Iterator[FollowEvent]:
        try:
            page = self.client.messages(self.session_id, after=self.state.api_cursor)
        except ValidationError:
            if not self.state.api_cursor:
                raise
            # a cursor the API no longer takes (another server, expired): start over; ids dedupe
            self.state.api_cursor = None
            self.state.skip_through = self.state.skip_through or self.state.last_event_id
            page = self.client.messages(self.session_id)
        self.requests += 1
        self.state.last_messages_fetch = self.clock()
        yield from self._take_messages(page.items, page.cursor)

    def _take_messages(self, items: Any, api_cursor: str | None) -> Iterator[FollowEvent]:
        items = list(items or ())
        state = self.state
        if state.skip_through is not None and items:
            ids = [m.event_id for m in items]
            if state.skip_through in ids:
                shown_before = ids.index(state.skip_through) + 1
                state.seen.update(ids[:shown_before])
                items = items[shown_before:]
            state.skip_through = None  # found, or the API cursor is already past it
        if self._from_start and items:
            self._from_start = False
            if items[0].from_user:  # the prompt the user handed off (task, context, patch)
                state.seen.add(items[0].event_id)
                state.last_event_id = items[0].event_id
                items = items[1:]
        for message in items:
            if message.event_id in state.seen:
                continue
            state.seen.add(message.event_id)
            if not message.from_user:
                self._was_active = True
                state.devin_spoke_since_reply = True
                state.last_devin_message = message.text
            yield MessageEvent(self.session_id, message.event_id, message.text, message.source, message.created_at)
            # the reader took it (a generator resumes only when asked for the next event): it was shown
            state.last_event_id = message.event_id
            state.unsaved += 1
            if state.unsaved >= SAVE_EVERY:
                self.save_position()  # the API cursor is still the one before this batch: a resume re-reads it
        if api_cursor:
            state.api_cursor = api_cursor
        if state.unsaved or api_cursor:
            self.save_position()

    def _pull_requests(self, session: Any) -> Iterator[FollowEvent]:
        for pr in session.pull_requests:
            if pr.url and pr.url not in self.state.pr_urls:
                self.state.pr_urls.append(pr.url)
                self._was_active = True
                self._save(pr_urls=tuple(self.state.pr_urls))
                yield PullRequestEvent(self.session_id, pr.url, pr.state)

    def _save(self, **changes: Any) -> None:
        if self.record:
            journal.update_session(self.session_id, **changes)
