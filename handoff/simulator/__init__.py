"""A small Devin API simulator (v1 and v3) served over HTTP on 127.0.0.1, for tests and `devin-handoff demo`.

Split by job: `model.py` (scripts, session state, v1/v3 views), `endpoints.py` (what each call
answers), `http.py` (routing and the server), `faults.py` (scripted faults); this module holds the
Simulator itself: life cycle and how sessions move with time.

Sessions move with time: every `step_seconds` after creation a session takes one step of its script
(state change, Devin message, pull request). Steps are scheduled at creation and applied lazily on each
request, so there are no timers. Faults are scripted per call kind with `inject()`.

It follows shared/devin-api.md; where the docs are silent it takes the stricter reading, so clients
written against it survive the real service:
- v3 `status_detail` is filled only on get/list; create/send/archive answers carry null.
- v3 `finished` / `waiting_for_user` are details under status `running`; v1 keeps status `running`
  and puts `finished` / `blocked` in `status_enum`.
- v3 `end_cursor` is null on the last page (unless `end_cursor_on_last_page=True`).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from datetime import datetime, timezone
from typing import Any, cast

from handoff.simulator.endpoints import EndpointsMixin
from handoff.simulator.faults import CALLS, FAULTS, STATUS_FAULTS, FaultsMixin, _Fault
from handoff.simulator.http import HttpMixin, _Server
from handoff.simulator.model import (
    _CLOSED,
    _IN_PROGRESS,
    _RESUMABLE,
    DEFAULT_MESSAGES,
    DEFAULT_ORG,
    DEFAULT_REPO,
    END_STATES,
    FOLLOW_UP_MESSAGE,
    SUSPEND_REASONS,
    Action,
    Script,
    _first_plan,
    _repo_of,
    _Session,
    _work_plan,
)

__all__ = ["CALLS", "DEFAULT_MESSAGES", "DEFAULT_ORG", "DEFAULT_REPO", "END_STATES", "FAULTS", "FOLLOW_UP_MESSAGE",
           "STATUS_FAULTS", "SUSPEND_REASONS", "Script", "Simulator"]


class Simulator(FaultsMixin, HttpMixin, EndpointsMixin):
    """The Devin API on 127.0.0.1: v1 (`apk_` keys) and v3 (`cog_` keys), sessions that progress, faults."""

    def __init__(self, *, step_seconds: float = 0.05, org_id: str = DEFAULT_ORG,
                 keys: dict[str, str] | None = None, port: int = 0,
                 end_cursor_on_last_page: bool = False, org_in_self: bool = True, list_order: str = "newest",
                 page_size: int | None = None, page_fields: str = "all", tag_filter: bool = True,
                 message_source: bool = True, v1_spelling: str = "both") -> None:
        """Options for the documented variations a client must survive:
        `org_in_self=False`: GET /v3/self answers `"org_id": null` (the org-less routes still work);
        `list_order`: "newest" or "oldest" first (the docs promise no order);
        `page_size`: at most this many items per page whatever `first` asks (several pages);
        `page_fields`: "all", "cursor" (no has_next_page/total) or "none" (no paging fields at all; then an
        item's id is taken as `after`); `tag_filter=False`: list ignores the tags filter;
        `message_source=False`: v3 messages carry no `source`; `v1_spelling="singular"`: the plural
        per-session paths answer 405 (only the legacy /v1/session/{id} spelling is routed)."""
        if list_order not in ("newest", "oldest") or page_fields not in ("all", "cursor", "none"):
            raise ValueError("list_order is newest|oldest; page_fields is all|cursor|none")
        if v1_spelling not in ("both", "singular"):
            raise ValueError("v1_spelling is both|singular")
        self.step_seconds = step_seconds
        self.org_id = org_id
        self.keys = keys  # key -> 'v1' | 'v3'; None accepts any apk_… (v1) / cog_… (v3)
        self.end_cursor_on_last_page = end_cursor_on_last_page
        self.list_order = list_order
        self.page_size = page_size
        self.page_fields = page_fields
        self.tag_filter = tag_filter
        self.message_source = message_source
        self.v1_spelling = v1_spelling
        self.base_url = ""
        self.requests: list[dict[str, Any]] = []
        # uploads by attachment id: {attachment_id, name, url, content (bytes)}
        self.attachments: dict[str, dict[str, Any]] = {}
        self.self_info: dict[str, Any] = {
            "principal_type": "service_user", "service_user_id": "service-user-sim",
            "service_user_name": "devin-handoff simulator", "org_id": org_id if org_in_self else None,
        }
        self._port = port
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._sessions: dict[str, _Session] = {}
        self._faults: list[_Fault] = []
        self._script = Script()
        self._seq = itertools.count(1)
        self._pr_numbers = itertools.count(1)
        self._mono0, self._wall0 = time.monotonic(), time.time()

    def start(self) -> Simulator:
        """Bind 127.0.0.1 (port 0: a free one) and serve from a daemon thread; returns self."""
        with self._lock:
            if self._server is not None:
                return self
            self._stopping.clear()
            server = _Server(self, self._port)
            self._server = server
            self.base_url = f"http://127.0.0.1:{server.server_address[1]}"
            self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                                            name="devin-simulator", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, cut open connections, wake slow handlers; safe to call twice."""
        with self._lock:
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        server.close_connections()
        if thread is not None:
            thread.join(timeout=2)

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def script(self, *, end: str = "finished", steps: int = 4, messages: list[str] | None = None,
               pr: bool = True, question: str | None = None, suspend_reason: str = "inactivity",
               first_state: str = "new") -> None:
        """How the NEXT created sessions behave.

        Without `question`: new, then one step per message (status running/working), the PR on the
        last working step, then `end` at step max(steps, len(messages) + 1).
        With `question`: the first message, then running/waiting_for_user with the question as a Devin
        message; a user reply runs the remaining messages (and the PR), then `end`.
        A reply to a session that stopped (waiting, finished, suspended, expired) wakes it: one more
        Devin message, then finished. `suspend_reason` is the v3 status_detail when `end='suspended'`
        (one of SUSPEND_REASONS). `end='waiting_for_approval'` waits until `approve()`; `first_state='creating'`
        shows the undocumented `creating` status until the first step.
        """
        if end not in END_STATES:
            raise ValueError(f"end must be one of {', '.join(END_STATES)}")
        if steps < 1:
            raise ValueError("steps must be at least 1")
        if first_state not in ("new", "creating"):
            raise ValueError("first_state is new|creating")
        texts = DEFAULT_MESSAGES if messages is None else tuple(messages)
        with self._lock:
            self._script = Script(end=end, steps=steps, messages=texts, pr=pr, question=question,
                                  suspend_reason=suspend_reason, first_state=first_state)

    def approve(self, session_id: str) -> None:
        """The user approves the waiting action in the web app: Devin goes on and finishes."""
        with self._lock:
            session = self._sessions[session_id]
            self._advance(session, time.monotonic())
            if session.state != "waiting_for_approval":
                raise ValueError(f"{session_id} is not waiting for approval ({session.state})")
            session.state = "working"
            self._schedule(session, _work_plan(("Approved; carrying on.",), "finished", 1, False), time.monotonic())

    def add_messages(self, session_id: str, texts: list[str], source: str = "devin") -> None:
        """Publish messages at once (a long backlog, say)."""
        with self._lock:
            session = self._sessions[session_id]
            now = time.monotonic()
            session.messages.extend(self._message(source, text, now) for text in texts)
            session.updated = now

    @property
    def sessions(self) -> dict[str, dict[str, Any]]:
        """Snapshots by devin id, brought up to date: prompt, tags, body, state, status, status_detail (v3),
        archived, pull_requests, messages ({event_id, source, type, message (alias text), at})."""
        now = time.monotonic()
        with self._lock:
            for session in self._sessions.values():
                self._advance(session, now)
            return {sid: self._snapshot(s) for sid, s in self._sessions.items()}

    def publish_times(self, session_id: str) -> dict[str, float]:
        """event_id -> time.monotonic() at which the message became visible to clients."""
        with self._lock:
            session = self._sessions[session_id]
            self._advance(session, time.monotonic())
            return {m["event_id"]: m["at"] for m in session.messages}

    def _snapshot(self, s: _Session) -> dict[str, Any]:
        status, detail = self._v3_status(s)
        return {
            "session_id": s.session_id, "prompt": s.prompt, "title": s.title, "tags": list(s.tags),
            "body": json.loads(json.dumps(s.body)), "state": s.state, "status": status,
            "status_detail": detail, "archived": s.archived,
            "pull_requests": [dict(p) for p in s.pull_requests],
            "messages": [{**m, "text": m["message"]} for m in s.messages], "created": s.created,
        }

    def _wall(self, mono: float) -> float:
        return self._wall0 + (mono - self._mono0)

    def _iso(self, mono: float) -> str:
        return datetime.fromtimestamp(self._wall(mono), timezone.utc).isoformat(timespec="microseconds")

    def _schedule(self, s: _Session, plan: list[list[Action]], start: float) -> None:
        for index, step in enumerate(plan, 1):
            s.pending.extend((start + index * self.step_seconds, action) for action in step)

    def _advance(self, s: _Session, now: float) -> None:
        """Apply every scheduled action whose time has come."""
        while s.pending and s.pending[0][0] <= now:
            at, (kind, value) = s.pending.pop(0)
            s.updated = at
            if kind == "state":
                s.state = cast(str, value)
            elif kind == "message":
                s.messages.append(self._message("devin", cast(str, value), at))
            else:
                number = next(self._pr_numbers)
                s.pull_requests.append({"pr_url": f"https://github.com/{s.repo}/pull/{number}", "pr_state": "open"})

    @staticmethod
    def _message(source: str, text: str, at: float, kind: str | None = None) -> dict[str, Any]:
        return {"event_id": f"event-{uuid.uuid4().hex[:24]}", "source": source,
                "type": kind or ("devin_message" if source == "devin" else "user_message"),
                "message": text, "at": at}

    def _create(self, body: dict[str, Any], now: float) -> _Session:
        prompt = body["prompt"]
        title = body.get("title") or (prompt.strip().splitlines() or ["Untitled"])[0][:100]
        script = self._script
        session = _Session(
            session_id=f"devin-{uuid.uuid4().hex}", seq=next(self._seq), org_id=self.org_id,
            body=json.loads(json.dumps(body)), prompt=prompt, title=title, tags=list(body.get("tags") or []),
            repo=_repo_of(body, prompt), script=script, created=now, updated=now, state=script.first_state,
            suspend_reason=script.suspend_reason, awaiting_reply=script.question is not None)
        session.messages.append(self._message("user", prompt, now, "initial_user_message"))
        self._schedule(session, _first_plan(script), now)
        self._sessions[session.session_id] = session
        return session

    def _reply(self, s: _Session, text: str, now: float) -> str | None:
        """Record a user message; wake a stopped session. Returns why it was refused, if it was."""
        if s.archived:
            return "archived sessions can be viewed but not continued"
        if s.state in _CLOSED:
            return f"the session has ended ({s.state}); it cannot take messages"
        s.messages.append(self._message("user", text, now))
        s.updated = now
        if s.state not in _RESUMABLE:
            return None  # Devin is busy; it reads the message on its own time
        s.state = "resuming" if s.state in ("suspended", "expired") else "working"
        if s.awaiting_reply:
            s.awaiting_reply = False
            plan = _work_plan(s.script.messages[1:], s.script.end, 2, s.script.pr)  # >= 1 working step
        else:
            plan = _work_plan((FOLLOW_UP_MESSAGE,), "finished", 1, False)
        s.pending.clear()
        self._schedule(s, plan, now)
        return None

    def _archive(self, s: _Session) -> None:
        """Archiving puts a working session to sleep; it never continues."""
        s.archived = True
        s.pending.clear()
        if s.state in _IN_PROGRESS:
            s.state, s.suspend_reason = "suspended", "user_request"

    def _terminate(self, s: _Session, archive: bool, now: float) -> None:
        s.pending.clear()
        s.state, s.updated = "exit", now
        s.archived = s.archived or archive

    def _find_idempotent(self, prompt: str, tags: list[str]) -> _Session | None:
        for s in self._sessions.values():
            if s.prompt == prompt and sorted(s.tags) == sorted(tags) and s.state not in _CLOSED:
                return s
        return None
