"""handoff.api: the Devin client against the simulator over 127.0.0.1 (both key kinds), and
httpx.MockTransport for the odd edges the simulator does not produce."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from handoff import devin as api
from handoff.config import Settings
from handoff.devin import (
    AmbiguousCreate,
    ApiError,
    AuthError,
    BadResponse,
    DevinClient,
    Message,
    NotFoundError,
    Session,
    UnreachableError,
    ValidationError,
    new_client_tag,
    normalize_session_id,
    parse_session,
)
from handoff.errors import ConfigError, UsageError
from handoff.runtime import Runtime
from handoff.simulator import Simulator
from handoff.tags import HANDOFF_TAG

KEYS = {"v1": "apk_test_SeCrEt0123456789", "v3": "cog_test_SeCrEt0123456789"}
KINDS = ("v1", "v3")
SECRET_PART = "SeCrEt0123456789"


# -- helpers ------------------------------------------------------------------------------------------

class Sleeps(list):
    """A fake `sleep` that records what it was asked to wait."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def _runtime(sleeps: Sleeps | None) -> Runtime:
    return Runtime(sleep=sleeps if sleeps is not None else Sleeps())


def settings(kind: str, url: str, *, org: str | None = "org-sim", user: str | None = None,
             key: str | None = None) -> Settings:
    return Settings(api_key=key or KEYS[kind], org_id=org if kind == "v3" else None, user_id=user, api_url=url)


def sim_client(sim: Simulator, kind: str, sleeps: Sleeps | None = None, *, org: str | None = "org-sim",
               **kwargs: Any) -> DevinClient:
    opts: dict[str, Any] = {"runtime": _runtime(sleeps), "retry_budget": 20.0, **kwargs}
    return DevinClient(settings(kind, sim.base_url, org=org), **opts)


class MockApi:
    """httpx.MockTransport around a handler; keeps every request it saw."""

    def __init__(self, handler: Callable[[httpx.Request], httpx.Response]) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []
        self.transport = httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)

    def client(self, kind: str = "v3", sleeps: Sleeps | None = None, **kwargs: Any) -> DevinClient:
        org = kwargs.pop("org", "org-x")
        user = kwargs.pop("user", None)
        url = kwargs.pop("url", "https://api.example.test")
        opts: dict[str, Any] = {"runtime": _runtime(sleeps), "retry_budget": 30.0}
        opts.update(kwargs)
        return DevinClient(settings(kind, url, org=org, user=user), transport=self.transport, **opts)

    @property
    def paths(self) -> list[str]:
        return [f"{r.method} {r.url.path}" for r in self.requests]


def answer(status: int, body: Any = None, *, problem: bool = False, headers: dict[str, str] | None = None,
           raw: bytes | None = None, content_type: str | None = None) -> httpx.Response:
    kind = content_type or ("application/problem+json" if problem else "application/json")
    content = raw if raw is not None else json.dumps(body).encode()
    return httpx.Response(status, content=content, headers={"content-type": kind, **(headers or {})})


def v3_session(sid: str = "devin-abc", **extra: Any) -> dict[str, Any]:
    data = {"session_id": sid, "url": f"https://app.devin.ai/sessions/{sid[6:]}", "status": "running",
            "status_detail": "working", "title": "t", "tags": ["handoff"], "pull_requests": [],
            "created_at": 1700000000, "updated_at": 1700000001}
    data.update(extra)
    return data


def assert_no_key(exc: BaseException) -> None:
    for text in (str(exc), getattr(exc, "message", ""), getattr(exc, "hint", "") or "", repr(exc.args)):
        assert SECRET_PART not in text


def create_body(tag: str, prompt: str = "fix the widget") -> dict[str, Any]:
    return {"prompt": prompt, "title": "fix the widget", "tags": [HANDOFF_TAG, tag], "repos": ["acme/widgets"]}


def sessions_with(sim: Simulator, tag: str) -> list[dict[str, Any]]:
    return [s for s in sim.sessions.values() if tag in s["tags"]]


def calls(sim: Simulator, kind: str) -> list[str]:
    return [r["call"] for r in sim.requests if r["call"] == kind]


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(step_seconds=0.02) as running:
        yield running


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- ids ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["abc123", "devin-abc123", "https://app.devin.ai/sessions/abc123",
                                  "https://app.devin.ai/sessions/abc123/", "app.devin.ai/sessions/devin-abc123?x=1",
                                  "https://app.devin.ai/sessions/abc123#top", "  abc123\n"])
def test_normalize_session_id_accepts_ids_and_urls(text):
    assert normalize_session_id(text) == "devin-abc123"


@pytest.mark.parametrize("text", ["", "not a session id!", "https://app.devin.ai/settings", "abc/def", "-abc"])
def test_normalize_session_id_refuses_anything_else(text):
    with pytest.raises(UsageError) as caught:
        normalize_session_id(text)
    assert caught.value.exit_code == 2


def test_client_tags_are_unique_and_shaped():
    tags = {new_client_tag() for _ in range(50)}
    assert len(tags) == 50
    assert all(t.startswith("handoff-") and len(t) == len("handoff-") + 12 for t in tags)


# -- parsing ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("status", "detail", "outcome"), [
    ("running", "working", None), ("new", None, None), ("claimed", None, None), ("resuming", None, None),
    ("running", "waiting_for_approval", "waiting_for_approval"), ("creating", None, None),
    ("running", "finished", "finished"), ("running", "waiting_for_user", "waiting_for_user"),
    ("exit", None, "exit"), ("error", None, "error"), ("suspended", "out_of_credits", "suspended"),
    ("suspended", "inactivity", "asleep"), ("suspended", "user_request", "asleep"), ("suspended", None, "suspended"),
    ("suspended", "error", "suspended"), ("suspended", "payment_declined", "suspended"),
    # v1: status + status_enum
    ("running", "blocked", "waiting_for_user"), ("running", "expired", "expired"), ("expired", "expired", "expired"),
    ("running", "resume_requested", None), ("suspended", "suspend_requested", "asleep"),
    ("running", "suspend_requested_frontend", "asleep"), ("stopped", "stopped", "exit"), ("stopped", None, "exit"),
])
def test_outcome_mapping(status, detail, outcome):
    session = parse_session({"session_id": "devin-x", "status": status, "status_detail": detail})
    assert session.outcome == outcome
    assert session.succeeded == (outcome in {"finished", "waiting_for_user", "waiting_for_approval", "asleep", "exit"})


def test_parse_tolerates_both_pr_shapes_both_time_shapes_and_missing_url():
    v3 = parse_session(v3_session(pull_requests=[{"pr_url": "https://github.com/o/r/pull/1", "pr_state": "open"},
                                                 {"url": "https://github.com/o/r/pull/2"}]))
    assert [(p.url, p.state) for p in v3.pull_requests] == [("https://github.com/o/r/pull/1", "open"),
                                                             ("https://github.com/o/r/pull/2", None)]
    assert v3.created_at == 1700000000
    v1 = parse_session({"session_id": "abc", "status": "running", "status_enum": "finished",
                        "created_at": "2024-01-01T00:00:00+00:00", "pull_request": {"url": "https://github.com/o/r/pull/3"},
                        "messages": [{"type": "devin_message", "event_id": "e1", "message": "hi",
                                      "timestamp": "2024-01-01T00:00:01+00:00"},
                                     {"type": "user_message", "event_id": "e2", "message": "yo"}]})
    assert v1.session_id == "devin-abc" and v1.url == "https://app.devin.ai/sessions/abc"
    assert v1.status_detail == "finished" and v1.created_at == "2024-01-01T00:00:00+00:00"
    assert v1.pull_requests[0].url == "https://github.com/o/r/pull/3"
    assert [(m.source, m.text) for m in v1.messages] == [("devin", "hi"), ("user", "yo")]
    assert v1.to_json()["outcome"] == "finished"


@pytest.mark.parametrize("data", [None, [], "x", {"status": "running"}, {"session_id": "devin-x"}])
def test_parse_refuses_broken_sessions_with_a_typed_error(data):
    with pytest.raises(BadResponse) as caught:
        parse_session(data)
    assert caught.value.exit_code == 5 and "\n" not in str(caught.value)


# -- key kinds, base URLs, org resolution, timeouts ---------------------------------------------------

def test_key_kinds_pick_the_api_version_and_base_url():
    mock = MockApi(lambda request: answer(200, {"sessions": [], "items": []}))
    with mock.client("v1", url="https://proxy.example.test/devin/") as v1:
        assert v1.version == "v1"
        v1.list_sessions()
    with mock.client("v3", url="https://proxy.example.test/devin") as v3:
        assert v3.version == "v3"
        v3.list_sessions()
    with mock.client("v3", url="https://proxy.example.test/devin/v3") as v3_suffixed:
        v3_suffixed.list_sessions(tag=None)
    assert [str(r.url.copy_with(query=None)) for r in mock.requests] == [
        "https://proxy.example.test/devin/v1/sessions",
        "https://proxy.example.test/devin/v3/organizations/org-x/sessions",
        "https://proxy.example.test/devin/v3/organizations/org-x/sessions",
    ]
    assert mock.requests[0].url.params["tags"] == HANDOFF_TAG
    assert "tags" not in mock.requests[2].url.params
    assert all(r.headers["authorization"].startswith("Bearer ") for r in mock.requests)


def test_missing_or_foreign_key_is_a_config_error():
    for key in (None, "sk-live-something"):
        with pytest.raises(ConfigError):
            DevinClient(Settings(api_key=key, org_id=None, user_id=None, api_url="http://127.0.0.1:9"))


def test_explicit_connect_and_read_timeouts():
    mock = MockApi(lambda request: answer(200, {}))
    with mock.client("v3", connect_timeout=1.5, read_timeout=7.0) as client:
        timeout = client._http.timeout
    assert (timeout.connect, timeout.read) == (1.5, 7.0)


def test_org_is_resolved_once_via_v3_self(sim):
    with sim_client(sim, "v3", org=None) as client:
        assert client.org_id == "org-sim"
        session = client.create(create_body("handoff-000000000001"), client_tag="handoff-000000000001")
        client.get(session.session_id)
        assert client.self_info()["org_id"] == "org-sim"
    assert [r["path"] for r in sim.requests].count("/v3/self") == 1
    assert sim.requests[1]["path"] == "/v3/organizations/org-sim/sessions"


def test_a_key_without_an_org_uses_the_org_scoped_routes(sim):
    sim.self_info["org_id"] = None
    with sim_client(sim, "v3", org=None) as client, pytest.raises(NotFoundError):
        client.get("devin-abc")
    assert [r["path"] for r in sim.requests if r["call"] == "get"] == ["/v3/organizations/sessions/devin-abc"]


def test_v1_self_info_is_a_key_check(sim):
    with sim_client(sim, "v1") as client:
        assert client.self_info() == {}
    assert sim.requests[-1]["path"] == "/v1/sessions" and sim.requests[-1]["query"]["limit"] == ["1"]


# -- end to end against the simulator -----------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_create_get_messages_send_list_end_to_end(sim, kind):
    sim.script(messages=["Looking.", "Patched.", "PR opened."], steps=4)
    tag = new_client_tag()
    with DevinClient(settings(kind, sim.base_url, user="user-7"), runtime=Runtime(sleep=Sleeps())) as client:
        created = client.create(create_body(tag), client_tag=tag)
        assert created.session_id.startswith("devin-") and tag in created.tags
        assert created.url.startswith("https://app.devin.ai/sessions/")
        body = sim.requests[-1]["body"]
        if kind == "v1":
            assert body["idempotent"] is True and "repos" not in body and "create_as_user_id" not in body
            assert created.is_new_session is True
        else:
            assert "idempotent" not in body and body["create_as_user_id"] == "user-7"
            assert body["repos"] == ["acme/widgets"]
        deadline = time.monotonic() + 3
        while client.get(created.session_id).outcome is None and time.monotonic() < deadline:
            time.sleep(0.02)
        done = client.get(created.session_id.removeprefix("devin-"))
        assert done.outcome == "finished" and done.succeeded
        assert done.pull_requests and done.pull_requests[0].url.startswith("https://github.com/acme/widgets/pull/")
        page = client.messages(created.session_id)
        devin_texts = [m.text for m in page.items if m.source == "devin"]
        assert devin_texts == ["Looking.", "Patched.", "PR opened."]
        assert page.items[0].source == "user" and page.items[0].text == "fix the widget"
        assert client.messages(created.session_id, after=page.cursor).items == () or kind == "v3"
        client.send(created.session_id, "thanks, also update the changelog")
        assert sim.sessions[created.session_id]["messages"][-1]["text"] == "thanks, also update the changelog"
        listed = client.list_sessions(tag=tag)
        assert [s.session_id for s in listed] == [created.session_id]
        assert created.session_id in {s.session_id for s in client.list_sessions()}


def test_v3_messages_after_a_cursor_only_returns_newer_ones(sim):
    sim.script(question="Which branch?", messages=["Reading.", "Done."])
    with sim_client(sim, "v3") as client:
        sid = client.create(create_body("handoff-0000000000aa"), client_tag="handoff-0000000000aa").session_id
        deadline = time.monotonic() + 3
        while client.get(sid).outcome != "waiting_for_user" and time.monotonic() < deadline:
            time.sleep(0.02)
        first = client.messages(sid)
        assert first.items[-1].text == "Which branch?"
        client.send(sid, "main")
        while client.get(sid).outcome != "finished" and time.monotonic() < deadline:
            time.sleep(0.02)
        seen = {m.event_id for m in first.items}
        later = client.messages(sid, after=first.cursor)
        new = [m.text for m in later.items if m.event_id not in seen]
        assert new == ["main", "Done."]


def test_v3_archive_and_v1_archive_refusal(sim):
    with sim_client(sim, "v3") as client:
        sid = client.create(create_body("handoff-0000000000ab"), client_tag="handoff-0000000000ab").session_id
        archived = client.archive(sid)
        assert archived.session_id == sid and sim.sessions[sid]["archived"]
    before = len(sim.requests)
    with sim_client(sim, "v1") as client, pytest.raises(ConfigError) as caught:
        client.archive("devin-abc")
    assert "cog_" in str(caught.value) and caught.value.exit_code == 4
    assert len(sim.requests) == before  # said so instead of calling v3 with an apk_ key


def test_v1_send_falls_back_to_the_singular_path_once_and_remembers():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/v1/sessions/"):
            return answer(404, {"detail": "Not Found"})
        if request.url.path == "/v1/session/devin-abc/message":
            return answer(200, None)
        if request.url.path == "/v1/session/devin-abc":
            return answer(200, {"session_id": "devin-abc", "status": "running", "status_enum": "working"})
        return answer(404, {"detail": "Not Found"})

    mock = MockApi(handler)
    with mock.client("v1") as client:
        client.send("abc", "hello")
        client.get("abc")
    assert mock.paths == ["POST /v1/sessions/devin-abc/message", "POST /v1/session/devin-abc/message",
                          "GET /v1/session/devin-abc"]


def test_v1_send_refused_with_detail_is_an_api_error(sim):
    with sim_client(sim, "v1") as client:
        sid = client.create(create_body("handoff-0000000000ac"), client_tag="handoff-0000000000ac").session_id
        httpx.delete(f"{sim.base_url}/v1/sessions/{sid}", headers={"Authorization": f"Bearer {KEYS['v1']}"})
        with pytest.raises(ApiError) as caught:
            client.send(sid, "are you there?")
    assert "ended" in str(caught.value) and caught.value.exit_code == 2


def test_v3_messages_pages_through_and_keeps_the_cursor_when_the_last_page_has_none():
    pages = {
        None: {"items": [{"event_id": "e1", "message": "a", "source": "devin", "created_at": 1}],
               "end_cursor": "c1", "has_next_page": True},
        "c1": {"items": [{"event_id": "e2", "message": "b", "source": "user", "created_at": 2}],
               "end_cursor": None, "has_next_page": False},
    }
    mock = MockApi(lambda request: answer(200, pages[request.url.params.get("after")]))
    with mock.client("v3") as client:
        page = client.messages("devin-abc")
    assert [m.event_id for m in page.items] == ["e1", "e2"] and page.cursor == "c1"
    assert [r.url.params["first"] for r in mock.requests] == ["100", "100"]


def test_v1_messages_slice_the_embedded_list_after_the_cursor():
    embedded = [{"type": "initial_user_message", "event_id": "e1", "message": "task"},
                {"type": "devin_message", "event_id": "e2", "message": "one"},
                {"type": "devin_message", "event_id": "e3", "message": "two"}]
    mock = MockApi(lambda request: answer(200, {"session_id": "devin-abc", "status": "running",
                                                "status_enum": "working", "messages": embedded}))
    with mock.client("v1") as client:
        assert client.messages("abc").cursor == "e3"
        later = client.messages("abc", after="e2")
        assert later.items == (Message("e3", "devin", "two", None),) and later.cursor == "e3"
        assert client.messages("abc", after="e3") == api.MessagePage((), "e3")


# -- error mapping ------------------------------------------------------------------------------------

ERROR_CASES = [
    # (status, body kwargs, error class, exit code, words in the message)
    (401, {"body": {"detail": "Invalid or expired API key"}}, AuthError, 4, ["401", "DEVIN_API_KEY"]),
    (403, {"body": {"type": "about:blank", "title": "Forbidden", "status": 403,
                    "detail": "This credential lacks ManageOrgSessions"}, "problem": True},
     AuthError, 4, ["403", "lacks ManageOrgSessions", "org-x"]),
    (404, {"body": {"detail": "Session devin-abc not found"}}, NotFoundError, 2, ["no session devin-abc", "org"]),
    (422, {"body": {"detail": [{"loc": ["body", "prompt"], "msg": "field required", "type": "missing"}]}},
     ValidationError, 2, ["422", "prompt: field required"]),
    (422, {"body": {"type": "about:blank", "title": "Unprocessable Entity", "status": 422,
                    "detail": "Invalid body", "errors": [{"loc": ["body", "tags"], "msg": "At most 50 tags"}]},
           "problem": True}, ValidationError, 2, ["422", "Invalid body", "tags: At most 50 tags"]),
    (400, {"body": {"title": "Bad Request", "status": 400}, "problem": True}, ValidationError, 2, ["Bad Request"]),
    (409, {"body": {"message": "session is archived"}}, ApiError, 1, ["409", "session is archived"]),
    (500, {"body": {"detail": "Internal Server Error"}}, UnreachableError, 5, ["500"]),
    (502, {"raw": b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
           "content_type": "text/html"}, UnreachableError, 5, ["502", "HTML page (502 Bad Gateway)"]),
]


@pytest.mark.parametrize(("status", "body", "cls", "code", "words"), ERROR_CASES)
def test_error_mapping_on_get(status, body, cls, code, words):
    sleeps = Sleeps()
    mock = MockApi(lambda request: answer(status, headers={"x-request-id": "req-42"}, **body))
    with mock.client("v3", sleeps) as client, pytest.raises(cls) as caught:
        client.get("devin-abc")
    error = caught.value
    assert error.exit_code == code and error.status == status and error.request_id == "req-42"
    text = str(error)
    assert "\n" not in text and "[request id req-42]" in text
    for word in words:
        assert word in text
    assert_no_key(error)
    retried = status >= 500
    assert len(mock.requests) == (api.MAX_ATTEMPTS if retried else 1)
    assert len(sleeps) == (api.MAX_ATTEMPTS - 1 if retried else 0)


def test_request_id_from_a_problem_body_and_server_text_echoing_the_key_is_masked():
    key = KEYS["v1"]
    mock = MockApi(lambda request: answer(401, {"detail": f"key {key} is not valid (Bearer {key})",
                                                "request_id": "rid-7"}))
    with mock.client("v1") as client, pytest.raises(AuthError) as caught:
        client.list_sessions()
    assert "rid-7" in str(caught.value) and "apk_…" in str(caught.value)
    assert_no_key(caught.value)


@pytest.mark.parametrize(("raw", "content_type", "reason"), [
    (b'{"session_id": "devin-', "application/json", "invalid JSON"),
    (b"<!doctype html><html><title>Login</title></html>", "text/html", "HTML page (Login)"),
    (b'{"unexpected": true}', "application/json", "without a session_id"),
])
def test_bad_success_answers_are_typed_errors(raw, content_type, reason):
    mock = MockApi(lambda request: answer(200, raw=raw, content_type=content_type))
    with mock.client("v3", retry_budget=5.0) as client, pytest.raises(BadResponse) as caught:
        client.get("devin-abc")
    assert reason in str(caught.value) and caught.value.exit_code == 5
    assert "\n" not in str(caught.value)
    assert_no_key(caught.value)


@pytest.mark.parametrize("kind", KINDS)
def test_simulator_auth_failures_and_unknown_sessions(sim, kind):
    for key, cls in ((KEYS[kind].replace("test", "invalid"), AuthError),
                     (KEYS[kind].replace("test", "forbidden"), AuthError)):
        client = DevinClient(settings(kind, sim.base_url, key=key), runtime=Runtime(sleep=Sleeps()))
        with client, pytest.raises(cls) as caught:
            client.list_sessions()
        assert caught.value.status in (401, 403) and caught.value.request_id
        assert "invalid" not in str(caught.value) or "key" in str(caught.value)
        assert key not in str(caught.value) and SECRET_PART not in str(caught.value)
    with sim_client(sim, kind) as client, pytest.raises(NotFoundError) as caught:
        client.get("devin-0000000000000000")
    assert "devin-0000000000000000" in str(caught.value) and caught.value.exit_code == 2


def test_wrong_org_is_a_not_found_error_that_names_the_org_setting(sim):
    with sim_client(sim, "v3", org="org-other") as client, pytest.raises(NotFoundError) as caught:
        client.list_sessions()
    assert "DEVIN_ORG_ID" in str(caught.value)


def test_unprocessable_create_on_the_simulator(sim):
    for kind in KINDS:
        with sim_client(sim, kind) as client, pytest.raises(ValidationError) as caught:
            client.create({"title": "no prompt"}, client_tag="handoff-0000000000ad")
        assert "prompt: Field required" in str(caught.value) and caught.value.status == 422
        assert_no_key(caught.value)


# -- retries ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_429_is_retried_after_the_servers_retry_after(sim, kind):
    sleeps = Sleeps()
    with sim_client(sim, kind, sleeps) as client:
        sim.inject("list", "429", times=2, retry_after=3)
        assert client.list_sessions() == []
    assert sleeps == [3.0, 3.0] and len(calls(sim, "list")) == 3


def test_retry_after_as_an_http_date():
    when = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=20), usegmt=True)
    replies = iter([answer(429, {"detail": "slow down"}, headers={"Retry-After": when}), answer(200, v3_session())])
    sleeps = Sleeps()
    with MockApi(lambda request: next(replies)).client("v3", sleeps) as client:
        client.get("devin-abc")
    assert len(sleeps) == 1 and 15 <= sleeps[0] <= 20


def test_a_retry_after_beyond_the_budget_gives_up_at_once():
    sleeps = Sleeps()
    mock = MockApi(lambda request: answer(429, {"detail": "Too Many Requests"}, headers={"Retry-After": "120"}))
    with mock.client("v3", sleeps, retry_budget=10.0) as client, pytest.raises(UnreachableError) as caught:
        client.get("devin-abc")
    assert sleeps == [] and len(mock.requests) == 1
    assert "rate limiting" in str(caught.value) and "120 s" in str(caught.value)


@pytest.mark.parametrize("fault", ["502", "503", "504", "500", "html", "drop", "bad_json"])
@pytest.mark.parametrize("kind", KINDS)
def test_gets_are_retried_with_jittered_exponential_backoff(sim, kind, fault):
    sleeps = Sleeps()
    with sim_client(sim, kind, sleeps) as client:
        sid = client.create(create_body("handoff-0000000000ae"), client_tag="handoff-0000000000ae").session_id
        sim.inject("get", fault, times=3)
        assert client.get(sid).session_id == sid
    assert len(sleeps) == 3
    assert all(0 <= s <= min(api.BACKOFF_CAP, api.BACKOFF_BASE * 2 ** i) for i, s in enumerate(sleeps))


def test_backoff_is_capped_and_attempts_are_bounded():
    sleeps = Sleeps()
    mock = MockApi(lambda request: answer(503, {"detail": "Service Unavailable"}))
    with mock.client("v3", sleeps, retry_budget=1000.0) as client, pytest.raises(UnreachableError) as caught:
        client.get("devin-abc")
    assert len(mock.requests) == api.MAX_ATTEMPTS and len(sleeps) == api.MAX_ATTEMPTS - 1
    assert max(sleeps) <= api.BACKOFF_CAP
    assert "503" in str(caught.value) and caught.value.exit_code == 5


def test_the_retry_budget_bounds_total_time():
    sleeps = Sleeps()
    mock = MockApi(lambda request: answer(502, {"detail": "Bad Gateway"}))
    with mock.client("v3", sleeps, retry_budget=0.6) as client, pytest.raises(UnreachableError):
        client.get("devin-abc")
    assert sum(sleeps) <= 0.6 + 1e-9


@pytest.mark.parametrize("kind", KINDS)
def test_connection_refused_is_retried_then_unreachable(kind):
    sleeps = Sleeps()
    url = f"http://127.0.0.1:{free_port()}"
    client = DevinClient(settings(kind, url), runtime=Runtime(sleep=sleeps), retry_budget=1000.0)
    with client, pytest.raises(UnreachableError) as caught:
        client.create(create_body("handoff-0000000000af"), client_tag="handoff-0000000000af")
    assert caught.value.exit_code == 5 and not isinstance(caught.value, AmbiguousCreate)
    assert "127.0.0.1" in str(caught.value) and len(sleeps) == api.MAX_ATTEMPTS - 1
    assert_no_key(caught.value)


def test_a_create_refused_before_sending_is_sent_again():
    attempts: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        attempts.append(1)
        if len(attempts) == 1:
            raise httpx.ConnectError("Connection refused", request=request)
        return answer(200, v3_session("devin-new", status="new", status_detail=None))

    mock = MockApi(handler)
    with mock.client("v3") as client:
        assert client.create(create_body("handoff-0000000000b0"), client_tag="handoff-0000000000b0").status == "new"
    assert mock.paths == ["POST /v3/organizations/org-x/sessions"] * 2  # no lookup needed: it was never sent


@pytest.mark.parametrize("kind", KINDS)
def test_create_rate_limited_or_unavailable_is_retried_without_a_lookup(sim, kind):
    sleeps = Sleeps()
    tag = new_client_tag()
    with sim_client(sim, kind, sleeps) as client:
        sim.inject("create", "429", retry_after=1)
        sim.inject("create", "503")
        client.create(create_body(tag), client_tag=tag)
    assert len(calls(sim, "create")) == 3 and not calls(sim, "list")
    assert len(sessions_with(sim, tag)) == 1 and sleeps[0] == 1.0


def test_send_is_not_retried_after_a_500(sim):
    with sim_client(sim, "v3") as client:
        sid = client.create(create_body("handoff-0000000000b1"), client_tag="handoff-0000000000b1").session_id
        sim.inject("send", "500", after=True)
        with pytest.raises(UnreachableError) as caught:
            client.send(sid, "one message")
    assert len(calls(sim, "send")) == 1
    assert [m["text"] for m in sim.sessions[sid]["messages"]].count("one message") == 1
    assert "may have been delivered" in str(caught.value)


def test_send_is_not_repeated_after_a_dropped_answer(sim):
    with sim_client(sim, "v1") as client:
        sid = client.create(create_body("handoff-0000000000b2"), client_tag="handoff-0000000000b2").session_id
        sim.inject("send", "drop")
        with pytest.raises(UnreachableError):
            client.send(sid, "once only")
    assert [m["text"] for m in sim.sessions[sid]["messages"]].count("once only") == 1


def test_send_is_retried_on_503(sim):
    sleeps = Sleeps()
    with sim_client(sim, "v3", sleeps) as client:
        sid = client.create(create_body("handoff-0000000000b3"), client_tag="handoff-0000000000b3").session_id
        sim.inject("send", "503")
        client.send(sid, "hello")
    assert len(calls(sim, "send")) == 2 and len(sleeps) == 1


# -- never a duplicate session ------------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fault", ["drop", "500", "bad_json"])
def test_ambiguous_create_is_resolved_by_the_tag_lookup(sim, kind, fault):
    """The create reaches Devin but its answer is lost: the lookup finds it; exactly one session exists."""
    tag = new_client_tag()
    opts = {"after": True} if fault == "500" else {}
    sim.inject("create", fault, **opts)
    with sim_client(sim, kind) as client:
        session = client.create(create_body(tag), client_tag=tag)
    assert len(sessions_with(sim, tag)) == 1
    assert session.session_id == sessions_with(sim, tag)[0]["session_id"]
    assert len(calls(sim, "create")) == 1 and calls(sim, "list")
    lookup = next(r for r in sim.requests if r["call"] == "list")
    assert lookup["query"]["tags"] == [tag]


@pytest.mark.parametrize("kind", KINDS)
def test_create_that_never_landed_is_looked_up_then_sent_again(sim, kind):
    tag = new_client_tag()
    sim.inject("create", "500")       # answered 500 before doing anything
    sim.inject("create", "html")      # a gateway's HTML page
    with sim_client(sim, kind) as client:
        session = client.create(create_body(tag), client_tag=tag)
    assert [s["session_id"] for s in sessions_with(sim, tag)] == [session.session_id]
    assert len(calls(sim, "create")) == 3 and len(calls(sim, "list")) >= 2


def test_create_that_times_out_while_the_server_works_on_it_is_found_on_the_second_lookup(sim):
    tag = new_client_tag()
    sim.inject("create", "slow", seconds=0.6)
    pauses: list[float] = []

    def sleep(seconds: float) -> None:  # a pause long enough for the slow create to land
        pauses.append(seconds)
        time.sleep(0.8)

    client = DevinClient(settings("v3", sim.base_url), runtime=Runtime(sleep=sleep), read_timeout=0.2,
                         retry_budget=20.0)
    with client:
        session = client.create(create_body(tag), client_tag=tag)
    assert [s["session_id"] for s in sessions_with(sim, tag)] == [session.session_id]
    assert len(calls(sim, "create")) == 1 and len(calls(sim, "list")) == 2


@pytest.mark.parametrize("kind", KINDS)
def test_lookup_failure_after_an_ambiguous_create_is_ambiguous_create(sim, kind):
    tag = new_client_tag()
    sim.inject("create", "drop")
    sim.inject("list", "500", times=100)
    with sim_client(sim, kind, retry_budget=3.0) as client, pytest.raises(AmbiguousCreate) as caught:
        client.create(create_body(tag), client_tag=tag)
    error = caught.value
    assert error.exit_code == 5 and isinstance(error, UnreachableError)
    assert tag in str(error) and "may have been created" in str(error)
    assert_no_key(error)
    assert len(calls(sim, "create")) == 1  # nothing sent again while it is unknown
    assert len(sessions_with(sim, tag)) == 1


def test_lookup_ignores_sessions_without_the_tag_when_the_server_ignores_the_filter():
    """A server that ignores ?tags= must not make the client adopt someone else's session."""
    creates: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            creates.append(1)
            if len(creates) == 1:  # the connection breaks: maybe received, so the tag is looked up first
                raise httpx.RemoteProtocolError("connection closed", request=request)
            return answer(200, v3_session("devin-mine", tags=json.loads(request.content)["tags"]))
        return answer(200, {"items": [v3_session("devin-other", tags=["handoff"])], "end_cursor": None,
                            "has_next_page": False})

    mock = MockApi(handler)
    with mock.client("v3") as client:
        session = client.create(create_body("handoff-0000000000b4"), client_tag="handoff-0000000000b4")
    assert session.session_id == "devin-mine" and len(creates) == 2


def test_the_client_tag_is_always_in_the_create_body():
    bodies: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return answer(200, {"session_id": "devin-abc", "url": "https://app.devin.ai/sessions/abc",
                            "is_new_session": True})

    mock = MockApi(handler)
    with mock.client("v1") as client:
        created = client.create({"prompt": "p", "title": "p", "tags": [f"t{i}" for i in range(55)],
                                 "create_as_user_id": "u"}, client_tag="handoff-0000000000b5")
    tags = bodies[0]["tags"]
    assert "handoff-0000000000b5" in tags and len(tags) == api.MAX_TAGS
    assert bodies[0]["idempotent"] is True and "create_as_user_id" not in bodies[0]
    assert created.title == "p" and "handoff-0000000000b5" in created.tags and created.status == "new"


def test_v1_idempotent_create_returns_the_existing_session(sim):
    tag = new_client_tag()
    with sim_client(sim, "v1") as client:
        first = client.create(create_body(tag), client_tag=tag)
        again = client.create(create_body(tag), client_tag=tag)
    assert again.session_id == first.session_id and again.is_new_session is False
    assert len(sessions_with(sim, tag)) == 1


def test_session_to_json_is_plain():
    session = Session("devin-x", "https://app.devin.ai/sessions/x", "running", "finished", "t", ("a",),
                      (api.PullRequest("https://github.com/o/r/pull/1", "open"),), 1, 2)
    data = session.to_json()
    assert json.loads(json.dumps(data)) == data
    assert data["outcome"] == "finished" and data["pull_requests"][0]["url"].endswith("/pull/1")


@pytest.mark.parametrize(("raw", "content_type"), [(b"<html><title>Oops</title></html>", "text/html"),
                                                   (b"{not json", "application/json")])
def test_unreadable_success_answer_to_create_is_ambiguous_and_looked_up(raw, content_type):
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return answer(200, raw=raw, content_type=content_type)
        assert request.url.params["tags"] == "handoff-0000000000b6"
        return answer(200, {"items": [v3_session("devin-made", tags=["handoff", "handoff-0000000000b6"])],
                            "end_cursor": None, "has_next_page": False})

    mock = MockApi(handler)
    with mock.client("v3") as client:
        session = client.create(create_body("handoff-0000000000b6"), client_tag="handoff-0000000000b6")
    assert session.session_id == "devin-made"
    assert mock.paths == ["POST /v3/organizations/org-x/sessions", "GET /v3/organizations/org-x/sessions"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_get_that_times_out_is_retried(sim, kind):
    sleeps = Sleeps()
    with sim_client(sim, kind, sleeps, read_timeout=0.15) as client:
        sid = client.create(create_body("handoff-0000000000b7"), client_tag="handoff-0000000000b7").session_id
        sim.inject("get", "slow", seconds=0.4)
        assert client.get(sid).session_id == sid
    assert len(sleeps) == 1 and len(calls(sim, "get")) == 2


@pytest.mark.parametrize(("page", "ids", "expected"), [
    ({"items": [], "end_cursor": "c", "has_next_page": True}, [], (False, "c", False)),  # nothing came: stop
    ({"end_cursor": "c2", "has_next_page": False}, ["a"], (False, "c2", False)),          # the API says done
    ({"end_cursor": 17}, ["a"], (True, "17", False)),                                      # a number is a cursor
    ({"end_cursor": None, "has_next_page": True}, ["a", "b"], (True, "b", True)),         # more, but no cursor
    ({}, ["a", "b"], (True, "b", True)),                                                   # a full bare page
    ({}, ["a"], (False, None, False)),                                                     # a short bare page
])
def test_paging_goes_on_until_the_api_says_done_whatever_fields_are_missing(page, ids, expected):
    from handoff.devin.dialect import more_pages

    assert more_pages(page, ids, asked=2) == expected
