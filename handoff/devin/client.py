"""The Devin API transport over httpx: one client object, explicit timeouts, bounded retries, typed errors.

What it guarantees to its callers (the use cases in handoff/app/, the follower, the faces):
- typed errors (`handoff/devin/errors.py`) with the documented exit codes and one-line messages that
  never carry the key;
- every request ends by an overall deadline (handoff/devin/network.py), whatever the server trickles;
- bounded retries (time budget and attempts) with jittered backoff and `Retry-After` (seconds or an HTTP
  date, never under a floor), timed by an injected `Runtime` (handoff/runtime.py) so tests run them for
  real with a fake clock; each wait is told to `Runtime.on_wait` before it starts (the CLI shows a line);
- a proxy from the environment (http or SOCKS) is used and, when it fails, named (without credentials);
- never a duplicate session: a create that may have reached Devin is looked up by its unique
  client tag before anything is sent again; when even the lookup fails, `AmbiguousCreate` tells the
  caller to keep the handoff for `devin-handoff retry` (which looks the tag up first, too).

What differs between API versions (paths, bodies, answers) lives in `handoff/devin/dialect.py`.
The only module that imports httpx; imported only when a request is about to be made.
"""

from __future__ import annotations

import email.utils
import os
import random
import re
from dataclasses import replace
from datetime import timezone
from typing import Any, NoReturn

from handoff import __version__
from handoff.config import Settings
from handoff.devin._http import httpx
from handoff.devin.dialect import Dialect, dialect_for, one_line, parse_attachment, parse_session, text_or_none
from handoff.devin.errors import (
    AmbiguousCreate,
    ApiError,
    AuthError,
    BadResponse,
    MaybeInFlight,
    MaybeReceived,
    NotFoundError,
    UnreachableError,
    ValidationError,
)
from handoff.devin.ids import normalize_session_id
from handoff.devin.models import Attachment, MessagePage, Session
from handoff.devin.network import Proxy, RequestDeadline, deadline, make_transport, proxy_for
from handoff.errors import UsageError, mask_key, mask_secrets
from handoff.lazy_regex import lazy_compile
from handoff.runtime import Runtime, Wait, current
from handoff.tags import HANDOFF_TAG

MAX_ATTEMPTS = 8
BACKOFF_BASE = 0.5    # seconds; the n-th retry waits up to base * 2**(n-1) ...
BACKOFF_CAP = 8.0     # ... but never more than this per sleep (unless the server's Retry-After says so)
RETRY_AFTER_FLOOR = 1.0   # a Retry-After of 0, or a date already past, still waits this long
REQUEST_DEADLINE = 40.0   # seconds one request may take in all (connect, send, the whole answer)
UPLOAD_RATE = 250_000     # bytes/s an attachment upload is given time for (2 Mbit/s: 50 MB in ~4 min)
_RETRYABLE_STATUS = frozenset({429, 502, 503, 504})
_REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-correlation-id", "x-amzn-requestid")
_HTML_TITLE = lazy_compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


# -- reading HTTP answers -----------------------------------------------------------------------------

def retry_after_seconds(response: httpx.Response, now: float) -> float | None:
    """`Retry-After` in seconds (a number, or an HTTP date against the wall clock `now`), never under
    RETRY_AFTER_FLOOR; None when absent or unreadable."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # RFC 9110 dates are GMT
            when = when.replace(tzinfo=timezone.utc)
        seconds = when.timestamp() - now
    if seconds != seconds or seconds == float("inf"):  # NaN, inf: unreadable
        return None
    return max(RETRY_AFTER_FLOOR, seconds)


def _is_html(response: httpx.Response) -> bool:
    kind = response.headers.get("content-type", "").lower()
    return "html" in kind or response.text.lstrip()[:1] == "<"


def _html_title(response: httpx.Response) -> str:
    match = _HTML_TITLE.search(response.text)
    return f"an HTML page ({one_line(match.group(1), 80)})" if match else "an HTML page"


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
        request_id = request_id or text_or_none(body.get("request_id")) or text_or_none(body.get("requestId"))
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
        title = text_or_none(body.get("title"))
        if not reason and title:
            reason = title
    elif isinstance(body, str):
        reason = body
    elif response.content and _is_html(response):
        reason = _html_title(response)
    elif response.content:
        reason = response.text
    return one_line(reason or response.reason_phrase or f"HTTP {response.status_code}"), request_id


# -- retry budget -------------------------------------------------------------------------------------

class _Budget:
    """Total time for one public call (its retries, and a create's lookups) and the sleep schedule."""

    def __init__(self, seconds: float, runtime: Runtime, rng: random.Random) -> None:
        self.seconds = seconds
        self._runtime = runtime
        self._rng = rng
        self._start = runtime.clock()
        self._slept = 0.0

    def spent(self) -> float:
        # max(): the clock's time when `sleep` moves it, the requested sleeps when a test only records them
        return max(self._runtime.clock() - self._start, self._slept)

    def remaining(self) -> float:
        return self.seconds - self.spent()

    def wait_before(self, attempt: int, retry_after: float | None, reason: str = "the Devin API failed",
                    then: str = "retrying") -> bool:
        """Tell, then sleep before attempt `attempt + 1`; False when the attempts or the time are used up."""
        remaining = self.remaining()
        if attempt >= MAX_ATTEMPTS or remaining <= 0:
            return False
        if retry_after is not None:
            if retry_after > remaining:
                return False  # the server asks for longer than we may wait: give up now, not later
            delay = retry_after
        else:
            delay = min(self._rng.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1))), remaining)
        self._runtime.on_wait(Wait(reason, delay, attempt, then))
        self._runtime.sleep(delay)
        self._slept += delay
        return True


# -- client -------------------------------------------------------------------------------------------

_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)

# How a call may be repeated:
#   read   - GET and archive (idempotent): any transport failure, 429, 5xx, a broken success body
#   write  - send: only when provably not processed (not sent, 429, 503); a 502/504 may come after delivery
#   create - only when provably not processed; otherwise MaybeReceived, resolved by a lookup by tag
_MODES = ("read", "write", "create")


class DevinClient:
    """One API key, one httpx.Client, one dialect; see the module docstring for the guarantees."""

    def __init__(self, settings: Settings, *, connect_timeout: float = 5.0, read_timeout: float = 30.0,
                 retry_budget: float = 60.0, request_deadline: float | None = None,
                 transport: httpx.BaseTransport | None = None, runtime: Runtime | None = None) -> None:
        self._key = settings.require_key()
        self.settings = settings
        self.retry_budget = retry_budget
        self.request_deadline = REQUEST_DEADLINE if request_deadline is None else request_deadline
        self.root = re.sub(r"/(v1|v3)$", "", settings.api_url.rstrip("/"))
        self.runtime = runtime or current()
        self._rng = random.Random()
        self.proxy: Proxy | None = proxy_for(self.root) if transport is None else None
        self.dialect: Dialect = dialect_for(self, settings)
        # plain http (the simulator) needs no CA bundle; loading it costs ~50 ms
        verify = not self.root.startswith("http://")
        self._http = httpx.Client(
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            headers={"Authorization": f"Bearer {self._key}", "Accept": "application/json",
                     "User-Agent": f"devin-handoff/{__version__}"},
            transport=transport or make_transport(self.proxy, verify=verify),
            follow_redirects=False,
            verify=verify,
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
    def version(self) -> str:
        return self.dialect.version

    @property
    def messages_with_session(self) -> bool:
        """A get carries the session's messages, so one request shows everything."""
        return self.dialect.messages_with_session

    @property
    def in_organization(self) -> bool:
        """Session paths name an organization (its id set, or resolved through the key's identity)."""
        return self.dialect.in_organization

    @property
    def org_id(self) -> str | None:
        """The organization the key works in (resolved when the API needs one), else None."""
        return self.dialect.org_id

    def self_info(self) -> dict[str, Any]:
        """Who the key is (its org_id when the API says); at the least, proof that the key works."""
        return self.dialect.self_info()

    def create(self, body: dict[str, Any], *, client_tag: str) -> Session:
        """Create a session, never twice: an ambiguous failure is resolved by looking `client_tag` up."""
        payload = self.dialect.shape_create(body, client_tag)
        budget = self._budget()
        url = self.dialect.sessions_url()
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                data = self.call("POST", url, body=payload, mode="create", budget=budget)
                session = parse_session(data, created=True)
            except BadResponse as exc:  # a success answer we cannot read: the session may exist
                cause: UnreachableError = exc
            except MaybeReceived as exc:
                cause = exc
            else:  # some answers carry only {session_id, url, is_new_session}: fill in what we sent
                return replace(session, title=session.title or text_or_none(payload.get("title")),
                               tags=session.tags or tuple(payload["tags"]), messages=None)
            # Look the tag up at once (the answer was lost), then again after a pause (the server may
            # still be working on a create that timed out) before sending it again.
            found = self._lookup_created(client_tag, budget, cause)
            if found is None and budget.wait_before(attempt, None, f"no session with tag {client_tag} yet",
                                                    "looking again"):
                found = self._lookup_created(client_tag, budget, cause)
            if found is not None:
                return found
            if isinstance(cause, MaybeInFlight):
                # Not found yet proves nothing while a timed-out create may still be running: never resend;
                # the caller keeps the handoff and `retry` looks the tag up again later.
                self.fail(AmbiguousCreate, f"{cause.message}; the session may still be created (no session "
                                           f"with tag {client_tag} yet)", None, cause.status, cause.request_id)
            if attempt == MAX_ATTEMPTS or budget.remaining() <= 0:
                self.fail(UnreachableError, f"{cause.message}; no session was created (checked by tag "
                                            f"{client_tag})", "try again later", cause.status, cause.request_id)
        raise AssertionError("unreachable")  # pragma: no cover

    def get(self, session_id: str) -> Session:
        return self.dialect.get(normalize_session_id(session_id))

    def upload_attachment(self, path: str, name: str) -> Attachment:
        """Upload a file (multipart field `file`, streamed from disk); its URL for a session to be given.

        Retried like a read: an upload that landed but whose answer was lost only leaves an attachment
        that no session names, which is harmless; a session is never created here."""
        # A request deadline fit for the size: at least UPLOAD_RATE bytes a second on top of the usual one.
        seconds = self.request_deadline + os.path.getsize(path) / UPLOAD_RATE
        with open(path, "rb") as handle:
            data = self.call("POST", self.dialect.attachments_url(), mode="read",
                             files={"file": (name, handle, "application/octet-stream")},
                             budget=_Budget(max(self.retry_budget, 2 * seconds), self.runtime, self._rng),
                             request_deadline=seconds)
        return parse_attachment(data)

    def messages(self, session_id: str, after: str | None = None) -> MessagePage:
        """Messages after the cursor `after`, oldest first (all pages)."""
        return self.dialect.messages(normalize_session_id(session_id), after, self._budget())

    def send(self, session_id: str, message: str) -> None:
        if not message.strip():
            raise UsageError("the message is empty", "say what Devin should do next")
        self.dialect.send(normalize_session_id(session_id), message)

    def list_sessions(self, tag: str | None = HANDOFF_TAG, limit: int | None = None) -> list[Session]:
        """Sessions newest first, those carrying `tag` (all when None), every page (at most `limit`)."""
        return self.dialect.list_sessions(tag, limit, self._budget())

    def archive(self, session_id: str) -> Session:
        return self.dialect.archive(normalize_session_id(session_id))

    # -- helpers

    def _budget(self) -> _Budget:
        return _Budget(self.retry_budget, self.runtime, self._rng)

    def _lookup_created(self, client_tag: str, budget: _Budget, cause: UnreachableError) -> Session | None:
        try:
            found = self.dialect.list_sessions(client_tag, 1, budget)  # the tag is unique: stop at the first
        except ApiError as exc:
            self.fail(AmbiguousCreate, f"the session may have been created ({cause.message}) and looking it up "
                                       f"by tag {client_tag} failed ({exc.message})",
                      None, cause.status, cause.request_id)
        return found[0] if found else None

    # -- transport (what the dialect calls)

    def call(self, method: str, url: str, *, params: dict[str, Any] | None = None, body: Any = None,
              mode: str = "read", session_id: str | None = None, parse: bool = True,
              budget: _Budget | None = None, files: Any = None, request_deadline: float | None = None) -> Any:
        """One API call with the retry rules of `mode`; the decoded JSON answer (None when not `parse`)."""
        assert mode in _MODES
        budget = budget or self._budget()
        attempt = 0
        while True:
            attempt += 1
            wait_after: float | None = None
            try:
                # the last attempt gets what is left of the budget, but always a fair chance to answer
                with deadline(min(request_deadline or self.request_deadline, max(budget.remaining(), 1.0))) as limit:
                    response = self._http.request(method, url, params=params, json=body, files=files)
            except httpx.TransportError as exc:
                error = self._transport_error(exc, mode, limit)
                why = self._transport_wait_reason(exc)
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
                        error, why = exc, f"API answered {status} with a body we cannot read"
                elif status in _RETRYABLE_STATUS or status >= 500:
                    error, wait_after = self._server_error(response, mode)
                    why = {429: "API rate limit (429)", 503: "API busy (503)"}.get(status, f"API failed ({status})")
                else:
                    self._raise_for(response, session_id)
            if not budget.wait_before(attempt, wait_after, why):
                raise error

    def _transport_wait_reason(self, exc: httpx.TransportError) -> str:
        if self.proxy is not None and isinstance(exc, (httpx.ConnectError, httpx.ProxyError)):
            return f"proxy {self.proxy.shown} failed ({type(exc).__name__})"
        if isinstance(exc, httpx.TimeoutException):
            return f"API did not answer in time ({type(exc).__name__})"
        return f"API unreachable ({type(exc).__name__})"

    def _transport_error(self, exc: httpx.TransportError, mode: str, limit: RequestDeadline) -> UnreachableError:
        """Retryable as UnreachableError, or raised at once when a non-idempotent call may have landed."""
        where = httpx.URL(self.root).host or self.root
        what = type(exc).__name__
        if self.proxy is not None and isinstance(exc, httpx.ProxyError):
            reason = (f"the proxy {self.proxy.shown} ({self.proxy.variable}) would not reach {where} "
                      f"({what}: {one_line(str(exc), 120)})")
            return self._error(UnreachableError, reason, f"check {self.proxy.variable}", None, None)
        if isinstance(exc, _NOT_SENT):
            if self.proxy is not None and not isinstance(exc, httpx.UnsupportedProtocol):
                reason = (f"could not connect to the proxy {self.proxy.shown} ({self.proxy.variable}) "
                          f"on the way to {where} ({what}: {one_line(str(exc), 120)})")
                return self._error(UnreachableError, reason, f"check {self.proxy.variable}", None, None)
            reason = f"could not connect to the Devin API at {where} ({what}: {one_line(str(exc), 120)})"
            return self._error(UnreachableError, reason, "check the network and DEVIN_API_URL", None, None)
        if isinstance(exc, httpx.TimeoutException) and limit.passed:
            reason = (f"the Devin API at {where} did not finish answering within the {limit.seconds:g} s "
                      f"a request may take ({what})")
        elif isinstance(exc, httpx.TimeoutException):
            reason = f"the Devin API at {where} did not answer in time ({what})"
        else:
            reason = f"the connection to the Devin API at {where} broke ({what}: {one_line(str(exc), 120)})"
        if mode == "create":
            timed_out = isinstance(exc, httpx.TimeoutException)
            self.fail(MaybeInFlight if timed_out else MaybeReceived, reason, None, None, None)
        if mode == "write":
            self.fail(UnreachableError, reason, "it may have been delivered: check the session before resending",
                        None, None)
        return self._error(UnreachableError, reason, "check the network and DEVIN_API_URL", None, None)

    def _server_error(self, response: httpx.Response, mode: str) -> tuple[UnreachableError, float | None]:
        """5xx/429: the error to raise when the retries run out (or at once when it must not be retried)."""
        status = response.status_code
        detail, request_id = error_detail(response)
        wait = retry_after_seconds(response, self.runtime.wall()) if status in (429, 503) else None
        if status == 429:
            reason = f"the Devin API is rate limiting us (429: {detail})"
            if wait is not None:
                reason += f"; it asks to wait {wait:.0f} s"
        else:
            reason = f"the Devin API failed ({status}: {detail})"
        provably_refused = status in (429, 503)
        if mode == "create" and not provably_refused:
            self.fail(MaybeReceived, reason, None, status, request_id)
        if mode == "write" and not provably_refused:
            self.fail(UnreachableError, reason, "it may have been delivered: check the session before resending",
                        status, request_id)
        error = self._error(UnreachableError, reason, "try again later", status, request_id)
        error.retry_after = wait  # the follower waits it out itself (handoff/follow.py)
        return error, wait

    def _decode(self, response: httpx.Response) -> Any:
        if not response.content:
            return None
        if _is_html(response):
            self.fail(BadResponse, f"the Devin API answered {response.status_code} with {_html_title(response)} "
                                     "instead of JSON", "check DEVIN_API_URL", response.status_code, None)
        try:
            return response.json()
        except ValueError:
            self.fail(BadResponse, f"the Devin API answered {response.status_code} with invalid JSON",
                        None, response.status_code, None)

    def _raise_for(self, response: httpx.Response, session_id: str | None) -> NoReturn:
        """4xx (other than 429): the typed error, with what to do about it."""
        status = response.status_code
        detail, request_id = error_detail(response)
        if status == 401:
            self.fail(AuthError, f"the Devin API rejected the key {mask_key(self._key)} (401: {detail})",
                        "check DEVIN_API_KEY: mistyped, revoked or expired?", status, request_id)
        if status == 403:
            self.fail(AuthError, f"the key {mask_key(self._key)} is not allowed to do this (403: {detail})",
                        self.dialect.forbidden_hint(), status, request_id)
        if status == 404:
            if session_id:
                self.fail(NotFoundError, f"no session {session_id} (404: {detail})",
                            "check the id and that the key's org owns it", status, request_id)
            self.fail(NotFoundError, f"the Devin API has no such resource (404: {detail})",
                        self.dialect.not_found_hint(), status, request_id)
        if status in (400, 422):
            self.fail(ValidationError, f"the Devin API refused the request ({status}: {detail})",
                        None, status, request_id)
        self.fail(ApiError, f"the Devin API refused the request ({status}: {detail})", None, status, request_id)

    # -- helpers: masked errors

    def _clean(self, text: str) -> str:
        if self._key:
            text = text.replace(self._key, mask_key(self._key))
        return mask_secrets(text)

    def _error(self, cls: type[ApiError], message: str, hint: str | None, status: int | None,
               request_id: str | None) -> Any:
        if request_id:
            message = f"{message} [request id {one_line(request_id, 80)}]"
        return cls(self._clean(message), self._clean(hint) if hint else None, status=status,
                   request_id=self._clean(request_id) if request_id else None)

    def fail(self, cls: type[ApiError], message: str, hint: str | None, status: int | None,
               request_id: str | None) -> NoReturn:
        raise self._error(cls, message, hint, status, request_id)
