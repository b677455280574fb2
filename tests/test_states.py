"""The documented session states and API variations, through the CLI in this process (time 20x fast) against
the simulator: approval waits, sleeping vs failed suspensions, `creating`, org-less keys, v1 suspend/stop,
v1 refusals, the legacy 405, list paging/order/tags, messages without `source`, pages without paging fields,
resuming a long backlog after Ctrl-C, separate read positions for `tail` and `tail --json`.
"""

from __future__ import annotations

import json
import sys

import anyio
import httpx
import pytest
from helpers import run_cli_here

from handoff import journal
from handoff.app import sessions
from handoff.config import Settings
from handoff.devin import DevinClient
from handoff.follow import MessageEvent
from handoff.simulator import SUSPEND_REASONS, Simulator
from handoff.tags import HANDOFF_TAG, LEGACY_TAG, new_client_tag

KEYS = {"v1": "apk_test_0123456789abcdef", "v3": "cog_test_0123456789abcdef"}
MESSAGES = ["Looking at the repository.", "Found the bug.", "Tests pass."]


@pytest.fixture(autouse=True)
def _fast(fast_forward):
    return fast_forward


def env_for(sim: Simulator, kind: str, *, org: bool = True) -> dict[str, str]:
    env = {"DEVIN_API_URL": sim.base_url, "DEVIN_API_KEY": KEYS[kind]}
    if kind == "v3" and org:
        env["DEVIN_ORG_ID"] = sim.org_id
    return env


def new_session(sim: Simulator, kind: str, *, tags: list[str] | None = None, journalled: bool = True,
                **script) -> str:
    """A session made straight over HTTP (not through the code under test), journalled as if handed off here."""
    sim.script(**script)
    client_tag = new_client_tag()
    body = {"prompt": "fix the widget", "tags": tags if tags is not None else [HANDOFF_TAG, client_tag]}
    url = f"{sim.base_url}/v1/sessions" if kind == "v1" else f"{sim.base_url}/v3/organizations/{sim.org_id}/sessions"
    answer = httpx.post(url, json=body, headers={"Authorization": f"Bearer {KEYS[kind]}"})
    answer.raise_for_status()
    sid = answer.json()["session_id"]
    if journalled:
        journal.record_session(journal.JournalEntry(session_id=sid, url=f"https://app.devin.ai/sessions/{sid[6:]}",
                                                    client_tag=client_tag, api_version=kind))
    return sid


def message_texts(result) -> list[str]:
    return [e["text"] for e in result.json_lines() if e["event"] == "message"]


def end_of(result) -> dict:
    (end,) = [e for e in result.json_lines() if e["event"] == "end"]
    return end


# -- waiting for approval ------------------------------------------------------------------------------

def test_waiting_for_approval_ends_the_follow_and_says_where_to_approve_in_every_view():
    with Simulator(step_seconds=0.05) as sim:
        sid = new_session(sim, "v3", messages=["I need to run a migration."], end="waiting_for_approval", steps=2)
        env = env_for(sim, "v3")
        tailed = run_cli_here("tail", sid, env=env)
        url = f"https://app.devin.ai/sessions/{sid.removeprefix('devin-')}"
        assert tailed.code == 0, tailed.stderr
        assert "approve it in the web app" in tailed.stderr and url in tailed.stderr
        status = run_cli_here("status", sid, env=env)
        assert "outcome: waiting_for_approval" in status.stdout and f"approve it in the web app, {url}" in status.stdout
        listed = run_cli_here("list", env=env)
        assert "running/waiting_for_approval" in listed.stdout and "approve it in the web app" in listed.stdout
        as_json = run_cli_here("tail", sid, "--json", env=env)
        assert end_of(as_json)["outcome"] == "waiting_for_approval" and url in end_of(as_json)["next_step"]
        sim.approve(sid)
        after = run_cli_here("tail", sid, "--json", env=env)
        assert end_of(after)["outcome"] == "finished" and message_texts(after) == ["Approved; carrying on."]


# -- suspended: asleep or failed -----------------------------------------------------------------------

@pytest.mark.parametrize("reason", SUSPEND_REASONS)
def test_each_suspend_reason_gives_its_outcome_exit_code_and_next_step(reason):
    resting = reason in ("inactivity", "user_request")
    with Simulator(step_seconds=0.05) as sim:
        sid = new_session(sim, "v3", messages=["Done for now."], end="suspended", suspend_reason=reason, steps=2)
        result = run_cli_here("tail", sid, env=env_for(sim, "v3"))
        assert result.code == (0 if resting else 1), result.stderr
        assert reason in result.stderr
        if resting:
            assert "not failed" in result.stderr and f"wake it with devin-handoff send {sid}" in result.stderr
        else:
            assert "ended badly (suspended)" in result.stderr and "fix that in the Devin web app" in result.stderr


def test_send_wakes_a_sleeping_v3_session_and_the_reply_shows_in_tail():
    with Simulator(step_seconds=0.05) as sim:
        sid = new_session(sim, "v3", messages=["Done."], end="suspended", suspend_reason="inactivity", steps=2)
        env = env_for(sim, "v3")
        assert run_cli_here("tail", sid, env=env).code == 0
        woke = run_cli_here("send", sid, "please also update the changelog", "--follow", env=env)
        assert woke.code == 0, woke.stderr
        assert "You: please also update the changelog" in woke.stderr  # the user's own reply is shown
        assert "Got your message; carrying on." in woke.stderr and "Devin finished" in woke.stderr


# -- v1 ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("end", "outcome"), [("suspended", "asleep"), ("stopped", "exit")])
def test_v1_suspend_requested_and_stopped_end_a_follow(end, outcome):
    with Simulator(step_seconds=0.05) as sim:
        sid = new_session(sim, "v1", messages=["Working."], end=end, steps=2)
        result = run_cli_here("tail", sid, "--json", env=env_for(sim, "v1"))
        assert result.code == 0, result.stderr
        assert end_of(result)["outcome"] == outcome


def test_v1_send_to_a_suspended_session_reports_the_refusal_truthfully():
    with Simulator(step_seconds=0.05) as sim:
        sid = new_session(sim, "v1", messages=["Working."], end="suspended", steps=2)
        env = env_for(sim, "v1")
        ended = run_cli_here("tail", sid, env=env)
        assert "continue it in the web app" in ended.stderr  # v1 cannot wake it: `send` is not offered
        refused = run_cli_here("send", sid, "wake up", env=env)
        assert refused.code == 2
        assert "did not take the message" in refused.stderr and "suspended" in refused.stderr
        assert "sent to" not in refused.stderr


def test_v1_falls_back_to_the_legacy_spelling_on_405():
    with Simulator(step_seconds=0.05, v1_spelling="singular") as sim:
        sid = new_session(sim, "v1", messages=MESSAGES, steps=4)
        env = env_for(sim, "v1")
        result = run_cli_here("tail", sid, "--json", env=env)
        assert result.code == 0, result.stderr
        assert message_texts(result) == MESSAGES
        assert run_cli_here("status", sid, env=env).code == 0
        gets = [r for r in sim.requests if r["call"] == "get"]
        assert gets[0]["path"].startswith("/v1/sessions/") and gets[-1]["path"].startswith("/v1/session/")
        assert sum(r["path"].startswith("/v1/sessions/") for r in gets) == 2  # learnt once per command


# -- creating, org-less keys ---------------------------------------------------------------------------

def test_the_undocumented_creating_status_is_followed_through():
    with Simulator(step_seconds=0.4) as sim:
        sid = new_session(sim, "v3", messages=MESSAGES, steps=4, first_state="creating")
        result = run_cli_here("tail", sid, "--json", env=env_for(sim, "v3"))
        statuses = [e["status"] for e in result.json_lines() if e["event"] == "status"]
        assert result.code == 0 and statuses[0] == "creating" and message_texts(result) == MESSAGES


def test_a_key_whose_identity_names_no_org_uses_the_org_scoped_routes(tmp_path):
    from helpers import make_repo

    repo = make_repo(tmp_path / "widgets")
    with Simulator(step_seconds=0.05, org_in_self=False) as sim:
        sim.script(messages=MESSAGES)
        env = env_for(sim, "v3", org=False)
        created = run_cli_here("create", "--task", "fix it", "--detach", "--json", cwd=repo, env=env)
        assert created.code == 0, created.stderr
        sid = created.json()["session_id"]
        assert run_cli_here("tail", sid, env=env).code == 0
        assert sid in run_cli_here("list", env=env).stdout
        paths = {r["path"] for r in sim.requests if r["call"] in ("create", "get", "messages", "list")}
        assert paths and all(p.startswith("/v3/organizations/sessions") for p in paths), paths


# -- list and duplicate-free create --------------------------------------------------------------------

def test_list_reads_every_page_in_any_order_and_shows_only_this_tools_sessions():
    with Simulator(step_seconds=0.05, list_order="oldest", page_size=2, tag_filter=False) as sim:
        ours = [new_session(sim, "v3", journalled=False, steps=1) for _ in range(5)]
        old_client_tag = new_client_tag()
        legacy = new_session(sim, "v3", tags=[LEGACY_TAG, old_client_tag], journalled=False, steps=1)
        journal.record_session(journal.JournalEntry(session_id=legacy, url="u", client_tag=old_client_tag))
        foreign = [new_session(sim, "v3", tags=[LEGACY_TAG], journalled=False, steps=1),
                   new_session(sim, "v3", tags=["other-tool"], journalled=False, steps=1)]
        result = run_cli_here("list", "--json", env=env_for(sim, "v3"))
        rows = {row["session_id"]: row for row in result.json()["sessions"]}
        assert result.code == 0, result.stderr
        assert set(rows) == {*ours, legacy} and not set(foreign) & set(rows)
        assert rows[legacy]["live"] is True  # an older handoff (bare tag + client tag) is still read live
        created = [row["created_at"] for row in result.json()["sessions"] if row["source"] == "api"]
        assert created == sorted(created, reverse=True)  # newest first, whatever order the API used
        assert len([r for r in sim.requests if r["call"] == "list"]) >= 5  # several pages, read to the end


def test_a_create_whose_answer_is_lost_is_found_by_its_tag_across_pages_in_any_order():
    with Simulator(step_seconds=0.05, list_order="oldest", page_size=2, tag_filter=False) as sim:
        for _ in range(7):
            new_session(sim, "v3", journalled=False, steps=1)
        sim.inject("create", "500", after=True)  # the session is made, the answer is an error
        tag = new_client_tag()
        settings = Settings(api_key=KEYS["v3"], org_id=sim.org_id, user_id=None, api_url=sim.base_url)
        with DevinClient(settings) as client:
            made = client.create({"prompt": "fix it", "tags": [HANDOFF_TAG]}, client_tag=tag)
        assert [s for s in sim.sessions.values() if tag in s["tags"]] == [sim.sessions[made.session_id]]
        assert len([r for r in sim.requests if r["call"] == "create" and tag in r["body"]["tags"]]) == 1


# -- messages: sources, paging, order ------------------------------------------------------------------

def test_messages_without_a_source_are_shown_labelled():
    with Simulator(step_seconds=0.05, message_source=False) as sim:
        sid = new_session(sim, "v3", messages=MESSAGES)
        result = run_cli_here("tail", sid, env=env_for(sim, "v3"))
        assert result.code == 0, result.stderr
        for text in MESSAGES:
            assert f"[unknown]: {text}" in result.stderr


@pytest.mark.parametrize("fields", ["cursor", "none"])
def test_pages_without_paging_fields_are_read_to_the_end(fields):
    with Simulator(step_seconds=0.05, page_fields=fields) as sim:
        sid = new_session(sim, "v3", messages=[], pr=False, end="waiting_for_user", steps=1)
        backlog = [f"note {i}" for i in range(250)]
        sim.add_messages(sid, backlog)
        result = run_cli_here("tail", sid, "--json", env=env_for(sim, "v3"))
        assert result.code == 0, result.stderr
        assert message_texts(result) == backlog


def test_a_status_change_is_printed_after_the_messages_that_preceded_it():
    with Simulator(step_seconds=0.05) as sim:
        sid = new_session(sim, "v3", messages=MESSAGES, steps=4)
        result = run_cli_here("tail", sid, env=env_for(sim, "v3"))
        lines = result.stderr.splitlines()
        last_message = max(i for i, line in enumerate(lines) if MESSAGES[-1] in line)
        finished = next(i for i, line in enumerate(lines) if line == "status: running (finished)")
        assert last_message < finished, result.stderr


# -- read positions ------------------------------------------------------------------------------------

def test_ctrl_c_during_a_long_backlog_then_tail_again_repeats_nothing():
    with Simulator(step_seconds=0.05, page_size=200) as sim:
        sid = new_session(sim, "v3", messages=[], pr=False, end="waiting_for_user", steps=1)
        backlog = [f"note {i}" for i in range(3000)]
        sim.add_messages(sid, backlog)
        seen: list[str] = []

        def show_then_interrupt(event) -> None:
            if isinstance(event, MessageEvent):
                if len(seen) == 1234:
                    raise KeyboardInterrupt  # the user presses Ctrl-C while the backlog scrolls
                seen.append(event.text)

        settings = Settings(api_key=KEYS["v3"], org_id=sim.org_id, user_id=None, api_url=sim.base_url)
        with DevinClient(settings) as client:
            assert sessions.follow(client, sid, show_then_interrupt) == 130
        again = run_cli_here("tail", sid, "--json", env=env_for(sim, "v3"))
        text_again = run_cli_here("tail", sid, env=env_for(sim, "v3"))
        assert again.code == 0, again.stderr
        rest = [e["text"] for e in again.json_lines() if e["event"] == "message"]
        assert rest == backlog  # `--json` reads apart from the human tail
        human_rest = [line.removeprefix("Devin: ") for line in text_again.stderr.splitlines()
                      if line.startswith("Devin: ")]
        assert seen + human_rest == backlog  # nothing shown twice, nothing lost


def test_odd_saved_positions_do_not_crash_tail():
    with Simulator(step_seconds=0.05) as sim:
        sid = new_session(sim, "v3", messages=MESSAGES)
        path = next((journal.state_dir() / "sessions").glob("*.json"))
        data = json.loads(path.read_text())
        data.update(cursor=12345, created_at="2026-01-01T00:00:00Z")  # a hand-edited or foreign journal
        path.write_text(json.dumps(data))
        env = env_for(sim, "v3")
        tailed = run_cli_here("tail", sid, "--json", env=env)
        assert tailed.code == 0, tailed.stderr
        listed = run_cli_here("list", "--json", env=env)
        assert listed.code == 0, listed.stderr
        assert listed.json()["sessions"][0]["created_at"] == pytest.approx(1767225600.0)


def test_v1_list_with_iso_times_sorts_and_serialises():
    with Simulator(step_seconds=0.05) as sim:
        ids = [new_session(sim, "v1", journalled=False, steps=1) for _ in range(3)]
        result = run_cli_here("list", "--json", env=env_for(sim, "v1"))
        assert result.code == 0, result.stderr
        assert [row["session_id"] for row in result.json()["sessions"]] == ids[::-1]
        assert all(isinstance(row["created_at"], float) for row in result.json()["sessions"])


# -- the MCP server over stdio shows the same states ---------------------------------------------------

@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_mcp_status_and_list_show_approval_and_sleep_over_stdio(tmp_path):
    from mcp import Client, StdioServerParameters  # only here: the SDK is slow to import

    with Simulator(step_seconds=0.02) as sim:
        waiting = new_session(sim, "v3", messages=["May I drop the table?"], end="waiting_for_approval", steps=2)
        asleep = new_session(sim, "v3", messages=["Done."], end="suspended", suspend_reason="inactivity", steps=2)
        broke = new_session(sim, "v3", messages=["Out of credits."], end="suspended",
                            suspend_reason="out_of_credits", steps=2)
        await anyio.sleep(0.3)
        env = {**env_for(sim, "v3"), "XDG_STATE_HOME": str(journal.state_dir().parent), "PATH": "/usr/bin:/bin"}
        params = StdioServerParameters(command=sys.executable, args=["-m", "handoff", "mcp"], cwd=str(tmp_path),
                                       env=env)
        with anyio.fail_after(60):
            async with Client(params) as client:
                statuses = {sid: (await client.call_tool("handoff_status", {"session_id": sid})).structured_content
                            for sid in (waiting, asleep, broke)}
                listed = (await client.call_tool("handoff_list", {})).structured_content
    assert statuses[waiting]["outcome"] == "waiting_for_approval" and statuses[waiting]["done"]
    assert "approve it in the web app" in statuses[waiting]["next_step"]
    assert statuses[waiting]["last_devin_message"] == "May I drop the table?"
    assert statuses[asleep]["outcome"] == "asleep" and "wake it with" in statuses[asleep]["next_step"]
    assert statuses[broke]["outcome"] == "suspended" and "out_of_credits" in statuses[broke]["next_step"]
    rows = {row["session_id"]: row for row in listed["sessions"]}
    assert rows[waiting]["outcome"] == "waiting_for_approval" and rows[waiting]["live"]
    assert rows[asleep]["outcome"] == "asleep" and rows[broke]["outcome"] == "suspended"


def test_v3_send_to_an_archived_session_is_a_refusal_with_exit_2():
    with Simulator(step_seconds=0.05) as sim:
        sid = new_session(sim, "v3", messages=["Done."], steps=2)
        env = env_for(sim, "v3")
        assert run_cli_here("archive", sid, env=env).code == 0
        refused = run_cli_here("send", sid, "one more thing", env=env)
        assert refused.code == 2 and "archived" in refused.stderr and "sent to" not in refused.stderr


def test_session_start_news_names_approval_and_sleep(tmp_path):
    import time as clock

    from handoff.agent_hooks.agent import session_news

    root = str(tmp_path)
    for sid, status, detail in (("devin-approve", "running", "waiting_for_approval"),
                                ("devin-sleepy", "suspended", "inactivity"),
                                ("devin-broke", "suspended", "out_of_credits")):
        journal.record_session(journal.JournalEntry(session_id=sid, url=f"https://app.devin.ai/sessions/{sid[6:]}",
                                                    client_tag=new_client_tag(), api_version="v3", repo_root=root,
                                                    status=status, status_detail=detail))
    news = "\n".join(session_news(root, now=clock.time()))
    assert "devin-approve: Devin needs your approval for an action: approve it in the web app, " \
           "https://app.devin.ai/sessions/approve" in news
    assert "devin-sleepy: the session is asleep (inactivity), not failed" in news
    assert "devin-broke: failed (suspended)" in news
    assert news.index("devin-approve") < news.index("devin-sleepy")  # what needs the user comes first
