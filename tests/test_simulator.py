"""The Devin API simulator, driven over real HTTP on 127.0.0.1 with httpx."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from handoff.simulator import DEFAULT_MESSAGES, Simulator

STEP = 0.03
V3_KEY = "cog_test_key_123"
V1_KEY = "apk_test_key_123"
ORG = "org-sim"
LOOPBACK = {"verify": False, "timeout": 5}  # plain http on 127.0.0.1: skip loading CA certificates (~50 ms a client)


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(step_seconds=STEP) as running:
        yield running


def v3(sim: Simulator, key: str = V3_KEY, org: str = ORG, **kwargs: Any) -> httpx.Client:
    return httpx.Client(base_url=f"{sim.base_url}/v3/organizations/{org}",
                        headers={"Authorization": f"Bearer {key}"}, **LOOPBACK, **kwargs)


def v1(sim: Simulator, key: str = V1_KEY, **kwargs: Any) -> httpx.Client:
    return httpx.Client(base_url=f"{sim.base_url}/v1", headers={"Authorization": f"Bearer {key}"}, **LOOPBACK,
                        **kwargs)


def get_self(sim: Simulator, key: str | None = V3_KEY) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.get(f"{sim.base_url}/v3/self", headers=headers, **LOOPBACK)


def wait_for(check: Callable[[], Any], timeout: float = 3.0) -> Any:
    """Poll until `check()` is truthy; return its value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.005)
    raise AssertionError("condition not reached in time")


def v3_get(client: httpx.Client, sid: str) -> dict:
    response = client.get(f"/sessions/{sid}")
    assert response.status_code == 200, response.text
    return response.json()


def v3_messages(client: httpx.Client, sid: str) -> list[dict]:
    return client.get(f"/sessions/{sid}/messages").json()["items"]


def v3_create(client: httpx.Client, prompt: str = "Fix the flaky test", **body: Any) -> dict:
    response = client.post("/sessions", json={"prompt": prompt, **body})
    assert response.status_code == 200, response.text
    return response.json()


def v1_create(client: httpx.Client, prompt: str = "Fix the flaky test", **body: Any) -> dict:
    response = client.post("/sessions", json={"prompt": prompt, **body})
    assert response.status_code == 200, response.text
    return response.json()


def assert_problem(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status and problem["title"] and problem["detail"]
    assert problem["instance"] == response.request.url.path
    return problem


# -- life cycle ----------------------------------------------------------------------------------------

def test_start_is_fast_serves_on_loopback_and_stop_is_idempotent() -> None:
    began = time.perf_counter()
    sim = Simulator().start()
    elapsed = time.perf_counter() - began
    try:
        assert elapsed < 0.25, f"start took {elapsed * 1000:.1f} ms"  # typically ~2 ms; slack for loaded CI
        assert sim.base_url.startswith("http://127.0.0.1:")
        kept_alive = v3(sim)
        assert kept_alive.get("/sessions").status_code == 200
    finally:
        sim.stop()
    sim.stop()
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{sim.base_url}/v3/self", timeout=1)
    with pytest.raises(httpx.TransportError):  # a kept-alive connection is cut too, not served on
        kept_alive.get("/sessions")


# -- v3 ------------------------------------------------------------------------------------------------

def test_v3_create_get_list_by_tag_and_self(sim: Simulator) -> None:
    with v3(sim) as client:
        created = v3_create(client, "Fix it", title="Fix it", tags=["handoff", "handoff-abc"], repos=["octo/repo"])
        sid = created["session_id"]
        assert sid.startswith("devin-") and len(sid) > 10
        assert created["url"] == f"https://app.devin.ai/sessions/{sid.removeprefix('devin-')}"
        assert created["status"] == "new" and created["status_detail"] is None
        assert created["org_id"] == ORG and created["is_archived"] is False
        assert isinstance(created["created_at"], int) and created["pull_requests"] == []
        v3_create(client, "Another", tags=["handoff"])

        got = v3_get(client, sid)
        assert got["session_id"] == sid and got["title"] == "Fix it" and got["tags"] == ["handoff", "handoff-abc"]

        listed = client.get("/sessions", params={"tags": "handoff-abc"}).json()
        assert [s["session_id"] for s in listed["items"]] == [sid]
        assert listed["total"] == 1 and listed["has_next_page"] is False
        assert client.get("/sessions", params={"tags": "handoff"}).json()["total"] == 2
        first = client.get("/sessions", params={"first": 1}).json()
        assert first["has_next_page"] is True and first["items"][0]["title"] == "Another"  # newest first
        second = client.get("/sessions", params={"first": 1, "after": first["end_cursor"]}).json()
        assert [s["session_id"] for s in second["items"]] == [sid] and second["has_next_page"] is False

        me = get_self(sim).json()
        assert me["principal_type"] == "service_user" and me["org_id"] == ORG and me["service_user_id"]
    snapshot = sim.sessions[sid]
    assert snapshot["body"]["repos"] == ["octo/repo"] and snapshot["tags"] == ["handoff", "handoff-abc"]
    assert snapshot["messages"][0]["text"] == snapshot["messages"][0]["message"] == "Fix it"


def test_v3_session_progresses_to_finished_with_messages_and_pr() -> None:
    # steps long enough that a loaded machine still sees the working state between them
    with Simulator(step_seconds=0.2) as sim, v3(sim) as client:
        sid = v3_create(client, "Fix it", repos=["octo/repo"])["session_id"]
        seen: list[tuple[str, str | None]] = []

        def finished() -> dict | None:
            session = v3_get(client, sid)
            if not seen or seen[-1] != (session["status"], session["status_detail"]):
                seen.append((session["status"], session["status_detail"]))
            return session if session["status_detail"] == "finished" else None

        final = wait_for(finished)
        order = [("new", None), ("running", "working"), ("running", "finished")]
        assert ("running", "working") in seen and seen == [state for state in order if state in seen]
        assert final["status"] == "running"
        assert final["pull_requests"] == [{"pr_url": "https://github.com/octo/repo/pull/1", "pr_state": "open"}]
        messages = v3_messages(client, sid)
        assert [(m["source"], m["message"]) for m in messages] == [
            ("user", "Fix it"), *[("devin", text) for text in DEFAULT_MESSAGES]]
        assert all(isinstance(m["created_at"], int) and m["event_id"].startswith("event-") for m in messages)
        times = sim.publish_times(sid)
        assert list(times) == [m["event_id"] for m in messages]
        assert list(times.values()) == sorted(times.values()) and max(times.values()) <= time.monotonic()


V3_ENDS = {
    "finished": ("running", "finished"), "waiting_for_user": ("running", "waiting_for_user"),
    "error": ("error", None), "suspended": ("suspended", "out_of_credits"), "exit": ("exit", None),
    "expired": ("suspended", "inactivity"),
}
V1_ENDS = {
    "finished": ("running", "finished"), "waiting_for_user": ("running", "blocked"), "error": ("error", None),
    "suspended": ("suspended", "suspend_requested"), "exit": ("exit", None), "expired": ("expired", "expired"),
}


@pytest.mark.parametrize("end", list(V3_ENDS))
def test_every_end_state_in_both_versions(sim: Simulator, end: str) -> None:
    sim.script(end=end, steps=2, messages=["Working on it."], pr=False, suspend_reason="out_of_credits")
    with v3(sim) as three, v1(sim) as one:
        sid = v3_create(three)["session_id"]
        sid1 = v1_create(one)["session_id"]
        wait_for(lambda: all(sim.sessions[s]["state"] not in ("new", "working") for s in (sid, sid1)))
        got = v3_get(three, sid)
        assert (got["status"], got["status_detail"]) == V3_ENDS[end]
        assert got["pull_requests"] == []
        old = one.get(f"/sessions/{sid1}").json()
        assert (old["status"], old["status_enum"]) == V1_ENDS[end]
        assert old["pull_request"] is None
        assert [m["message"] for m in old["messages"] if m["type"] == "devin_message"] == ["Working on it."]


def test_v3_message_cursors_lose_and_repeat_nothing_while_messages_appear() -> None:
    texts = [f"message {i}" for i in range(12)]
    with Simulator(step_seconds=0.02, end_cursor_on_last_page=True) as sim, v3(sim) as client:
        sim.script(messages=texts, pr=False)
        sid = v3_create(client, "go")["session_id"]
        seen: list[str] = []
        cursor = None
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            params = {"first": 2, **({"after": cursor} if cursor else {})}
            page = client.get(f"/sessions/{sid}/messages", params=params).json()
            seen += [m["message"] for m in page["items"]]
            cursor = page["end_cursor"] or cursor
            if not page["has_next_page"] and sim.sessions[sid]["state"] == "finished" and len(seen) == 13:
                break
            time.sleep(0.005)
        assert seen == ["go", *texts]  # chronological, each once, no dedupe needed


def test_v3_end_cursor_is_null_on_last_page_by_default_and_paging_with_kept_cursor_is_lossless(
        sim: Simulator) -> None:
    texts = [f"m{i}" for i in range(8)]
    sim.script(messages=texts, pr=False)
    with v3(sim) as client:
        sid = v3_create(client, "go")["session_id"]
        by_id: dict[str, str] = {}
        cursor = None
        deadline = time.monotonic() + 5
        while (sim.sessions[sid]["state"] != "finished" or len(by_id) < 9) and time.monotonic() < deadline:
            page = client.get(f"/sessions/{sid}/messages",
                              params={"first": 3, **({"after": cursor} if cursor else {})}).json()
            if not page["has_next_page"]:
                assert page["end_cursor"] is None
            for item in page["items"]:
                by_id.setdefault(item["event_id"], item["message"])
            cursor = page["end_cursor"] or cursor
        assert list(by_id.values()) == ["go", *texts]
        bad = client.get(f"/sessions/{sid}/messages", params={"after": "not-a-cursor"})
        assert_problem(bad, 400)
        assert_problem(client.get(f"/sessions/{sid}/messages", params={"first": 500}), 422)


def test_v3_question_waits_for_user_then_resumes_on_reply(sim: Simulator) -> None:
    sim.script(question="Should I also update the docs?", end="finished")
    with v3(sim) as client:
        sid = v3_create(client, "Fix it")["session_id"]
        waiting = wait_for(lambda: (s := v3_get(client, sid))["status_detail"] == "waiting_for_user" and s)
        assert waiting["status"] == "running" and waiting["pull_requests"] == []
        time.sleep(STEP * 3)
        assert v3_get(client, sid)["status_detail"] == "waiting_for_user"  # waits for as long as it takes
        last = v3_messages(client, sid)[-1]
        assert (last["source"], last["message"]) == ("devin", "Should I also update the docs?")
        sent = client.post(f"/sessions/{sid}/messages", json={"message": "Yes, please."})
        assert sent.status_code == 200 and sent.json()["status"] == "running"
        assert sent.json()["status_detail"] is None  # only get/list fill it
        done = wait_for(lambda: (s := v3_get(client, sid))["status_detail"] == "finished" and s)
        assert done["pull_requests"]
        texts = [(m["source"], m["message"]) for m in v3_messages(client, sid)]
        assert texts == [("user", "Fix it"), ("devin", DEFAULT_MESSAGES[0]),
                         ("devin", "Should I also update the docs?"), ("user", "Yes, please."),
                         ("devin", DEFAULT_MESSAGES[1]), ("devin", DEFAULT_MESSAGES[2])]


def test_v3_send_resumes_a_suspended_session(sim: Simulator) -> None:
    sim.step_seconds = 0.05  # wide enough windows to watch resuming -> running go by
    sim.script(end="suspended", steps=2, messages=["Started."], pr=False)
    with v3(sim) as client:
        sid = v3_create(client)["session_id"]
        suspended = wait_for(lambda: (s := v3_get(client, sid))["status"] == "suspended" and s)
        assert suspended["status_detail"] == "inactivity"
        resumed = client.post(f"/sessions/{sid}/messages", json={"message": "Carry on"}).json()
        assert resumed["status"] == "resuming"
        seen = set()
        wait_for(lambda: seen.add((s := v3_get(client, sid))["status"]) or s["status_detail"] == "finished")
        assert "running" in seen
        assert v3_messages(client, sid)[-1]["source"] == "devin"


def test_v3_archive_and_terminate(sim: Simulator) -> None:
    sim.script(steps=50, messages=["Working."])
    with v3(sim) as client:
        sid = v3_create(client)["session_id"]
        wait_for(lambda: v3_get(client, sid)["status"] == "running")
        archived = client.post(f"/sessions/{sid}/archive")
        assert archived.status_code == 200 and archived.json()["is_archived"] is True
        got = v3_get(client, sid)
        assert (got["status"], got["status_detail"]) == ("suspended", "user_request")
        assert_problem(client.post(f"/sessions/{sid}/messages", json={"message": "more"}), 409)
        time.sleep(STEP * 2)
        assert v3_get(client, sid)["status"] == "suspended"  # it never continues

        other = v3_create(client)["session_id"]
        ended = client.delete(f"/sessions/{other}", params={"archive": "true"}).json()
        assert ended["status"] == "exit" and ended["is_archived"] is True
        assert sim.sessions[sid]["archived"] and sim.sessions[other]["state"] == "exit"


def test_v3_org_less_paths_resolve_the_org_from_the_key(sim: Simulator) -> None:
    with httpx.Client(base_url=f"{sim.base_url}/v3/organizations", **LOOPBACK,
                      headers={"Authorization": f"Bearer {V3_KEY}"}) as client:
        created = client.post("/sessions", json={"prompt": "x"}).json()
        assert created["org_id"] == ORG
        assert client.get(f"/sessions/{created['session_id']}").status_code == 200


# -- v1 ------------------------------------------------------------------------------------------------

def test_v1_create_is_idempotent_and_get_embeds_messages(sim: Simulator) -> None:
    with v1(sim) as client:
        first = v1_create(client, "Fix it", tags=["handoff", "handoff-1"], idempotent=True)
        assert first["is_new_session"] is True and first["session_id"].startswith("devin-")
        assert first["url"].endswith(first["session_id"].removeprefix("devin-"))
        again = v1_create(client, "Fix it", tags=["handoff-1", "handoff"], idempotent=True)
        assert again == {**first, "is_new_session": False}
        other = v1_create(client, "Fix it", tags=["handoff", "handoff-2"], idempotent=True)
        assert other["is_new_session"] is True and other["session_id"] != first["session_id"]
        sid = first["session_id"]

        done = wait_for(lambda: (s := client.get(f"/sessions/{sid}").json())["status_enum"] == "finished" and s)
        assert done["status"] == "running"
        assert done["pull_request"]["url"].startswith("https://github.com/acme/widgets/pull/")
        assert [m["type"] for m in done["messages"]] == ["initial_user_message"] + ["devin_message"] * 3
        assert done["messages"][0]["message"] == "Fix it" and done["messages"][0]["username"]
        for stamp in [done["created_at"], done["updated_at"], *(m["timestamp"] for m in done["messages"])]:
            assert datetime.fromisoformat(stamp).tzinfo is not None
        assert client.get(f"/session/{sid}").json()["session_id"] == sid  # legacy singular spelling


def test_v1_list_by_tags_with_offset(sim: Simulator) -> None:
    with v1(sim) as client:
        ids = [v1_create(client, f"task {i}", tags=["handoff", f"t{i % 2}"])["session_id"] for i in range(4)]
        listed = client.get("/sessions", params={"tags": "t0"}).json()["sessions"]
        assert [s["session_id"] for s in listed] == [ids[2], ids[0]]
        assert "messages" not in listed[0] and listed[0]["requesting_user_email"]
        page = client.get("/sessions", params={"tags": "handoff", "limit": 2, "offset": 1}).json()["sessions"]
        assert [s["session_id"] for s in page] == [ids[2], ids[1]]


def test_v1_question_blocks_then_resumes_on_reply_on_both_paths(sim: Simulator) -> None:
    sim.script(question="Which branch?", messages=["Looking.", "Done."], end="finished")
    with v1(sim) as client:
        sid = v1_create(client, "Fix it")["session_id"]
        blocked = wait_for(lambda: (s := client.get(f"/sessions/{sid}").json())["status_enum"] == "blocked" and s)
        assert blocked["messages"][-1]["message"] == "Which branch?"
        sent = client.post(f"/session/{sid}/message", json={"message": "main"})
        assert sent.status_code == 200 and sent.json() is None
        done = wait_for(lambda: (s := client.get(f"/sessions/{sid}").json())["status_enum"] == "finished" and s)
        assert [(m["type"], m["message"]) for m in done["messages"]] == [
            ("initial_user_message", "Fix it"), ("devin_message", "Looking."), ("devin_message", "Which branch?"),
            ("user_message", "main"), ("devin_message", "Done.")]
        assert done["pull_request"] is not None
        ended = client.post(f"/sessions/{sid}/message", json={"message": "thanks"})
        assert ended.status_code == 200
        assert client.delete(f"/sessions/{sid}").json() == {"detail": "Session terminated"}
        refused = client.post(f"/sessions/{sid}/message", json={"message": "again"}).json()
        assert "ended" in refused["detail"]


# -- validation and auth -------------------------------------------------------------------------------

def test_missing_prompt_is_422_with_field_errors(sim: Simulator) -> None:
    with v1(sim) as old, v3(sim) as new:
        response = old.post("/sessions", json={"title": "x"})
        assert response.status_code == 422
        assert response.json() == {"detail": [{"loc": ["body", "prompt"], "msg": "Field required", "type": "missing"}]}
        problem = assert_problem(new.post("/sessions", json={"title": "x"}), 422)
        assert problem["errors"][0]["loc"] == ["body", "prompt"] and "prompt" in problem["detail"]
        assert_problem(new.post("/sessions", content=b"{not json", headers={"Content-Type": "application/json"}), 422)
        assert old.post("/sessions", json={"prompt": "x", "tags": "notalist"}).status_code == 422
    assert sim.sessions == {}


def test_auth_errors(sim: Simulator) -> None:
    base = sim.base_url
    assert_problem(get_self(sim, None), 401)
    assert_problem(get_self(sim, "cog_invalid_key"), 401)
    assert_problem(get_self(sim, "not_a_devin_key"), 401)
    assert_problem(get_self(sim, V1_KEY), 403)
    assert_problem(httpx.get(f"{base}/v3/self", headers={"Authorization": "Token cog_abc"}, **LOOPBACK), 401)
    with v3(sim, key="cog_forbidden_key") as client:
        assert_problem(client.post("/sessions", json={"prompt": "x"}), 403)
    with v3(sim, key=V1_KEY) as client:
        assert "cog_" in assert_problem(client.get("/sessions"), 403)["detail"]
    with v1(sim, key=V3_KEY) as client:
        response = client.get("/sessions")
        assert response.status_code == 403 and "apk_" in response.json()["detail"]
    with v1(sim, key="apk_invalid") as client:
        assert client.get("/sessions").status_code == 401
    with v3(sim, org="org-other") as client:
        assert_problem(client.get("/sessions"), 404)
    with v3(sim) as client:
        assert "not found" in assert_problem(client.get("/sessions/devin-0000"), 404)["detail"]
        assert_problem(client.get("/sessions/devin-0000/messages"), 404)
        assert_problem(client.put("/sessions"), 405)
    with v1(sim) as client:
        missing = client.get("/sessions/devin-0000")
        assert missing.status_code == 404 and isinstance(missing.json()["detail"], str)
    assert sim.sessions == {}
    assert {r["auth_kind"] for r in sim.requests} == {None, "cog", "apk", "other"}
    assert "key_123" not in json.dumps(sim.requests)


def test_explicit_keys_table(sim: Simulator) -> None:
    sim.keys = {"cog_known": "v3"}
    with v3(sim, key="cog_known") as known, v3(sim, key="cog_unknown") as unknown:
        assert known.get("/sessions").status_code == 200
        assert_problem(unknown.get("/sessions"), 401)


def test_request_log_records_calls_without_the_key(sim: Simulator) -> None:
    with v3(sim) as client:
        sid = v3_create(client, "Fix it", tags=["handoff"])["session_id"]
        client.get("/sessions", params={"tags": ["a", "b"], "first": 5})
    create, listing = sim.requests
    assert create == {**create, "method": "POST", "path": f"/v3/organizations/{ORG}/sessions", "query": {},
                      "body": {"prompt": "Fix it", "tags": ["handoff"]}, "auth_kind": "cog", "call": "create",
                      "fault": None}
    assert listing["query"] == {"tags": ["a", "b"], "first": ["5"]} and listing["body"] is None
    assert V3_KEY not in repr(sim.requests) and sid in sim.sessions


# -- faults --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("status", ["500", "502", "503", "504", "401", "403", "404"])
def test_status_faults_in_each_versions_error_format(sim: Simulator, status: str) -> None:
    sim.inject("list", status)
    sim.inject("get", status)
    with v3(sim) as three, v1(sim) as one:
        assert_problem(three.get("/sessions"), int(status))
        assert three.get("/sessions").status_code == 200  # consumed
        response = one.get("/sessions/devin-x")
        assert response.status_code == int(status) and isinstance(response.json()["detail"], str)
    assert sim.pending_faults == []


def test_429_carries_retry_after(sim: Simulator) -> None:
    sim.inject("create", "429", retry_after=3)
    sim.inject("create", "429", retry_after="Wed, 21 Oct 2026 07:28:00 GMT")
    sim.inject("create", "429", retry_after=None)
    with v3(sim) as client:
        first = client.post("/sessions", json={"prompt": "x"})
        assert first.status_code == 429 and first.headers["Retry-After"] == "3"
        assert client.post("/sessions", json={"prompt": "x"}).headers["Retry-After"].endswith("GMT")
        assert "Retry-After" not in client.post("/sessions", json={"prompt": "x"}).headers
        assert sim.sessions == {}  # a 429 does nothing
        assert client.post("/sessions", json={"prompt": "x"}).status_code == 200


def test_faults_are_consumed_in_order_per_call_kind_and_any_matches_all(sim: Simulator) -> None:
    with v3(sim) as client:
        sid = v3_create(client)["session_id"]
        sim.inject("get", "503", times=2)
        sim.inject("get", "429")
        sim.inject("any", "502")
        get = lambda: client.get(f"/sessions/{sid}").status_code  # noqa: E731
        codes = [get(), get(), client.get("/sessions").status_code, get(), get()]
    assert codes == [503, 503, 502, 429, 200]  # the list call skips the get faults and takes 'any'
    assert [r["fault"] for r in sim.requests[1:]] == ["503", "503", "502", "429", None]


def test_any_fault_hits_the_next_call_of_any_kind(sim: Simulator) -> None:
    sim.inject("any", "500", times=2)
    with v3(sim) as client:
        assert client.get("/sessions").status_code == 500
        assert get_self(sim).status_code == 500
        assert client.get("/sessions").status_code == 200


def test_drop_closes_the_socket_without_an_answer_but_create_still_happens(sim: Simulator) -> None:
    sim.inject("create", "drop")
    with v3(sim) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            client.post("/sessions", json={"prompt": "x", "tags": ["handoff-amb"]})
        found = client.get("/sessions", params={"tags": "handoff-amb"}).json()["items"]
        assert len(found) == 1 and len(sim.sessions) == 1  # the ambiguous create did create


def test_drop_before_does_nothing(sim: Simulator) -> None:
    sim.inject("create", "drop_before")
    sim.inject("get", "drop_before")
    with v1(sim) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            client.post("/sessions", json={"prompt": "x"})
        assert sim.sessions == {}
        with pytest.raises(httpx.RemoteProtocolError):
            client.get("/sessions/devin-x")
        assert client.get("/sessions").status_code == 200


def test_status_fault_after_the_call_happened(sim: Simulator) -> None:
    sim.inject("create", "500", after=True)
    with v3(sim) as client:
        assert_problem(client.post("/sessions", json={"prompt": "x", "tags": ["handoff-500"]}), 500)
        assert client.get("/sessions", params={"tags": "handoff-500"}).json()["total"] == 1


def test_slow_delays_and_can_outlast_a_read_timeout(sim: Simulator) -> None:
    sim.inject("get", "slow", seconds=0.2)
    sim.inject("list", "slow", seconds=0.4)
    with v3(sim) as client:
        sid = v3_create(client)["session_id"]
        began = time.monotonic()
        assert client.get(f"/sessions/{sid}").status_code == 200
        assert time.monotonic() - began >= 0.2
        with pytest.raises(httpx.ReadTimeout):
            client.get("/sessions", timeout=httpx.Timeout(5, read=0.1))


def test_bad_json_and_html_bodies(sim: Simulator) -> None:
    sim.inject("self", "bad_json")
    sim.inject("get", "html")
    headers = {"Authorization": f"Bearer {V3_KEY}"}
    broken = get_self(sim)
    assert broken.status_code == 200 and broken.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        broken.json()
    page = httpx.get(f"{sim.base_url}/v3/organizations/{ORG}/sessions/devin-x", headers=headers, **LOOPBACK)
    assert page.status_code == 502 and page.headers["content-type"].startswith("text/html")
    assert "<html>" in page.text


def test_inject_and_script_reject_unknown_names(sim: Simulator) -> None:
    with pytest.raises(ValueError):
        sim.inject("create", "teapot")
    with pytest.raises(ValueError):
        sim.inject("frobnicate", "500")
    with pytest.raises(ValueError):
        sim.script(end="done")


# -- the `simulator` command ---------------------------------------------------------------------------

def test_simulator_command_prints_its_url_and_stops_on_ctrl_c() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEVIN_")}
    process = subprocess.Popen([sys.executable, "-m", "handoff", "simulator", "--step", "0.02", "--end", "error"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        with httpx.Client(base_url=f"{url}/v3/organizations/{ORG}", **LOOPBACK,
                          headers={"Authorization": f"Bearer {V3_KEY}"}) as client:
            sid = v3_create(client)["session_id"]
            wait_for(lambda: v3_get(client, sid)["status"] == "error")
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
        assert "DEVIN_API_URL" in process.stderr.read()  # type: ignore[union-attr]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


# -- documented variations (the clients' tests are in test_states.py) ---------------------------------

def test_list_order_page_size_and_page_fields_are_as_configured():
    with Simulator(step_seconds=STEP, list_order="oldest", page_size=2, page_fields="cursor") as sim, \
            v3(sim) as client:
        ids = [v3_create(client, f"task {i}", tags=["t"])["session_id"] for i in range(5)]
        seen, after = [], None
        while True:
            page = client.get("/sessions", params={"first": 100, **({"after": after} if after else {})}).json()
            assert set(page) == {"items", "end_cursor"}  # no has_next_page, no total
            seen += [s["session_id"] for s in page["items"]]
            after = page["end_cursor"]
            if not after:
                break
        assert seen == ids  # oldest first, two per page whatever `first` asked


def test_pages_without_fields_take_an_item_id_as_cursor_and_messages_may_lack_a_source():
    with Simulator(step_seconds=STEP, page_fields="none", page_size=2, message_source=False) as sim, \
            v3(sim) as client:
        sid = v3_create(client)["session_id"]
        sim.add_messages(sid, ["a", "b", "c"])
        first = client.get(f"/sessions/{sid}/messages").json()
        assert set(first) == {"items"} and all("source" not in m for m in first["items"])
        rest = client.get(f"/sessions/{sid}/messages", params={"after": first["items"][-1]["event_id"]}).json()
        assert [m["message"] for m in first["items"] + rest["items"]] == ["Fix the flaky test", "a", "b", "c"]
        assert client.get(f"/sessions/{sid}/messages", params={"after": "nonsense"}).status_code == 400


def test_tag_filter_can_be_ignored_and_self_can_name_no_org():
    with Simulator(step_seconds=STEP, tag_filter=False, org_in_self=False) as sim, v3(sim) as client:
        v3_create(client, "mine", tags=["mine"])
        v3_create(client, "other", tags=["other"])
        assert len(client.get("/sessions", params={"tags": "mine"}).json()["items"]) == 2
        assert get_self(sim).json()["org_id"] is None
        orgless = httpx.get(f"{sim.base_url}/v3/organizations/sessions",
                            headers={"Authorization": f"Bearer {V3_KEY}"}, **LOOPBACK)
        assert orgless.status_code == 200 and len(orgless.json()["items"]) == 2


@pytest.mark.parametrize("reason", ["inactivity", "out_of_credits", "payment_declined"])
def test_suspended_sessions_carry_their_reason_and_approval_waits_for_approve(sim, reason):
    with v3(sim) as client:
        sim.script(end="suspended", suspend_reason=reason, steps=1, messages=[], pr=False)
        suspended = v3_create(client)["session_id"]
        sim.script(end="waiting_for_approval", steps=1, messages=[], pr=False)
        approval = v3_create(client)["session_id"]
        wait_for(lambda: v3_get(client, suspended)["status"] == "suspended")
        assert v3_get(client, suspended)["status_detail"] == reason
        wait_for(lambda: v3_get(client, approval)["status_detail"] == "waiting_for_approval")
        sim.approve(approval)
        wait_for(lambda: v3_get(client, approval)["status_detail"] == "finished")


def test_a_creating_session_shows_the_status_until_its_first_step():
    with Simulator(step_seconds=60) as sim, v3(sim) as client:
        sim.script(first_state="creating")
        sid = v3_create(client)["session_id"]
        assert (v3_get(client, sid)["status"], v3_get(client, sid)["status_detail"]) == ("creating", None)


def test_v1_singular_only_server_answers_405_on_the_plural_path_and_refuses_messages_when_suspended():
    with Simulator(step_seconds=STEP, v1_spelling="singular") as sim, v1(sim) as client:
        sim.script(end="suspended", steps=1, messages=[], pr=False)
        sid = v1_create(client)["session_id"]
        assert client.get(f"/sessions/{sid}").status_code == 405
        wait_for(lambda: client.get(f"/session/{sid}").json()["status_enum"] == "suspend_requested")
        answer = client.post(f"/session/{sid}/message", json={"message": "wake up"})
        assert answer.status_code == 200 and "suspended" in answer.json()["detail"]


def test_the_cli_choices_match_the_simulators_states():
    from handoff.cli.commands.simulator import END_CHOICES, SUSPEND_CHOICES
    from handoff.simulator import END_STATES, SUSPEND_REASONS

    assert END_CHOICES == END_STATES and SUSPEND_CHOICES == SUSPEND_REASONS
