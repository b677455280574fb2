"""The one place that says v1 or v3: paths, the shape of request bodies, and reading answers into
the internal model (`handoff/devin/models.py`).

`apk_` keys speak v1 (`/v1/sessions…`, `status_enum`, messages inside the session, `idempotent`
creates); `cog_` keys speak v3 (`/v3/organizations/{org}/sessions…`, `status` + `status_detail`,
paged messages with cursors, `repos` and `create_as_user_id`). The version is decided once, from
`Settings.api_version`. The dialect calls the API through the client's transport (`Transport`),
which owns retries and typed errors; no httpx here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any, NoReturn, Protocol

from handoff.config import Settings
from handoff.devin.errors import ApiError, AuthError, BadResponse, MessageRefused, ValidationError
from handoff.devin.ids import web_url, with_prefix
from handoff.devin.models import Attachment, Message, MessagePage, PullRequest, Session, epoch_seconds
from handoff.errors import ConfigError
from handoff.tags import MAX_TAGS

DEFAULT_VERSION = "v3"     # the body shown by a dry run or a scan without a key
MESSAGE_PAGE = 100          # v3 messages per page
LIST_PAGE_V3 = 200          # v3 `first` maximum
LIST_PAGE_V1 = 100          # v1 `limit` default
MAX_PAGES = 500             # a bound on any paging loop (100k items)
V3_ONLY_FIELDS = ("repos", "create_as_user_id", "attachment_urls")
_MAX_REASON = 300


# -- request bodies -------------------------------------------------------------------------------------

def request_version(settings: Settings) -> str:
    """The API version a handoff's body is built for: the key's, or the current API's without a key."""
    return settings.api_version if settings.api_key else DEFAULT_VERSION


def body_for_version(body: dict[str, Any], version: str, *, user_id: str | None = None) -> dict[str, Any]:
    """The same handoff shaped for one API version: v1 takes `idempotent` and none of v3's fields;
    v3 takes `create_as_user_id` (from `user_id` unless the body has one). A saved handoff may be
    retried with a key of the other kind, so this is applied again at send time."""
    shaped = dict(body)
    if version == "v1":
        for name in V3_ONLY_FIELDS:
            shaped.pop(name, None)
        shaped["idempotent"] = True
    else:
        shaped.pop("idempotent", None)
        if user_id and not shaped.get("create_as_user_id"):
            shaped["create_as_user_id"] = user_id
    return shaped


def with_client_tag(body: dict[str, Any], client_tag: str) -> dict[str, Any]:
    """The body with the client tag last among its tags (always there, within the API's limit)."""
    payload = dict(body)
    tags = [t for t in (payload.get("tags") or []) if t != client_tag]
    payload["tags"] = [*tags[:MAX_TAGS - 1], client_tag]
    return payload


# -- reading answers --------------------------------------------------------------------------------

def one_line(text: str, limit: int = _MAX_REASON) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"


def text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _time_value(value: Any) -> str | int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(value)
    return value if isinstance(value, str) and value else None


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
        url = text_or_none(item.get("pr_url")) or text_or_none(item.get("url"))
        if url and all(pr.url != url for pr in found):
            found.append(PullRequest(url, text_or_none(item.get("pr_state")) or text_or_none(item.get("state"))))
    return tuple(found)


def _message_id(item: dict[str, Any], text: str, created_at: Any) -> str:
    """The API's event id, or a stable stand-in (hash of what the message is) when it has none."""
    given = item.get("event_id") or item.get("id")
    if isinstance(given, (str, int)) and not isinstance(given, bool) and str(given):
        return str(given)
    digest = hashlib.sha256(f"{created_at}|{item.get('type') or item.get('source')}|{text}".encode()).hexdigest()
    return f"local-{digest[:16]}"


def _message_source(item: dict[str, Any]) -> str:
    """'devin' or 'user' as documented; another source as given (shown, labelled); 'unknown' without one.

    v3 messages carry `source` (devin|user: docs.devin.ai/sdk/api/DevinApi/interfaces/SessionMessage.md);
    v1 messages carry `type` (devin_message, user_message, initial_user_message). A message with neither
    is shown rather than hidden: losing what Devin said is worse than a label."""
    source = item.get("source")
    if isinstance(source, str) and source.strip():
        return source.strip().lower()
    kind = item.get("type")
    if kind == "devin_message":
        return "devin"
    if isinstance(kind, str) and kind.endswith("user_message"):
        return "user"
    return "unknown"


def parse_message(item: Any) -> Message:
    """v3 `{event_id, message, source, created_at}` or v1 `{type, event_id, message, timestamp}`."""
    if not isinstance(item, dict):
        raise BadResponse("the Devin API sent a message that is not a JSON object")
    text = item.get("message", item.get("text"))
    text = text if isinstance(text, str) else ("" if text is None else json.dumps(text))
    created_at = _time_value(item.get("created_at", item.get("timestamp")))
    return Message(_message_id(item, text, created_at), _message_source(item), text, created_at)


def cursor_text(value: Any) -> str | None:
    """A page cursor as text: the docs say string, some servers send a number."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return str(int(value))
    return value if isinstance(value, str) and value else None


def more_pages(data: Any, page_ids: list[str], asked: int) -> tuple[bool, str | None, bool]:
    """(is there another page, the cursor for it, is that cursor our own stand-in).

    Documented (docs.devin.ai/api-reference/concepts/pagination): pass `end_cursor` as `after` until
    `has_next_page` is false; `end_cursor` is null on the last page. A page that leaves the fields out is
    read by what it does say: a cursor means go on; no cursor on a full page means go on after its last
    item's id (our stand-in, dropped if the API refuses it); `has_next_page: false` ends it."""
    if not isinstance(data, dict):
        return False, None, False
    end_cursor = cursor_text(data.get("end_cursor"))
    has_next = data.get("has_next_page")
    if has_next is False or not page_ids:
        return False, end_cursor, False
    if end_cursor:
        return True, end_cursor, False
    if has_next is True or len(page_ids) >= asked:
        return True, page_ids[-1], True
    return False, None, False


def parse_session(data: Any, *, created: bool = False) -> Session:
    """A session from any of the API's shapes (v1/v3 get, list item, create answer).

    `messages` is a tuple only when the answer embeds them (v1 get), else None."""
    if not isinstance(data, dict):
        raise BadResponse("the Devin API sent a session that is not a JSON object")
    raw_id = data.get("session_id") or data.get("devin_id")
    if not isinstance(raw_id, str) or not raw_id.strip():
        raise BadResponse("the Devin API sent a session without a session_id")
    session_id = with_prefix(raw_id.strip())
    detail = text_or_none(data.get("status_detail")) or text_or_none(data.get("status_enum"))
    status = text_or_none(data.get("status")) or detail or ("new" if created else None)
    if status is None:
        raise BadResponse(f"the Devin API sent session {session_id} without a status")
    tags = data.get("tags") if isinstance(data.get("tags"), list) else []
    raw_messages = data.get("messages") if isinstance(data.get("messages"), list) else None
    is_new = data.get("is_new_session")
    return Session(
        session_id=session_id,
        url=text_or_none(data.get("url")) or web_url(session_id),
        status=status,
        status_detail=detail,
        title=text_or_none(data.get("title")),
        tags=tuple(t for t in tags if isinstance(t, str)),
        pull_requests=_pull_requests(data),
        created_at=_time_value(data.get("created_at")),
        updated_at=_time_value(data.get("updated_at")),
        is_new_session=is_new if isinstance(is_new, bool) else None,
        messages=None if raw_messages is None else tuple(parse_message(m) for m in raw_messages),
    )


def list_items(data: Any) -> list[Any]:
    """v3 `{items: [...]}`, v1 `{sessions: [...]}`, or a bare list."""
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        for name in ("items", "sessions"):
            if isinstance(data.get(name), list):
                return data[name]
    raise BadResponse("the Devin API sent a list without items")


def parse_attachment(data: Any) -> Attachment:
    """v3 `{attachment_id, name, url}`; v1 the URL itself as a JSON string."""
    if isinstance(data, str) and data.strip():
        return Attachment(url=data.strip())
    if isinstance(data, dict) and text_or_none(data.get("url")):
        return Attachment(url=data["url"], attachment_id=text_or_none(data.get("attachment_id")),
                          name=text_or_none(data.get("name")))
    raise BadResponse("the Devin API's attachment answer has no URL")


# -- the dialects ------------------------------------------------------------------------------------

class Transport(Protocol):
    """What a dialect needs from the client: one call with retries, and a masked typed error."""

    root: str

    def call(self, method: str, url: str, *, params: dict[str, Any] | None = None, body: Any = None,
             mode: str = "read", session_id: str | None = None, parse: bool = True, budget: Any = None,
             files: Any = None) -> Any: ...

    def fail(self, cls: type[ApiError], message: str, hint: str | None, status: int | None,
             request_id: str | None) -> NoReturn: ...


class Dialect:
    """One API version's paths, bodies and answers. Subclasses: V1Dialect, V3Dialect."""

    version = ""
    messages_with_session = False   # does a get carry the messages (one request per look)?
    in_organization = False         # do session paths name an organization (resolved via /self)?

    def __init__(self, transport: Transport, settings: Settings) -> None:
        self.transport = transport
        self.settings = settings
        self._stand_in = False  # the list cursor in use is our own (last item's id), not the API's

    @property
    def org_id(self) -> str | None:
        return None

    def shape_create(self, body: dict[str, Any], client_tag: str) -> dict[str, Any]:
        return body_for_version(with_client_tag(body, client_tag), self.version, user_id=self.settings.user_id)

    def sessions_url(self) -> str:
        raise NotImplementedError

    def attachments_url(self) -> str:
        raise NotImplementedError

    def self_info(self) -> dict[str, Any]:
        raise NotImplementedError

    def get(self, sid: str) -> Session:
        raise NotImplementedError

    def messages(self, sid: str, after: str | None, budget: Any) -> MessagePage:
        raise NotImplementedError

    def send(self, sid: str, message: str) -> None:
        raise NotImplementedError

    def archive(self, sid: str) -> Session:
        raise NotImplementedError

    def list_params(self, offset: int, after: str | None) -> dict[str, Any]:
        raise NotImplementedError

    def next_page(self, data: Any, page: list[Session], params: dict[str, Any]) -> tuple[bool, str | None]:
        """(is there another page, the cursor for it)."""
        raise NotImplementedError

    def forbidden_hint(self) -> str:
        raise NotImplementedError

    def not_found_hint(self) -> str:
        raise NotImplementedError

    def list_sessions(self, tag: str | None, limit: int | None, budget: Any) -> list[Session]:
        """Sessions carrying `tag` (all when None), newest first, at most `limit` (all when None).

        Every page is read until the API says there are no more (documented cursor paging), the tag is
        checked here as well (a server that ignores the filter must not make us adopt another session)
        and the order is ours (the docs promise none). With `limit`, reading stops once that many match."""
        found: dict[str, Session] = {}
        after: str | None = None
        for _ in range(MAX_PAGES):
            params = self.list_params(len(found), after)
            if tag:
                params["tags"] = tag
            try:
                data = self.transport.call("GET", self.sessions_url(), params=params, budget=budget)
            except ValidationError:
                if not after or not self._stand_in:
                    raise
                break  # the API does not take our stand-in cursor: what we have is all we can get
            page = [parse_session(item) for item in list_items(data)]
            fresh = [s for s in page if s.session_id not in found]
            found.update((s.session_id, s) for s in page)
            matches = sum(1 for s in found.values() if not tag or tag in s.tags)
            more, after = self.next_page(data, page, params)
            if not more or not fresh or (limit is not None and matches >= limit):
                break
        sessions = [s for s in found.values() if not tag or tag in s.tags]
        sessions.sort(key=lambda s: epoch_seconds(s.created_at) or 0.0, reverse=True)
        return sessions if limit is None else sessions[:limit]


class V1Dialect(Dialect):
    """`apk_` keys: /v1, messages inside the session, idempotent creates, no archive."""

    version = "v1"
    messages_with_session = True

    def __init__(self, transport: Transport, settings: Settings) -> None:
        super().__init__(transport, settings)
        self._singular = False  # the legacy /v1/session/{id} spelling answered where the plural did not

    def sessions_url(self) -> str:
        return f"{self.transport.root}/v1/sessions"

    def attachments_url(self) -> str:
        return f"{self.transport.root}/v1/attachments"

    def self_info(self) -> dict[str, Any]:
        """A key check (GET /v1/sessions?limit=1); v1 has no identity endpoint."""
        self.transport.call("GET", self.sessions_url(), params={"limit": 1})
        return {}

    def get(self, sid: str) -> Session:
        session = parse_session(self._session_call("GET", sid, ""))
        return session if session.messages is not None else replace(session, messages=())

    def messages(self, sid: str, after: str | None, budget: Any) -> MessagePage:
        """The list embedded in the session, after the event id `after`."""
        items = self.get(sid).messages or ()
        ids = [m.event_id for m in items]
        if after and after in ids:
            items = items[ids.index(after) + 1:]
        return MessagePage(items, items[-1].event_id if items else after)

    def send(self, sid: str, message: str) -> None:
        answer = self._session_call("POST", sid, "/message", body={"message": message}, mode="write")
        if isinstance(answer, dict) and text_or_none(answer.get("detail")):
            # v1 answers 200 {"detail": …} when the session is in a state that does not take messages
            # (e.g. suspended: the v1 API does not wake a sleeping session through a message)
            self.transport.fail(MessageRefused, f"Devin did not take the message for {sid}: "
                                                f"{one_line(answer['detail'])}",
                                f"check its state with `devin-handoff status {sid}`; a session the v1 API will not "
                                f"wake can be continued in the web app ({web_url(sid)})", 200, None)

    def archive(self, sid: str) -> Session:
        raise ConfigError("archiving needs a cog_ key: apk_ keys use the v1 API, which has no archive",
                          f"archive it in the web app ({web_url(sid)}) or set a cog_ service-user key")

    def list_params(self, offset: int, after: str | None) -> dict[str, Any]:
        return {"limit": LIST_PAGE_V1, "offset": offset}

    def next_page(self, data: Any, page: list[Session], params: dict[str, Any]) -> tuple[bool, str | None]:
        return bool(page) and len(page) >= params["limit"], None  # offset paging: a short page is the last

    def forbidden_hint(self) -> str:
        return "apk_ keys work with the v1 API only and act with their org's permissions; v3 needs a cog_ key"

    def not_found_hint(self) -> str:
        return "check DEVIN_API_URL"

    def _session_call(self, method: str, sid: str, suffix: str, *, body: Any = None, mode: str = "read") -> Any:
        """v1 session paths: the plural spelling first, the legacy singular once on a 404 or 405 (a server
        that routes only one spelling may answer either: shared/devin-api.md §9.4)."""
        spellings = ["session", "sessions"] if self._singular else ["sessions", "session"]
        for index, spelling in enumerate(spellings):
            url = f"{self.transport.root}/v1/{spelling}/{sid}{suffix}"
            try:
                answer = self.transport.call(method, url, body=body, mode=mode, session_id=sid)
            except ApiError as exc:
                if exc.status not in (404, 405) or index == len(spellings) - 1:
                    raise
                continue
            self._singular = spelling == "session"
            return answer
        raise AssertionError("unreachable")  # pragma: no cover


class V3Dialect(Dialect):
    """`cog_` keys: /v3/organizations/{org}, the org resolved through /v3/self when not configured."""

    version = "v3"
    in_organization = True

    def __init__(self, transport: Transport, settings: Settings) -> None:
        super().__init__(transport, settings)
        self._org: str | None = settings.org_id or None
        self._org_known = bool(self._org)
        self._self_info: dict[str, Any] | None = None

    @property
    def org_id(self) -> str | None:
        """The configured org, else the key's (GET /v3/self); None when the key names none."""
        if not self._org_known:
            try:
                org = self._fetch_self().get("org_id")
            except AuthError as exc:
                if exc.status != 403:
                    raise
                org = None  # /v3/self may need ReadAccountMeta (docs.devin.ai/api-reference/v3/self/self)
            self._org = org if isinstance(org, str) and org else None
            self._org_known = True
        return self._org

    def _base(self) -> str:
        """Org-scoped credentials may leave the org out of the path: the API takes it from the key
        (docs.devin.ai/api-reference/authentication, "Org id" in shared/devin-api.md §1)."""
        org = self.org_id
        return f"{self.transport.root}/v3/organizations/{org}" if org else f"{self.transport.root}/v3/organizations"

    def sessions_url(self) -> str:
        return f"{self._base()}/sessions"

    def attachments_url(self) -> str:
        return f"{self._base()}/attachments"

    def self_info(self) -> dict[str, Any]:
        return dict(self._fetch_self())

    def _fetch_self(self) -> dict[str, Any]:
        if self._self_info is None:
            data = self.transport.call("GET", f"{self.transport.root}/v3/self")
            if not isinstance(data, dict):
                self.transport.fail(BadResponse, "the Devin API's /v3/self answer is not a JSON object", None, 200,
                                    None)
            self._self_info = data
        return self._self_info

    def get(self, sid: str) -> Session:
        session = parse_session(self.transport.call("GET", f"{self.sessions_url()}/{sid}", session_id=sid))
        return replace(session, messages=None)  # v3 pages them separately

    def messages(self, sid: str, after: str | None, budget: Any) -> MessagePage:
        """Every message after the cursor `after`, paging until the API says there are no more.

        The cursor handed back is the API's own (never our stand-in), so the next read may overlap: the
        follower drops what it has already shown by event id."""
        items: list[Message] = []
        seen: set[str] = set()
        api_cursor, request_cursor, stand_in = after, after, False
        for _ in range(MAX_PAGES):
            params: dict[str, Any] = {"first": MESSAGE_PAGE}
            if request_cursor:
                params["after"] = request_cursor
            try:
                data = self.transport.call("GET", f"{self.sessions_url()}/{sid}/messages", params=params,
                                           session_id=sid, budget=budget)
            except ValidationError:
                if not stand_in:
                    raise
                break  # the API does not take our stand-in cursor: what we have is all we can get
            page = [parse_message(item) for item in list_items(data)]
            fresh = [m for m in page if m.event_id not in seen]
            seen.update(m.event_id for m in page)
            items.extend(fresh)
            more, request_cursor, stand_in = more_pages(data, [m.event_id for m in page], MESSAGE_PAGE)
            if request_cursor and not stand_in:
                api_cursor = request_cursor  # null on the last page: keep the previous one
            if not more or not fresh:
                break
        return MessagePage(tuple(items), api_cursor)

    def send(self, sid: str, message: str) -> None:
        try:
            self.transport.call("POST", f"{self.sessions_url()}/{sid}/messages", body={"message": message},
                                mode="write", session_id=sid, parse=False)
        except ApiError as exc:
            if exc.status != 409:
                raise
            # a session that cannot take messages (archived, ended): a refusal, not a failed session
            refused = MessageRefused(exc.message, f"check its state with `devin-handoff status {sid}`",
                                     status=409, request_id=exc.request_id)
            raise refused from None

    def archive(self, sid: str) -> Session:
        return parse_session(self.transport.call("POST", f"{self.sessions_url()}/{sid}/archive", mode="read",
                                                 session_id=sid))

    def list_params(self, offset: int, after: str | None) -> dict[str, Any]:
        params: dict[str, Any] = {"first": LIST_PAGE_V3}
        if after:
            params["after"] = after
        return params

    def next_page(self, data: Any, page: list[Session], params: dict[str, Any]) -> tuple[bool, str | None]:
        more, after, self._stand_in = more_pages(data, [s.session_id for s in page], params["first"])
        return more, after

    def forbidden_hint(self) -> str:
        return (f"the cog_ key needs session permissions (ViewOrgSessions/ManageOrgSessions) in org "
                f"{self._org or '(unresolved)'}; check DEVIN_ORG_ID/--org-id")

    def not_found_hint(self) -> str:
        return "check DEVIN_ORG_ID/--org-id and DEVIN_API_URL"


_DIALECTS: dict[str, Callable[[Transport, Settings], Dialect]] = {"v1": V1Dialect, "v3": V3Dialect}


def dialect_for(transport: Transport, settings: Settings) -> Dialect:
    """The dialect of the settings' key (decided once, by Settings.api_version)."""
    return _DIALECTS[settings.api_version](transport, settings)
