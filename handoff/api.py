"""Devin API client (v1 for `apk_` keys, v3 for `cog_` keys) over httpx.

What it guarantees to its callers (launch, follow, the session commands, MCP):
- typed errors with the documented exit codes and one-line messages that never carry the key;
- bounded retries (time budget and attempts) with jittered backoff and `Retry-After`;
- never a duplicate session: a create that may have reached Devin is looked up by its unique
  client tag before anything is sent again; when even the lookup fails, `AmbiguousCreate` tells the
  caller to keep the handoff for `devin-handoff retry` (which looks the tag up first, too).

Imported only by commands that talk to the API (httpx is a heavy import).
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any, NoReturn

import httpx

from handoff import __version__
from handoff.config import APP_URL, Settings
from handoff.errors import ApiUnreachable, ConfigError, HandoffError, UsageError, mask_key, mask_secrets
from handoff.prompt import HANDOFF_TAG
from handoff.prompt import new_client_tag as new_client_tag  # re-exported: one definition of handoff tags

MAX_ATTEMPTS = 8
BACKOFF_BASE = 0.5    # seconds; the n-th retry waits up to base * 2**(n-1) ...
BACKOFF_CAP = 8.0     # ... but never more than this per sleep (unless the server's Retry-After says so)
MESSAGE_PAGE = 100    # v3 messages per page
LIST_PAGE_V3 = 200    # v3 `first` maximum
MAX_TAGS = 50
_RETRYABLE_STATUS = frozenset({429, 502, 503, 504})
_REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-correlation-id", "x-amzn-requestid")
_SESSION_ID = re.compile(r"^(?:devin-)?([A-Za-z0-9][A-Za-z0-9_-]{0,127})$")
_SESSION_URL = re.compile(r"^(?:https?://)?[^/\s]+(?:/[^/\s?#]+)*?/sessions/(?:devin-)?([A-Za-z0-9][A-Za-z0-9_-]{0,127})/?"
                          r"(?:[?#]\S*)?$")
_HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_MAX_REASON = 300


# -- ids ----------------------------------------------------------------------------------------------

def normalize_session_id(text: str) -> str:
    """'abc123', 'devin-abc123', 'https://app.devin.ai/sessions/abc123' (trailing / ? # tolerated) -> 'devin-abc123'."""
    candidate = (text or "").strip()
    match = _SESSION_ID.match(candidate) or _SESSION_URL.match(candidate)
    if not match:
        shown = candidate if len(candidate) <= 80 else candidate[:77] + "..."
        raise UsageError(f"not a Devin session id or URL: {mask_secrets(shown)!r}",
                         "use devin-<id>, <id>, or https://app.devin.ai/sessions/<id>")
    return f"devin-{match.group(1)}"


def _web_url(session_id: str) -> str:
    return f"{APP_URL}/sessions/{session_id.removeprefix('devin-')}"


# -- data ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PullRequest:
    url: str
    state: str | None


@dataclass(frozen=True)
class Message:
    event_id: str
    source: str  # 'devin' | 'user'
    text: str
    created_at: str | int | None


@dataclass(frozen=True)
class MessagePage:
    items: tuple[Message, ...]
    cursor: str | None  # pass back as `after`


SUCCESS_OUTCOMES = frozenset({"finished", "waiting_for_user", "exit"})
FAILURE_OUTCOMES = frozenset({"error", "suspended", "expired"})


@dataclass(frozen=True)
class Session:
    session_id: str
    url: str
    status: str
    status_detail: str | None
    title: str | None
    tags: tuple[str, ...]
    pull_requests: tuple[PullRequest, ...]
    created_at: str | int | None
    updated_at: str | int | None
    is_new_session: bool | None = None
    messages: tuple[Message, ...] = ()

    @property
    def outcome(self) -> str | None:
        """None while Devin is working; else finished/waiting_for_user/exit (success) or error/suspended/expired."""
        status = self.status.lower()
        detail = (self.status_detail or "").lower()
        if status == "error":
            return "error"
        if status == "suspended":
            return "suspended"
        if status == "expired" or detail == "expired":
            return "expired"
        if status == "exit":
            return "exit"
        if detail == "finished":
            return "finished"
        if detail in ("waiting_for_user", "blocked"):
            return "waiting_for_user"
        return None

    @property
    def succeeded(self) -> bool:
        return self.outcome in SUCCESS_OUTCOMES

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "session_id": self.session_id, "url": self.url, "status": self.status,
            "status_detail": self.status_detail, "outcome": self.outcome, "title": self.title,
            "tags": list(self.tags),
            "pull_requests": [{"url": pr.url, "state": pr.state} for pr in self.pull_requests],
            "created_at": self.created_at, "updated_at": self.updated_at,
        }
        if self.is_new_session is not None:
            data["is_new_session"] = self.is_new_session
        return data


# -- errors -------------------------------------------------------------------------------------------

class ApiError(HandoffError):
    """The API answered with an error, or could not be used; `.status` and `.request_id` when known."""

    def __init__(self, message: str, hint: str | None = None, *, status: int | None = None,
                 request_id: str | None = None) -> None:
        super().__init__(message, hint)
        self.status = status
        self.request_id = request_id


class AuthError(ConfigError, ApiError):
    """401/403: the key was rejected or lacks a permission (exit 4)."""


class NotFoundError(UsageError, ApiError):
    """404: no such session (or org) for this key (exit 2)."""


class ValidationError(UsageError, ApiError):
    """400/422: the API refused the request's content (exit 2)."""


class UnreachableError(ApiUnreachable, ApiError):
    """Connection refused or dropped, timeouts, 5xx/429 after the retries (exit 5)."""


class BadResponse(UnreachableError):
    """A success status with a body that is not the expected JSON (HTML page, broken JSON, missing fields)."""


class AmbiguousCreate(UnreachableError):
    """The create may have reached Devin and the lookup by client tag failed too: keep the handoff for `retry`."""


class _MaybeReceived(UnreachableError):
    """Internal: a non-idempotent call failed after its request may have been processed."""


class _MaybeInFlight(_MaybeReceived):
    """Internal: a create timed out; the server may still be working on it, so a lookup cannot prove
    it failed, and sending it again could make a second session."""


# -- parsing ------------------------------------------------------------------------------------------

def _one_line(text: str, limit: int = _MAX_REASON) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _time_value(value: Any) -> str | int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(value)
    return value if isinstance(value, str) and value else None


def _with_prefix(session_id: str) -> str:
    return session_id if session_id.startswith("devin-") else f"devin-{session_id}"


def _pull_requests(data: dict[str, Any]) -> tuple[PullRequest, ...]:
    """v3 `pull_requests[].pr_url` (tolerating `.url`), v1 `pull_request.url`."""
    raw: list[Any] = []
    if isinstance(data.get("pull_requests"), list):
        raw.extend(data["pull_requests"])
    if isinstance(data.get("pull_request"), dict):
        raw.append(data["pull_request"])
    found: list[PullRequest] = []
    for item in raw:
        if not isinstance(item, dict):
            continue
        url = _text_or_none(item.get("pr_url")) or _text_or_none(item.get("url"))
        if url and all(pr.url != url for pr in found):
            found.append(PullRequest(url, _text_or_none(item.get("pr_state")) or _text_or_none(item.get("state"))))
    return tuple(found)


def _message_id(item: dict[str, Any], text: str, created_at: Any) -> str:
    """The API's event id, or a stable stand-in (hash of what the message is) when it has none."""
    given = item.get("event_id") or item.get("id")
    if isinstance(given, (str, int)) and not isinstance(given, bool) and str(given):
        return str(given)
    digest = hashlib.sha256(f"{created_at}|{item.get('type') or item.get('source')}|{text}".encode()).hexdigest()
    return f"local-{digest[:16]}"


def parse_message(item: Any) -> Message:
    """v3 `{event_id, message, source, created_at}` or v1 `{type, event_id, message, timestamp}`."""
    if not isinstance(item, dict):
        raise BadResponse("the Devin API sent a message that is not a JSON object")
    text = item.get("message", item.get("text"))
    text = text if isinstance(text, str) else ("" if text is None else json.dumps(text))
    created_at = _time_value(item.get("created_at", item.get("timestamp")))
    source = item.get("source")
    if source not in ("devin", "user"):
        source = "devin" if item.get("type") == "devin_message" else "user"
    return Message(_message_id(item, text, created_at), source, text, created_at)


def parse_session(data: Any, *, created: bool = False) -> Session:
    """A session from any of the API's shapes (v1/v3 get, list item, create answer)."""
    if not isinstance(data, dict):
        raise BadResponse("the Devin API sent a session that is not a JSON object")
    raw_id = data.get("session_id") or data.get("devin_id")
    if not isinstance(raw_id, str) or not raw_id.strip():
        raise BadResponse("the Devin API sent a session without a session_id")
    session_id = _with_prefix(raw_id.strip())
    detail = _text_or_none(data.get("status_detail")) or _text_or_none(data.get("status_enum"))
    status = _text_or_none(data.get("status")) or detail or ("new" if created else None)
    if status is None:
        raise BadResponse(f"the Devin API sent session {session_id} without a status")
    tags = data.get("tags") if isinstance(data.get("tags"), list) else []
    raw_messages = data.get("messages") if isinstance(data.get("messages"), list) else []
    is_new = data.get("is_new_session")
    return Session(
        session_id=session_id,
        url=_text_or_none(data.get("url")) or _web_url(session_id),
        status=status,
        status_detail=detail,
        title=_text_or_none(data.get("title")),
        tags=tuple(t for t in tags if isinstance(t, str)),
        pull_requests=_pull_requests(data),
        created_at=_time_value(data.get("created_at")),
        updated_at=_time_value(data.get("updated_at")),
        is_new_session=is_new if isinstance(is_new, bool) else None,
        messages=tuple(parse_message(m) for m in raw_messages),
    )


def _list_items(data: Any) -> list[Any]:
    """v3 `{items: [...]}`, v1 `{sessions: [...]}`, or a bare list."""
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        for name in ("items", "sessions"):
            if isinstance(data.get(name), list):
                return data[name]
    raise BadResponse("the Devin API sent a list without items")


def _retry_after(response: httpx.Response) -> float | None:
    """`Retry-After` in seconds (a number or an HTTP date), None when absent or unreadable."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def _is_html(response: httpx.Response) -> bool:
    kind = response.headers.get("content-type", "").lower()
    return "html" in kind or response.text.lstrip()[:1] == "<"


def _html_title(response: httpx.Response) -> str:
    match = _HTML_TITLE.search(response.text)
    return f"an HTML page ({_one_line(match.group(1), 80)})" if match else "an HTML page"


def _format_field_errors(errors: list[Any]) -> str:
    """FastAPI `[{loc, msg}]` / problem+json `errors` -> 'tags: At most 50 tags; prompt: field required'."""
    parts = []
    for error in errors:
        if isinstance(error, dict):
            loc = error.get("loc") or error.get("field") or error.get("pointer")
            if isinstance(loc, list):
                loc = ".".join(str(p) for p in loc if p not in ("body", "query", "path"))
            msg = error.get("msg") or error.get("message") or error.get("detail") or ""
            parts.append(f"{loc}: {msg}" if loc else str(msg))
        else:
            parts.append(str(error))
    return "; ".join(p for p in parts if p)


def error_detail(response: httpx.Response) -> tuple[str, str | None]:
    """(one-line reason, request id) from `{"detail": str|list}`, problem+json, `.message`/`.error`, or HTML."""
    request_id = next((response.headers[h] for h in _REQUEST_ID_HEADERS if response.headers.get(h)), None)
    try:
        body = response.json()
    except ValueError:
        body = None
    reason = ""
    if isinstance(body, dict):
        request_id = request_id or _text_or_none(body.get("request_id")) or _text_or_none(body.get("requestId"))
        detail = body.get("detail")
        if isinstance(detail, list):
            reason = _format_field_errors(detail)
        elif isinstance(detail, str):
            reason = detail
        elif isinstance(body.get("message") or body.get("error"), str):
            reason = body.get("message") or body.get("error")
        if isinstance(body.get("errors"), list) and body["errors"]:
            fields = _format_field_errors(body["errors"])
            reason = f"{reason} ({fields})" if reason and fields not in reason else (reason or fields)
        title = _text_or_none(body.get("title"))
        if not reason and title:
            reason = title
    elif isinstance(body, str):
        reason = body
    elif response.content and _is_html(response):
        reason = _html_title(response)
    elif response.content:
        reason = response.text
    return _one_line(reason or response.reason_phrase or f"HTTP {response.status_code}"), request_id


# -- retry budget -------------------------------------------------------------------------------------

class _Budget:
    """Total time for one public call (its retries, and a create's lookups) and the sleep schedule."""

    def __init__(self, seconds: float, sleep: Callable[[float], None], rng: random.Random) -> None:
        self.seconds = seconds
        self._sleep = sleep
        self._rng = rng
        self._start = time.monotonic()
        self._slept = 0.0

    def spent(self) -> float:
        # max(): real time when `sleep` really sleeps, the requested sleeps when a test fakes it
        return max(time.monotonic() - self._start, self._slept)

    def remaining(self) -> float:
        return self.seconds - self.spent()

    def wait_before(self, attempt: int, retry_after: float | None) -> bool:
        """Sleep before attempt `attempt + 1`; False when the attempts or the time are used up."""
        remaining = self.remaining()
        if attempt >= MAX_ATTEMPTS or remaining <= 0:
            return False
        if retry_after is not None:
            if retry_after > remaining:
                return False  # the server asks for longer than we may wait: give up now, not later
            delay = retry_after
        else:
            delay = min(self._rng.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1))), remaining)
        self._sleep(delay)
        self._slept += delay
        return True


# -- client -------------------------------------------------------------------------------------------

_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)

# How a call may be repeated:
#   read   - GET and archive (idempotent): any transport failure, 429, 5xx, a broken success body
#   write  - send: only when provably not processed (not sent, 429, 503); a 502/504 may come after delivery
#   create - only when provably not processed; otherwise _MaybeReceived, resolved by a lookup by tag
_MODES = ("read", "write", "create")


class DevinClient:
    """One API key, one httpx.Client; see the module docstring for the guarantees."""

    def __init__(self, settings: Settings, *, connect_timeout: float = 5.0, read_timeout: float = 30.0,
                 retry_budget: float = 60.0, transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._key = settings.require_key()
        self.settings = settings
        self.version = settings.api_version
        self.retry_budget = retry_budget
        self._root = re.sub(r"/(v1|v3)$", "", settings.api_url.rstrip("/"))
        self._org: str | None = settings.org_id or None
        self._self_info: dict[str, Any] | None = None
        self._v1_singular = False  # the legacy /v1/session/{id} spelling answered where the plural did not
        self._sleep = sleep
        self._rng = random.Random()
        self._http = httpx.Client(
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            headers={"Authorization": f"Bearer {self._key}", "Accept": "application/json",
                     "User-Agent": f"devin-handoff/{__version__}"},
            transport=transport,
            follow_redirects=False,
            # plain http (the simulator, a local proxy) needs no CA bundle; loading it costs ~50 ms
            verify=not self._root.startswith("http://"),
        )

    # -- life cycle

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> DevinClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- public calls

    @property
    def org_id(self) -> str | None:
        """The v3 organization (resolved through /v3/self when not configured); None for v1."""
        return self._org_id() if self.version == "v3" else None

    def self_info(self) -> dict[str, Any]:
        """v3: GET /v3/self (who the key is, its org_id). v1: a key check (GET /v1/sessions?limit=1), {}."""
        if self.version == "v1":
            self._call("GET", f"{self._root}/v1/sessions", params={"limit": 1})
            return {}
        return dict(self._fetch_self())

    def create(self, body: dict[str, Any], *, client_tag: str) -> Session:
        """Create a session, never twice: an ambiguous failure is resolved by looking `client_tag` up."""
        payload = self._shape_create(body, client_tag)
        budget = self._budget()
        url = f"{self._base()}/sessions"
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                data = self._call("POST", url, body=payload, mode="create", budget=budget)
                session = parse_session(data, created=True)
            except BadResponse as exc:  # a success answer we cannot read: the session may exist
                cause: UnreachableError = exc
            except _MaybeReceived as exc:
                cause = exc
            else:  # v1 answers only {session_id, url, is_new_session}: fill in what we sent
                return replace(session, title=session.title or _text_or_none(payload.get("title")),
                               tags=session.tags or tuple(payload["tags"]))
            # Look the tag up at once (the answer was lost), then again after a pause (the server may
            # still be working on a create that timed out) before sending it again.
            found = self._lookup_created(client_tag, budget, cause)
            if found is None and budget.wait_before(attempt, None):
                found = self._lookup_created(client_tag, budget, cause)
            if found is not None:
                return found
            if isinstance(cause, _MaybeInFlight):
                # Not found yet proves nothing while a timed-out create may still be running: never resend;
                # the caller keeps the handoff and `retry` looks the tag up again later.
                self._raise(AmbiguousCreate, f"{cause.message}; the session may still be created (no session "
                                             f"with tag {client_tag} yet)", None, cause.status, cause.request_id)
            if attempt == MAX_ATTEMPTS or budget.remaining() <= 0:
                self._raise(UnreachableError, f"{cause.message}; no session was created (checked by tag "
                                              f"{client_tag})", "try again later", cause.status, cause.request_id)
        raise AssertionError("unreachable")  # pragma: no cover

    def get(self, session_id: str) -> Session:
        sid = normalize_session_id(session_id)
        if self.version == "v1":
            return parse_session(self._v1_session_call("GET", sid, ""))
        return parse_session(self._call("GET", f"{self._base()}/sessions/{sid}", session_id=sid))

    def messages(self, session_id: str, after: str | None = None) -> MessagePage:
        """Messages after the cursor `after`, oldest first. v3 pages through all of them; v1 slices the
        list embedded in the session after the event id `after`."""
        sid = normalize_session_id(session_id)
        if self.version == "v1":
            items = self.get(sid).messages
            ids = [m.event_id for m in items]
            if after and after in ids:
                items = items[ids.index(after) + 1:]
            return MessagePage(items, items[-1].event_id if items else after)
        return self._v3_messages(sid, after)

    def send(self, session_id: str, message: str) -> None:
        if not message.strip():
            raise UsageError("the message is empty", "say what Devin should do next")
        sid = normalize_session_id(session_id)
        if self.version == "v3":
            self._call("POST", f"{self._base()}/sessions/{sid}/messages", body={"message": message},
                       mode="write", session_id=sid, parse=False)
            return
        answer = self._v1_session_call("POST", sid, "/message", body={"message": message}, mode="write")
        if isinstance(answer, dict) and _text_or_none(answer.get("detail")):
            # v1 answers 200 {"detail": …} when the session is in a state that does not take messages
            self._raise(ApiError, f"Devin did not take the message for {sid}: {_one_line(answer['detail'])}",
                        "check the session's state with `devin-handoff status`", 200, None)

    def list_sessions(self, tag: str | None = HANDOFF_TAG, limit: int = 100) -> list[Session]:
        """Sessions newest first, those carrying `tag` (all when None), at most `limit`."""
        return self._list(tag, limit, self._budget())

    def archive(self, session_id: str) -> Session:
        sid = normalize_session_id(session_id)
        if self.version == "v1":
            raise ConfigError("archiving needs a cog_ key: apk_ keys use the v1 API, which has no archive",
                              f"archive it in the web app ({_web_url(sid)}) or set a cog_ service-user key")
        return parse_session(self._call("POST", f"{self._base()}/sessions/{sid}/archive", mode="read",
                                        session_id=sid))

    # -- helpers: paths, org

    def _budget(self) -> _Budget:
        return _Budget(self.retry_budget, self._sleep, self._rng)

    def _base(self) -> str:
        if self.version == "v1":
            return f"{self._root}/v1"
        return f"{self._root}/v3/organizations/{self._org_id()}"

    def _org_id(self) -> str:
        if not self._org:
            org = self._fetch_self().get("org_id")
            if not isinstance(org, str) or not org:
                raise ConfigError("the key's identity (GET /v3/self) names no organization",
                                  "set DEVIN_ORG_ID or pass --org-id (Settings → Devin API shows the org id)")
            self._org = org
        return self._org

    def _fetch_self(self) -> dict[str, Any]:
        if self._self_info is None:
            data = self._call("GET", f"{self._root}/v3/self")
            if not isinstance(data, dict):
                self._raise(BadResponse, "the Devin API's /v3/self answer is not a JSON object", None, 200, None)
            self._self_info = data
        return self._self_info

    def _v1_session_call(self, method: str, sid: str, suffix: str, *, body: Any = None,
                         mode: str = "read") -> Any:
        """v1 session paths: the plural spelling first, the legacy singular once on a 404."""
        spellings = ["session", "sessions"] if self._v1_singular else ["sessions", "session"]
        for index, spelling in enumerate(spellings):
            url = f"{self._root}/v1/{spelling}/{sid}{suffix}"
            try:
                answer = self._call(method, url, body=body, mode=mode, session_id=sid)
            except NotFoundError:
                if index == len(spellings) - 1:
                    raise
                continue
            self._v1_singular = spelling == "session"
            return answer
        raise AssertionError("unreachable")  # pragma: no cover

    def _shape_create(self, body: dict[str, Any], client_tag: str) -> dict[str, Any]:
        """v1: idempotent, no v3-only fields; v3: create_as_user_id from settings; the client tag always in tags."""
        payload = dict(body)
        tags = [t for t in (payload.get("tags") or []) if t != client_tag]
        payload["tags"] = [*tags[:MAX_TAGS - 1], client_tag]
        if self.version == "v1":
            for name in ("repos", "create_as_user_id"):
                payload.pop(name, None)
            payload["idempotent"] = True
        else:
            payload.pop("idempotent", None)
            if self.settings.user_id and not payload.get("create_as_user_id"):
                payload["create_as_user_id"] = self.settings.user_id
        return payload

    # -- helpers: calls

    def _lookup_created(self, client_tag: str, budget: _Budget, cause: UnreachableError) -> Session | None:
        try:
            found = self._list(client_tag, 10, budget)
        except ApiError as exc:
            self._raise(AmbiguousCreate, f"the session may have been created ({cause.message}) and looking it up "
                                         f"by tag {client_tag} failed ({exc.message})",
                        None, cause.status, cause.request_id)
        return found[0] if found else None

    def _list(self, tag: str | None, limit: int, budget: _Budget) -> list[Session]:
        sessions: list[Session] = []
        after: str | None = None
        while len(sessions) < limit:
            want = limit - len(sessions)
            if self.version == "v1":
                params: dict[str, Any] = {"limit": want, "offset": len(sessions)}
            else:
                params = {"first": min(want, LIST_PAGE_V3)}
                if after:
                    params["after"] = after
            if tag:
                params["tags"] = tag
            data = self._call("GET", f"{self._base()}/sessions", params=params, budget=budget)
            page = [parse_session(item) for item in _list_items(data)]
            sessions.extend(page)
            if self.version == "v1":
                if len(page) < want or not page:
                    break
            else:
                after = data.get("end_cursor") if isinstance(data, dict) else None
                if not (isinstance(data, dict) and data.get("has_next_page") and after and page):
                    break
        # a server that ignores the filter must not make us adopt someone else's session
        return [s for s in sessions if not tag or tag in s.tags][:limit]

    def _v3_messages(self, sid: str, after: str | None) -> MessagePage:
        items: list[Message] = []
        cursor = after
        budget = self._budget()
        while True:
            params: dict[str, Any] = {"first": MESSAGE_PAGE}
            if cursor:
                params["after"] = cursor
            data = self._call("GET", f"{self._base()}/sessions/{sid}/messages", params=params, session_id=sid,
                              budget=budget)
            items.extend(parse_message(item) for item in _list_items(data))
            end_cursor = _text_or_none(data.get("end_cursor")) if isinstance(data, dict) else None
            if end_cursor:
                cursor = end_cursor  # null on the last page: keep the previous one
            if not (end_cursor and isinstance(data, dict) and data.get("has_next_page")):
                return MessagePage(tuple(items), cursor)

    def _call(self, method: str, url: str, *, params: dict[str, Any] | None = None, body: Any = None,
              mode: str = "read", session_id: str | None = None, parse: bool = True,
              budget: _Budget | None = None) -> Any:
        """One API call with the retry rules of `mode`; the decoded JSON answer (None when not `parse`)."""
        assert mode in _MODES
        budget = budget or self._budget()
        attempt = 0
        while True:
            attempt += 1
            retry_after: float | None = None
            try:
                response = self._http.request(method, url, params=params, json=body)
            except httpx.TransportError as exc:
                error = self._transport_error(exc, mode)
            else:
                status = response.status_code
                if status < 300:
                    try:
                        return self._decode(response) if parse else None
                    except BadResponse as exc:
                        if mode == "write":
                            return None  # delivered; the answer's body is not needed
                        if mode == "create":
                            raise
                        error = exc
                elif status in _RETRYABLE_STATUS or status >= 500:
                    error, retry_after = self._server_error(response, mode)
                else:
                    self._raise_for(response, session_id)
            if not budget.wait_before(attempt, retry_after):
                raise error

    def _transport_error(self, exc: httpx.TransportError, mode: str) -> UnreachableError:
        """Retryable as UnreachableError, or raised at once when a non-idempotent call may have landed."""
        where = httpx.URL(self._root).host or self._root
        what = type(exc).__name__
        if isinstance(exc, _NOT_SENT):
            reason = f"could not connect to the Devin API at {where} ({what}: {_one_line(str(exc), 120)})"
            return self._error(UnreachableError, reason, "check the network and DEVIN_API_URL", None, None)
        if isinstance(exc, httpx.TimeoutException):
            reason = f"the Devin API at {where} did not answer in time ({what})"
        else:
            reason = f"the connection to the Devin API at {where} broke ({what}: {_one_line(str(exc), 120)})"
        if mode == "create":
            timed_out = isinstance(exc, httpx.TimeoutException)
            self._raise(_MaybeInFlight if timed_out else _MaybeReceived, reason, None, None, None)
        if mode == "write":
            self._raise(UnreachableError, reason, "it may have been delivered: check the session before resending",
                        None, None)
        return self._error(UnreachableError, reason, "check the network and DEVIN_API_URL", None, None)

    def _server_error(self, response: httpx.Response, mode: str) -> tuple[UnreachableError, float | None]:
        """5xx/429: the error to raise when the retries run out (or at once when it must not be retried)."""
        status = response.status_code
        detail, request_id = error_detail(response)
        retry_after = _retry_after(response) if status in (429, 503) else None
        if status == 429:
            reason = f"the Devin API is rate limiting us (429: {detail})"
            if retry_after is not None:
                reason += f"; it asks to wait {retry_after:.0f} s"
        else:
            reason = f"the Devin API failed ({status}: {detail})"
        provably_refused = status in (429, 503)
        if mode == "create" and not provably_refused:
            self._raise(_MaybeReceived, reason, None, status, request_id)
        if mode == "write" and not provably_refused:
            self._raise(UnreachableError, reason, "it may have been delivered: check the session before resending",
                        status, request_id)
        return self._error(UnreachableError, reason, "try again later", status, request_id), retry_after

    def _decode(self, response: httpx.Response) -> Any:
        if not response.content:
            return None
        if _is_html(response):
            self._raise(BadResponse, f"the Devin API answered {response.status_code} with {_html_title(response)} "
                                     "instead of JSON", "check DEVIN_API_URL", response.status_code, None)
        try:
            return response.json()
        except ValueError:
            self._raise(BadResponse, f"the Devin API answered {response.status_code} with invalid JSON",
                        None, response.status_code, None)

    def _raise_for(self, response: httpx.Response, session_id: str | None) -> NoReturn:
        """4xx (other than 429): the typed error, with what to do about it."""
        status = response.status_code
        detail, request_id = error_detail(response)
        if status == 401:
            self._raise(AuthError, f"the Devin API rejected the key {mask_key(self._key)} (401: {detail})",
                        "check DEVIN_API_KEY: mistyped, revoked or expired?", status, request_id)
        if status == 403:
            self._raise(AuthError, f"the key {mask_key(self._key)} is not allowed to do this (403: {detail})",
                        self._forbidden_hint(), status, request_id)
        if status == 404:
            if session_id:
                self._raise(NotFoundError, f"no session {session_id} (404: {detail})",
                            "check the id and that the key's org owns it", status, request_id)
            self._raise(NotFoundError, f"the Devin API has no such resource (404: {detail})",
                        self._not_found_hint(), status, request_id)
        if status in (400, 422):
            self._raise(ValidationError, f"the Devin API refused the request ({status}: {detail})",
                        None, status, request_id)
        self._raise(ApiError, f"the Devin API refused the request ({status}: {detail})", None, status, request_id)

    def _forbidden_hint(self) -> str:
        if self.version == "v3":
            return (f"the cog_ key needs session permissions (ViewOrgSessions/ManageOrgSessions) in org "
                    f"{self._org or '(unresolved)'}; check DEVIN_ORG_ID/--org-id")
        return "apk_ keys work with the v1 API only and act with their org's permissions; v3 needs a cog_ key"

    def _not_found_hint(self) -> str:
        if self.version == "v3":
            return "check DEVIN_ORG_ID/--org-id and DEVIN_API_URL"
        return "check DEVIN_API_URL"

    # -- helpers: masked errors

    def _clean(self, text: str) -> str:
        if self._key:
            text = text.replace(self._key, mask_key(self._key))
        return mask_secrets(text)

    def _error(self, cls: type[ApiError], message: str, hint: str | None, status: int | None,
               request_id: str | None) -> Any:
        if request_id:
            message = f"{message} [request id {_one_line(request_id, 80)}]"
        return cls(self._clean(message), self._clean(hint) if hint else None, status=status,
                   request_id=self._clean(request_id) if request_id else None)

    def _raise(self, cls: type[ApiError], message: str, hint: str | None, status: int | None,
               request_id: str | None) -> NoReturn:
        raise self._error(cls, message, hint, status, request_id)
