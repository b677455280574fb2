"""The v1 and v3 endpoints: authentication, validation, paging, and each call's answer."""

from __future__ import annotations

import time
import uuid
from typing import Any, cast
from urllib.parse import quote

from handoff.simulator.http import _route
from handoff.simulator.model import (
    _V1_VIEW,
    _V3_VIEW,
    _decode_cursor,
    _encode_cursor,
    _Reply,
    _Request,
    _Session,
    _web_url,
)

STORAGE_PATH = "/storage/attachments/"


class EndpointsMixin:
    """What each endpoint answers; mixed into Simulator."""

    # -- attachments: stored as uploaded, served back by GET at the URL the upload answered

    def _store_upload(self, request: _Request) -> tuple[str, str, str] | _Reply:
        upload = (request.files or {}).get("file")
        if upload is None:
            return self._invalid(request, [{"loc": ["body", "file"], "msg": "Field required", "type": "missing"}])
        name, content = upload
        attachment_id = f"att-{uuid.uuid4().hex[:16]}"
        safe = quote(name.replace("/", "_"), safe="")
        url = f"{self.base_url}{STORAGE_PATH}{attachment_id}/{safe}"
        self.attachments[attachment_id] = {"attachment_id": attachment_id, "name": name, "url": url,
                                           "content": content}
        return attachment_id, name, url

    def _v1_upload(self, request: _Request) -> _Reply:
        stored = self._store_upload(request)
        return stored if isinstance(stored, _Reply) else _Reply(200, stored[2])

    def _v3_upload(self, request: _Request) -> _Reply:
        stored = self._store_upload(request)
        if isinstance(stored, _Reply):
            return stored
        attachment_id, name, url = stored
        return _Reply(200, {"attachment_id": attachment_id, "name": name, "url": url})

    def _download(self, request: _Request) -> _Reply:
        attachment_id = request.path[len(STORAGE_PATH):].split("/", 1)[0]
        stored = self.attachments.get(attachment_id)
        if stored is None:
            return _Reply(404, {"detail": "Not Found"})
        return _Reply(200, content_type="application/octet-stream", raw=stored["content"])

    def _v3_status(self, s: _Session) -> tuple[str, str | None]:
        status, detail = _V3_VIEW[s.state]
        return (status, s.suspend_reason) if s.state == "suspended" else (status, detail)

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
        if request.method == "GET" and request.path.startswith(STORAGE_PATH):
            return self._download(request)
        if request.api is None or (request.call == "other" and not request.allowed):
            if request.api is not None and self._path_exists(request):
                return self._error(request, 405, "Method Not Allowed")
            return self._error(request, 404, "Not Found")
        if request.api == "v1" and self.v1_spelling == "singular" and request.path.startswith("/v1/sessions/"):
            return self._error(request, 405, "Method Not Allowed")  # only /v1/session/{id} is routed here
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

    def _message_target(self, request: _Request) -> _Session | _Reply:
        """The session a send names, or the reply refusing it (a body without `message`, an unknown id)."""
        errors = self._body_errors(request, "message", ())
        if errors:
            return self._invalid(request, errors)
        return self._session_or_404(request)

    def _v1_send(self, request: _Request) -> _Reply:
        session = self._message_target(request)
        if isinstance(session, _Reply):
            return session
        if session.state == "suspended":
            # v1 does not wake a sleeping session through a message: it answers 200 {detail} (shared/devin-api.md §5.2)
            return _Reply(200, {"detail": "Session is suspended; it cannot receive messages"})
        refused = self._reply(session, request.body["message"], time.monotonic())
        return _Reply(200, {"detail": refused} if refused else None)

    def _v1_terminate(self, request: _Request) -> _Reply:
        session = self._session_or_404(request)
        if isinstance(session, _Reply):
            return session
        self._terminate(session, False, time.monotonic())
        return _Reply(200, {"detail": "Session terminated"})

    def _v3_self(self, request: _Request) -> _Reply:
        return _Reply(200, dict(self.self_info))

    def _v3_create(self, request: _Request) -> _Reply:
        errors = self._body_errors(request, "prompt", ("tags", "repos", "attachment_urls"))
        if errors:
            return self._invalid(request, errors)
        session = self._create(request.body, time.monotonic())
        return _Reply(200, self._v3_session(session, detail=False))

    def _v3_list(self, request: _Request) -> _Reply:
        paged = self._page(request, "s", self._matching_sessions(request), lambda s: s.seq, lambda s: s.session_id)
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
        paged = self._page(request, "m", indexed, lambda pair: pair[0], lambda pair: pair[1]["event_id"])
        if isinstance(paged, _Reply):
            return paged
        page, meta = paged
        items = [{"event_id": m["event_id"], "message": m["message"], "source": m["source"],
                  "created_at": int(self._wall(m["at"]))} for _, m in page]
        if not self.message_source:
            for item in items:
                del item["source"]
        return _Reply(200, {"items": items, **meta})

    def _v3_send(self, request: _Request) -> _Reply:
        session = self._message_target(request)
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

    def _matching_sessions(self, request: _Request) -> list[_Session]:
        """In `list_order`, filtered by tags (all must match, unless `tag_filter` is off) and, for v3, session_ids."""
        tags = self._tag_filter(request) if self.tag_filter else []
        ids = [*request.query.get("session_ids", []), *request.query.get("session_ids[]", [])]
        now = time.monotonic()
        found = []
        for session in sorted(self._sessions.values(), key=lambda s: s.seq, reverse=self.list_order == "newest"):
            if all(t in session.tags for t in tags) and (not ids or session.session_id in ids):
                self._advance(session, now)
                found.append(session)
        return found

    def _page(self, request: _Request, kind: str, items: list[Any], position: Any,
              ident: Any) -> tuple[list[Any], dict[str, Any]] | _Reply:
        """Cursor paging over `items` (in the order given); `position(item)` is what a cursor remembers."""
        first = self._int_param(request, "first", 100, 1, 200)
        if isinstance(first, _Reply):
            return first
        size = min(first, self.page_size) if self.page_size else first
        start = 0
        after = (request.query.get("after") or [""])[-1]
        if after:
            ids = [ident(item) for item in items]
            mark = _decode_cursor(kind, after)
            if mark is not None:
                start = next((i for i, item in enumerate(items) if position(item) == mark), len(items) - 1) + 1
            elif self.page_fields == "none" and after in ids:
                start = ids.index(after) + 1  # no cursors at all: the client pages by the last item's id
            else:
                return self._error(request, 400, "Invalid cursor in 'after'")
        page = items[start:start + size]
        has_next = start + size < len(items)
        end_cursor = (_encode_cursor(kind, position(page[-1]))
                      if page and (has_next or self.end_cursor_on_last_page) else None)
        if self.page_fields == "none":
            return page, {}
        if self.page_fields == "cursor":
            return page, {"end_cursor": end_cursor}
        return page, {"end_cursor": end_cursor, "has_next_page": has_next, "total": len(items)}
