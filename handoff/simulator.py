"""A small Devin API simulator (v1 and v3) served over HTTP on 127.0.0.1, for tests and `devin-handoff demo`.

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

import base64
import contextlib
import itertools
import json
import re
import socket
import socketserver
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

DEFAULT_ORG = "org-sim"
DEFAULT_REPO = "acme/widgets"
WEB_URL = "https://app.devin.ai/sessions/"
DEFAULT_MESSAGES = ("Looking at the repository.", "Applied the patch and ran the tests.", "Opened a pull request.")
FOLLOW_UP_MESSAGE = "Got your message; carrying on."

END_STATES = ("finished", "waiting_for_user", "error", "suspended", "exit", "expired")
CALLS = ("create", "get", "messages", "send", "list", "archive", "self", "terminate", "any")
STATUS_FAULTS = ("429", "500", "502", "503", "504", "401", "403", "404")
FAULTS = (*STATUS_FAULTS, "drop", "drop_before", "slow", "bad_json", "html")

# internal state -> (v3 status, v3 status_detail); `suspended` takes its detail from the session
_V3_VIEW: dict[str, tuple[str, str | None]] = {
    "new": ("new", None),
    "working": ("running", "working"),
    "waiting_for_user": ("running", "waiting_for_user"),
    "finished": ("running", "finished"),
    "resuming": ("resuming", None),
    "suspended": ("suspended", "inactivity"),
    "expired": ("suspended", "inactivity"),  # v3 has no "expired": a timed-out session sleeps
    "error": ("error", None),
    "exit": ("exit", None),
}
# internal state -> (v1 status, v1 status_enum)
_V1_VIEW: dict[str, tuple[str, str | None]] = {
    "new": ("running", "working"),
    "working": ("running", "working"),
    "waiting_for_user": ("running", "blocked"),
    "finished": ("running", "finished"),
    "resuming": ("running", "resume_requested"),
    "suspended": ("suspended", "suspend_requested"),
    "expired": ("expired", "expired"),
    "error": ("error", None),
    "exit": ("exit", None),
}
_IN_PROGRESS = frozenset({"new", "working", "resuming"})
_RESUMABLE = frozenset({"waiting_for_user", "finished", "suspended", "expired"})  # a reply wakes these
_CLOSED = frozenset({"error", "exit"})

_HTML_502 = (b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1>"
             b"</center><hr><center>nginx</center></body></html>")
_BROKEN_JSON = b'{"session_id": "devin-'

Action = tuple[str, str | None]  # ("state", name) | ("message", text) | ("pr", None)


@dataclass(frozen=True)
class Script:
    """How a session behaves; see `Simulator.script`."""

    end: str = "finished"
    steps: int = 4
    messages: tuple[str, ...] = DEFAULT_MESSAGES
    pr: bool = True
    question: str | None = None
    suspend_reason: str = "inactivity"


def _work_plan(messages: tuple[str, ...], end: str, steps: int, pr: bool) -> list[list[Action]]:
    """Working steps, one Devin message each, the PR on the last working step, then the end state."""
    working = max(steps, len(messages) + 1) - 1
    plan: list[list[Action]] = [[("state", "working")] for _ in range(working)]
    for index, text in enumerate(messages):
        plan[index].append(("message", text))
    last: list[Action] = []
    if pr:
        (plan[-1] if plan else last).append(("pr", None))
    plan.append([*last, ("state", end)])
    return plan


def _first_plan(script: Script) -> list[list[Action]]:
    """With a question: the first message, then the question; the rest waits for the user's reply."""
    if script.question is None:
        return _work_plan(script.messages, script.end, script.steps, script.pr)
    plan: list[list[Action]] = [[("state", "working"), ("message", text)] for text in script.messages[:1]]
    plan.append([("state", "waiting_for_user"), ("message", script.question)])
    return plan


@dataclass
class _Session:
    session_id: str
    seq: int
    org_id: str
    body: dict[str, Any]
    prompt: str
    title: str
    tags: list[str]
    repo: str
    script: Script
    created: float  # monotonic
    updated: float
    state: str = "new"
    suspend_reason: str = "inactivity"
    messages: list[dict[str, Any]] = field(default_factory=list)
    pull_requests: list[dict[str, Any]] = field(default_factory=list)
    pending: list[tuple[float, Action]] = field(default_factory=list)  # sorted by time
    awaiting_reply: bool = False  # the question's second half runs after the next user message
    archived: bool = False


@dataclass
class _Fault:
    call: str
    kind: str
    remaining: int
    opts: dict[str, Any]


@dataclass
class _Request:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    body_invalid: bool
    key: str | None
    api: str | None  # 'v1' | 'v3' | None (neither prefix)
    call: str  # one of CALLS minus 'any', or 'other'
    params: dict[str, str | None]
    allowed: bool  # method allowed on this path


@dataclass
class _Reply:
    status: int
    body: Any = None
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None


_V1_ROUTES: list[tuple[re.Pattern[str], dict[str, str]]] = [
    (re.compile(r"^/v1/sessions$"), {"POST": "create", "GET": "list"}),
    (re.compile(r"^/v1/sessions?/(?P<sid>[^/]+)$"), {"GET": "get", "DELETE": "terminate"}),
    (re.compile(r"^/v1/sessions?/(?P<sid>[^/]+)/message$"), {"POST": "send"}),
]
# org may be left out by org-scoped service users (resolved from the credential)
_V3_SESSIONS = re.compile(
    r"^/v3/organizations/(?:(?P<org>[^/]+)/)?sessions(?:/(?P<sid>[^/]+)(?:/(?P<sub>messages|archive))?)?$")
_V3_METHODS: dict[tuple[bool, str | None], dict[str, str]] = {
    (False, None): {"POST": "create", "GET": "list"},
    (True, None): {"GET": "get", "DELETE": "terminate"},
    (True, "messages"): {"GET": "messages", "POST": "send"},
    (True, "archive"): {"POST": "archive"},
}


def _route(method: str, path: str) -> tuple[str, dict[str, str | None], bool]:
    """(call kind, path params, method allowed); call 'other' for unknown paths."""
    if path.startswith("/v1/"):
        for pattern, methods in _V1_ROUTES:
            match = pattern.match(path)
            if match:
                return methods.get(method, "other"), match.groupdict(), method in methods
    elif path == "/v3/self":
        return ("self" if method == "GET" else "other"), {}, method == "GET"
    elif path.startswith("/v3/"):
        match = _V3_SESSIONS.match(path)
        if match:
            methods = _V3_METHODS[(match["sid"] is not None, match["sub"])]
            return methods.get(method, "other"), match.groupdict(), method in methods
    return "other", {}, False


def _encode_cursor(kind: str, value: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{value}".encode()).decode().rstrip("=")


def _decode_cursor(kind: str, cursor: str) -> int | None:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, value = text.partition(":")
        return int(value) if prefix == kind else None
    except (ValueError, UnicodeDecodeError):
        return None


def _web_url(session_id: str) -> str:
    return WEB_URL + session_id.removeprefix("devin-")


def _repo_of(body: dict[str, Any], prompt: str) -> str:
    """The PR's repo: v3 `repos[0]`, else a `Repo: owner/name` line in the prompt, else acme/widgets."""
    repos = body.get("repos")
    if isinstance(repos, list) and repos and isinstance(repos[0], str) and "/" in repos[0]:
        return repos[0]
    match = re.search(r"Repo:\s*`?([\w.-]+/[\w.-]+)", prompt)
    return match.group(1) if match else DEFAULT_REPO


class _Server(ThreadingHTTPServer):
    """Threaded server that knows its open connections, so stop() can cut kept-alive ones."""

    daemon_threads = True

    def __init__(self, simulator: Simulator, port: int) -> None:
        self.simulator = simulator
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", port), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls getfqdn(), a DNS lookup; start-up must stay fast and offline
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "127.0.0.1", self.server_address[1]

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that hang up (timeouts, dropped answers) are part of the game, not errors to print."""

    def close_connections(self) -> None:
        with self.connections_lock:
            open_sockets = list(self.connections)
        for sock in open_sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real clients see it
    server_version = "devin-simulator"
    sys_version = ""
    timeout = 30  # an idle kept-alive connection does not hold a thread for ever

    def setup(self) -> None:
        super().setup()
        # headers and body go out in two writes; without NODELAY, Nagle + delayed ACK add ~40 ms per answer
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _dispatch(self) -> None:
        cast(_Server, self.server).simulator._serve(self)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _dispatch

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: tests and the demo print what they need."""


class Simulator:
    """The Devin API on 127.0.0.1: v1 (`apk_` keys) and v3 (`cog_` keys), sessions that progress, faults."""

    def __init__(self, *, step_seconds: float = 0.05, org_id: str = DEFAULT_ORG,
                 keys: dict[str, str] | None = None, port: int = 0,
                 end_cursor_on_last_page: bool = False) -> None:
        self.step_seconds = step_seconds
        self.org_id = org_id
        self.keys = keys  # key -> 'v1' | 'v3'; None accepts any apk_… (v1) / cog_… (v3)
        self.end_cursor_on_last_page = end_cursor_on_last_page
        self.base_url = ""
        self.requests: list[dict[str, Any]] = []
        self.self_info: dict[str, Any] = {
            "principal_type": "service_user", "service_user_id": "service-user-sim",
            "service_user_name": "devin-handoff simulator", "org_id": org_id,
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

    # -- life cycle ---------------------------------------------------------------------------------

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

    # -- scripting ----------------------------------------------------------------------------------

    def script(self, *, end: str = "finished", steps: int = 4, messages: list[str] | None = None,
               pr: bool = True, question: str | None = None, suspend_reason: str = "inactivity") -> None:
        """How the NEXT created sessions behave.

        Without `question`: new, then one step per message (status running/working), the PR on the
        last working step, then `end` at step max(steps, len(messages) + 1).
        With `question`: the first message, then running/waiting_for_user with the question as a Devin
        message; a user reply runs the remaining messages (and the PR), then `end`.
        A reply to a session that stopped (waiting, finished, suspended, expired) wakes it: one more
        Devin message, then finished. `suspend_reason` is the v3 status_detail when `end='suspended'`.
        """
        if end not in END_STATES:
            raise ValueError(f"end must be one of {', '.join(END_STATES)}")
        if steps < 1:
            raise ValueError("steps must be at least 1")
        texts = DEFAULT_MESSAGES if messages is None else tuple(messages)
        with self._lock:
            self._script = Script(end=end, steps=steps, messages=texts, pr=pr, question=question,
                                  suspend_reason=suspend_reason)

    def inject(self, call: str, fault: str, times: int = 1, **opts: Any) -> None:
        """Make the next `times` calls of kind `call` ('any' = every kind) fail with `fault`.

        Faults are consumed in the order injected. Options: '429' retry_after (seconds or an HTTP date;
        None leaves the header out, default 1); 'slow' seconds (default 2.0); status faults after=True
        (do the call, then answer with the error, e.g. a create that happened but answered 500);
        detail (error text). 'drop' does the call, then closes the connection without an answer;
        'drop_before' closes it without doing anything.
        """
        if call not in CALLS:
            raise ValueError(f"call must be one of {', '.join(CALLS)}")
        if fault not in FAULTS:
            raise ValueError(f"fault must be one of {', '.join(FAULTS)}")
        if times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._faults.append(_Fault(call, fault, times, dict(opts)))

    def clear_faults(self) -> None:
        """Drop every fault not yet consumed."""
        with self._lock:
            self._faults.clear()

    @property
    def pending_faults(self) -> list[tuple[str, str, int]]:
        """(call, fault, remaining) not yet consumed."""
        with self._lock:
            return [(f.call, f.kind, f.remaining) for f in self._faults]

    # -- inspection ---------------------------------------------------------------------------------

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

    # -- time ---------------------------------------------------------------------------------------

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

    # -- session operations (called with the lock held) ---------------------------------------------

    def _create(self, body: dict[str, Any], now: float) -> _Session:
        prompt = body["prompt"]
        title = body.get("title") or (prompt.strip().splitlines() or ["Untitled"])[0][:100]
        script = self._script
        session = _Session(
            session_id=f"devin-{uuid.uuid4().hex}", seq=next(self._seq), org_id=self.org_id,
            body=json.loads(json.dumps(body)), prompt=prompt, title=title, tags=list(body.get("tags") or []),
            repo=_repo_of(body, prompt), script=script, created=now, updated=now,
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

    def _v3_status(self, s: _Session) -> tuple[str, str | None]:
        status, detail = _V3_VIEW[s.state]
        return (status, s.suspend_reason) if s.state == "suspended" else (status, detail)

    # -- views --------------------------------------------------------------------------------------

    def _v3_session(self, s: _Session, *, detail: bool) -> dict[str, Any]:
        status, status_detail = self._v3_status(s)
        return {
            "session_id": s.session_id, "url": _web_url(s.session_id), "org_id": s.org_id,
            "status": status, "status_detail": status_detail if detail else None,
            "title": s.title, "tags": list(s.tags), "pull_requests": [dict(p) for p in s.pull_requests],
            "created_at": int(self._wall(s.created)), "updated_at": int(self._wall(s.updated)),
            "acus_consumed": 0.25 * sum(m["source"] == "devin" for m in s.messages),
            "structured_output": None, "is_archived": s.archived,
            "user_id": s.body.get("create_as_user_id"), "service_user_id": "service-user-sim",
            "playbook_id": s.body.get("playbook_id"), "parent_session_id": None, "child_session_ids": None,
            "origin": "api", "category": None, "subcategory": None,
        }

    def _v1_message(self, m: dict[str, Any]) -> dict[str, Any]:
        out = {"type": m["type"], "event_id": m["event_id"], "message": m["message"], "timestamp": self._iso(m["at"])}
        if m["source"] == "user":
            out.update(username="sim-user", origin="api", user_id="user-sim")
        return out

    def _v1_session(self, s: _Session, *, summary: bool = False) -> dict[str, Any]:
        status, status_enum = _V1_VIEW[s.state]
        out: dict[str, Any] = {
            "session_id": s.session_id, "status": status, "status_enum": status_enum, "title": s.title,
            "created_at": self._iso(s.created), "updated_at": self._iso(s.updated),
            "snapshot_id": s.body.get("snapshot_id"), "playbook_id": s.body.get("playbook_id"),
            "tags": list(s.tags),
            "pull_request": {"url": s.pull_requests[-1]["pr_url"]} if s.pull_requests else None,
            "structured_output": None,
        }
        if summary:
            out["requesting_user_email"] = "sim-user@example.com"
        else:
            out["messages"] = [self._v1_message(m) for m in s.messages]
        return out

    # -- HTTP plumbing ------------------------------------------------------------------------------

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        request = self._read(handler)
        with self._lock:
            fault = self._take_fault(request.call)
            self.requests.append({
                "method": request.method, "path": request.path, "query": request.query, "body": request.body,
                "auth_kind": self._auth_kind(request.key), "call": request.call,
                "fault": fault.kind if fault else None, "at": time.monotonic(),
            })
        if fault is not None and self._fail_early(handler, request, fault):
            return
        with self._lock:
            reply = self._process(request)
        if fault is not None:
            if fault.kind == "drop":
                return self._drop(handler)
            if fault.kind == "bad_json":
                reply = _Reply(200, raw=_BROKEN_JSON)
            elif fault.kind in STATUS_FAULTS:  # after=True: the call happened, the answer is an error
                reply = self._fault_reply(request, fault)
        self._send(handler, reply)

    def _fail_early(self, handler: BaseHTTPRequestHandler, request: _Request, fault: _Fault) -> bool:
        """Faults that strike before the call is done; True when they already answered (or hung up)."""
        if fault.kind == "slow":
            self._stopping.wait(float(fault.opts.get("seconds", 2.0)))  # stop() cuts the wait short
            return False
        if fault.kind == "drop_before":
            self._drop(handler)
        elif fault.kind == "html":
            self._send(handler, _Reply(502, content_type="text/html; charset=utf-8", raw=_HTML_502))
        elif fault.kind in STATUS_FAULTS and not fault.opts.get("after"):
            self._send(handler, self._fault_reply(request, fault))
        else:
            return False
        return True

    @staticmethod
    def _read(handler: BaseHTTPRequestHandler) -> _Request:
        url = urlsplit(handler.path)
        try:
            length = int(handler.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        raw = handler.rfile.read(length) if length > 0 else b""
        body: Any = None
        invalid = False
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                invalid = True
        auth = handler.headers.get("Authorization") or ""
        scheme, _, token = auth.partition(" ")
        key = token.strip() if scheme.lower() == "bearer" and token.strip() else None
        api = "v1" if url.path.startswith("/v1/") else "v3" if url.path.startswith("/v3/") else None
        call, params, allowed = _route(handler.command, url.path)
        return _Request(method=handler.command, path=url.path, query=parse_qs(url.query, keep_blank_values=True),
                        body=body, body_invalid=invalid, key=key, api=api, call=call, params=params,
                        allowed=allowed)

    @staticmethod
    def _auth_kind(key: str | None) -> str | None:
        """The key's family for the request log; never the key."""
        if key is None:
            return None
        return "apk" if key.startswith("apk_") else "cog" if key.startswith("cog_") else "other"

    def _take_fault(self, call: str) -> _Fault | None:
        for fault in self._faults:
            if fault.call in (call, "any"):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    @staticmethod
    def _drop(handler: BaseHTTPRequestHandler) -> None:
        handler.close_connection = True  # the server closes the socket with nothing written

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, reply: _Reply) -> None:
        data = reply.raw if reply.raw is not None else json.dumps(reply.body).encode()
        try:
            handler.send_response(reply.status)
            handler.send_header("Content-Type", reply.content_type)
            handler.send_header("Content-Length", str(len(data)))
            handler.send_header("X-Request-Id", f"req-{uuid.uuid4().hex[:16]}")
            for name, value in reply.headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(data)
        except OSError:
            handler.close_connection = True  # the client left (timed out); nothing to tell it

    def _error(self, request: _Request, status: int, detail: str,
               errors: list[dict[str, Any]] | None = None) -> _Reply:
        """v3: RFC 9457 problem+json; v1 (and unknown prefixes): FastAPI's {"detail": …}."""
        if request.api != "v3":
            return _Reply(status, {"detail": errors if errors is not None else detail})
        problem: dict[str, Any] = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status,
                                   "detail": detail, "instance": request.path}
        if errors is not None:
            problem["errors"] = errors
        return _Reply(status, problem, content_type="application/problem+json")

    def _fault_reply(self, request: _Request, fault: _Fault) -> _Reply:
        status = int(fault.kind)
        reply = self._error(request, status, str(fault.opts.get("detail") or HTTPStatus(status).phrase))
        if status == 429:
            retry_after = fault.opts.get("retry_after", 1)
            if retry_after is not None:
                reply.headers["Retry-After"] = str(retry_after)
        return reply

    def _deny(self, request: _Request) -> _Reply | None:
        """401 for a missing or unknown key, 403 for a key of the wrong family or without permission."""
        key = request.key
        if key is None:
            return self._error(request, 401, "Missing or malformed Authorization header; expected 'Bearer <key>'")
        if "invalid" in key:
            return self._error(request, 401, "Invalid or expired API key")
        if self.keys is not None:
            family = self.keys.get(key)
        else:
            family = "v1" if key.startswith("apk_") else "v3" if key.startswith("cog_") else None
        if family is None:
            return self._error(request, 401, "Invalid or expired API key")
        if "forbidden" in key:
            return self._error(request, 403, "This credential lacks the permission for this action")
        if family != request.api:
            needed = "a cog_ service-user key" if request.api == "v3" else "a legacy apk_ key"
            return self._error(request, 403, f"The {request.api} API needs {needed}")
        return None

    def _process(self, request: _Request) -> _Reply:
        if request.api is None or (request.call == "other" and not request.allowed):
            if request.api is not None and self._path_exists(request):
                return self._error(request, 405, "Method Not Allowed")
            return self._error(request, 404, "Not Found")
        denied = self._deny(request)
        if denied:
            return denied
        if request.api == "v3" and request.call != "self":
            org = request.params.get("org")
            if org is not None and org != self.org_id:
                return self._error(request, 404, f"Organization {org} not found or not accessible")
        return cast(_Reply, getattr(self, f"_{request.api}_{request.call}")(request))

    @staticmethod
    def _path_exists(request: _Request) -> bool:
        return any(_route(method, request.path)[2] for method in ("GET", "POST", "DELETE"))

    def _session_or_404(self, request: _Request) -> _Session | _Reply:
        session = self._sessions.get(request.params.get("sid") or "")
        if session is None:
            return self._error(request, 404, f"Session {request.params.get('sid')} not found")
        self._advance(session, time.monotonic())
        return session

    # -- validation ---------------------------------------------------------------------------------

    def _invalid(self, request: _Request, errors: list[dict[str, Any]]) -> _Reply:
        text = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:]) or 'body'}: {e['msg']}" for e in errors)
        return self._error(request, 422, text, errors)

    def _body_errors(self, request: _Request, required: str,
                     optional_lists: tuple[str, ...]) -> list[dict[str, Any]]:
        body = request.body
        if request.body_invalid:
            return [{"loc": ["body"], "msg": "JSON decode error", "type": "json_invalid"}]
        if not isinstance(body, dict):
            return [{"loc": ["body"], "msg": "Input should be a valid dictionary", "type": "dict_type"}]
        errors: list[dict[str, Any]] = []
        if required not in body:
            errors.append({"loc": ["body", required], "msg": "Field required", "type": "missing"})
        elif not isinstance(body[required], str):
            errors.append({"loc": ["body", required], "msg": "Input should be a valid string", "type": "string_type"})
        for name in optional_lists:
            value = body.get(name)
            if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
                errors.append({"loc": ["body", name], "msg": "Input should be a list of strings", "type": "list_type"})
        if isinstance(body.get("tags"), list) and len(body["tags"]) > 50:
            errors.append({"loc": ["body", "tags"], "msg": "At most 50 tags", "type": "too_long"})
        if body.get("title") is not None and not isinstance(body.get("title"), str):
            errors.append({"loc": ["body", "title"], "msg": "Input should be a valid string", "type": "string_type"})
        return errors

    def _int_param(self, request: _Request, name: str, default: int, low: int, high: int) -> int | _Reply:
        values = request.query.get(name)
        if not values:
            return default
        try:
            value = int(values[-1])
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            return self._invalid(request, [{"loc": ["query", name], "type": "int_range",
                                            "msg": f"Input should be an integer from {low} to {high}"}])
        return value

    @staticmethod
    def _tag_filter(request: _Request) -> list[str]:
        return [*request.query.get("tags", []), *request.query.get("tags[]", [])]

    # -- v1 -----------------------------------------------------------------------------------------

    def _v1_create(self, request: _Request) -> _Reply:
        errors = self._body_errors(request, "prompt", ("tags",))
        if errors:
            return self._invalid(request, errors)
        body = request.body
        if body.get("idempotent") is True:
            existing = self._find_idempotent(body["prompt"], list(body.get("tags") or []))
            if existing is not None:
                return _Reply(200, {"session_id": existing.session_id, "url": _web_url(existing.session_id),
                                    "is_new_session": False})
        session = self._create(body, time.monotonic())
        return _Reply(200, {"session_id": session.session_id, "url": _web_url(session.session_id),
                            "is_new_session": True})

    def _v1_list(self, request: _Request) -> _Reply:
        limit = self._int_param(request, "limit", 100, 1, 1000)
        offset = self._int_param(request, "offset", 0, 0, 10**9)
        if isinstance(limit, _Reply):
            return limit
        if isinstance(offset, _Reply):
            return offset
        matched = self._matching_sessions(request)
        return _Reply(200, {"sessions": [self._v1_session(s, summary=True) for s in matched[offset:offset + limit]]})

    def _v1_get(self, request: _Request) -> _Reply:
        session = self._session_or_404(request)
        return session if isinstance(session, _Reply) else _Reply(200, self._v1_session(session))

    def _v1_send(self, request: _Request) -> _Reply:
        errors = self._body_errors(request, "message", ())
        if errors:
            return self._invalid(request, errors)
        session = self._session_or_404(request)
        if isinstance(session, _Reply):
            return session
        refused = self._reply(session, request.body["message"], time.monotonic())
        return _Reply(200, {"detail": refused} if refused else None)

    def _v1_terminate(self, request: _Request) -> _Reply:
        session = self._session_or_404(request)
        if isinstance(session, _Reply):
            return session
        self._terminate(session, False, time.monotonic())
        return _Reply(200, {"detail": "Session terminated"})

    # -- v3 -----------------------------------------------------------------------------------------

    def _v3_self(self, request: _Request) -> _Reply:
        return _Reply(200, dict(self.self_info))

    def _v3_create(self, request: _Request) -> _Reply:
        errors = self._body_errors(request, "prompt", ("tags", "repos"))
        if errors:
            return self._invalid(request, errors)
        session = self._create(request.body, time.monotonic())
        return _Reply(200, self._v3_session(session, detail=False))

    def _matching_sessions(self, request: _Request) -> list[_Session]:
        """Newest first, filtered by tags (all must match) and, for v3, session_ids."""
        tags = self._tag_filter(request)
        ids = [*request.query.get("session_ids", []), *request.query.get("session_ids[]", [])]
        now = time.monotonic()
        found = []
        for session in sorted(self._sessions.values(), key=lambda s: s.seq, reverse=True):
            if all(t in session.tags for t in tags) and (not ids or session.session_id in ids):
                self._advance(session, now)
                found.append(session)
        return found

    def _page(self, request: _Request, kind: str, items: list[Any],
              position: Any) -> tuple[list[Any], dict[str, Any]] | _Reply:
        """Cursor paging over `items`; `position(item)` is what a cursor remembers."""
        first = self._int_param(request, "first", 100, 1, 200)
        if isinstance(first, _Reply):
            return first
        start = 0
        after = (request.query.get("after") or [""])[-1]
        if after:
            mark = _decode_cursor(kind, after)
            if mark is None:
                return self._error(request, 400, "Invalid cursor in 'after'")
            start = next((i for i, item in enumerate(items) if not self._before_or_at(kind, position(item), mark)),
                         len(items))
        page = items[start:start + first]
        has_next = start + first < len(items)
        end_cursor = (_encode_cursor(kind, position(page[-1]))
                      if page and (has_next or self.end_cursor_on_last_page) else None)
        return page, {"end_cursor": end_cursor, "has_next_page": has_next, "total": len(items)}

    @staticmethod
    def _before_or_at(kind: str, position: int, mark: int) -> bool:
        """Whether an item was already served by a page ending at `mark` (sessions go newest first)."""
        return position >= mark if kind == "s" else position <= mark

    def _v3_list(self, request: _Request) -> _Reply:
        paged = self._page(request, "s", self._matching_sessions(request), lambda s: s.seq)
        if isinstance(paged, _Reply):
            return paged
        page, meta = paged
        return _Reply(200, {"items": [self._v3_session(s, detail=True) for s in page], **meta})

    def _v3_get(self, request: _Request) -> _Reply:
        session = self._session_or_404(request)
        return session if isinstance(session, _Reply) else _Reply(200, self._v3_session(session, detail=True))

    def _v3_messages(self, request: _Request) -> _Reply:
        session = self._session_or_404(request)
        if isinstance(session, _Reply):
            return session
        indexed = list(enumerate(session.messages))
        paged = self._page(request, "m", indexed, lambda pair: pair[0])
        if isinstance(paged, _Reply):
            return paged
        page, meta = paged
        items = [{"event_id": m["event_id"], "message": m["message"], "source": m["source"],
                  "created_at": int(self._wall(m["at"]))} for _, m in page]
        return _Reply(200, {"items": items, **meta})

    def _v3_send(self, request: _Request) -> _Reply:
        errors = self._body_errors(request, "message", ())
        if errors:
            return self._invalid(request, errors)
        session = self._session_or_404(request)
        if isinstance(session, _Reply):
            return session
        refused = self._reply(session, request.body["message"], time.monotonic())
        if refused:
            return self._error(request, 409, refused)
        return _Reply(200, self._v3_session(session, detail=False))

    def _v3_archive(self, request: _Request) -> _Reply:
        session = self._session_or_404(request)
        if isinstance(session, _Reply):
            return session
        self._archive(session)
        return _Reply(200, self._v3_session(session, detail=False))

    def _v3_terminate(self, request: _Request) -> _Reply:
        session = self._session_or_404(request)
        if isinstance(session, _Reply):
            return session
        archive = (request.query.get("archive") or ["false"])[-1].lower() in ("true", "1")
        self._terminate(session, archive, time.monotonic())
        return _Reply(200, self._v3_session(session, detail=False))

