"""`tail`/`poll`, `status`, `send`, `list`, `archive`, `doctor`: the CLI as a subprocess against the simulator,
for both key kinds (apk_ → v1, cog_ → v3).

Slow-ish cases (many sessions, unreachable URLs that wait out a retry budget) run their subprocesses
concurrently, each against its own simulator when faults are involved (faults are per simulator).
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx
import pytest
from helpers import GIT_ENV, run_cli_here

from handoff import journal
from handoff.simulator import Simulator
from handoff.tags import HANDOFF_TAG

KEYS = {"v1": "apk_test_0123456789abcdef", "v3": "cog_test_0123456789abcdef"}
KINDS = ("v1", "v3")
UNREACHABLE = "http://127.0.0.1:9"
MESSAGES = ["Looking at the repository.", "Found the bug in widgets/core.py.", "Tests pass; opening a PR."]


def env_for(sim: Simulator | None, kind: str, **extra: str) -> dict[str, str]:
    env = {"DEVIN_API_URL": sim.base_url if sim else UNREACHABLE, "DEVIN_API_KEY": KEYS[kind]}
    if kind == "v3":
        env["DEVIN_ORG_ID"] = sim.org_id if sim else "org-sim"
    env.update(extra)
    return env


def new_session(sim: Simulator, kind: str, **script) -> str:
    """Create a session straight over HTTP (not through the code under test); returns its devin id."""
    sim.script(**script)
    if kind == "v1":
        url, body = f"{sim.base_url}/v1/sessions", {"prompt": "fix the widget", "tags": [HANDOFF_TAG]}
    else:
        url = f"{sim.base_url}/v3/organizations/{sim.org_id}/sessions"
        body = {"prompt": "fix the widget", "tags": [HANDOFF_TAG], "title": "fix the widget"}
    answer = httpx.post(url, json=body, headers={"Authorization": f"Bearer {KEYS[kind]}"})
    answer.raise_for_status()
    return answer.json()["session_id"]


@pytest.fixture(autouse=True)
def _fast(fast_forward):
    """Commands run in this process, their polling and retries 20x fast against the real-time simulator."""
    return fast_forward


@pytest.fixture
def sim():
    with Simulator(step_seconds=0.1) as simulator:
        yield simulator


def assert_each_once_in_order(text: str, messages: list[str]) -> None:
    positions = []
    for message in messages:
        assert text.count(message) == 1, (message, text)
        positions.append(text.index(message))
    assert positions == sorted(positions), text


# -- tail ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_tail_prints_each_message_once_in_order_with_status_and_pr(sim, kind):
    sid = new_session(sim, kind, messages=MESSAGES, end="finished")
    journal.record_session(journal.JournalEntry(session_id=sid, url="u", client_tag="handoff-x"))
    done = run_cli_here("tail", sid.removeprefix("devin-"), "--interval", "2", env=env_for(sim, kind))
    assert done.code == 0, done.stderr
    assert_each_once_in_order(done.stderr, MESSAGES)
    assert "fix the widget" not in done.stderr  # the user's own prompt is not echoed back
    assert "status: running" in done.stderr
    assert "https://github.com/acme/widgets/pull/" in done.stderr
    assert "Devin finished" in done.stderr
    entry = journal.get_session(sid)
    assert entry.outcome == "finished" and entry.last_devin_message == MESSAGES[-1]
    assert entry.pr_urls and entry.cursor
    # resuming from the journal's cursor prints nothing twice; --all prints everything again
    again = run_cli_here("poll", sid, env=env_for(sim, kind))
    assert again.code == 0 and not any(m in again.stderr for m in MESSAGES)
    everything = run_cli_here("tail", f"https://app.devin.ai/sessions/{sid.removeprefix('devin-')}/", "--all",
                         env=env_for(sim, kind))
    assert_each_once_in_order(everything.stderr, MESSAGES)


def test_tail_with_a_server_that_keeps_end_cursors_on_the_last_page():
    with Simulator(step_seconds=0.6, end_cursor_on_last_page=True) as simulator:
        sid = new_session(simulator, "v3", messages=MESSAGES)
        journal.record_session(journal.JournalEntry(session_id=sid, url="u", client_tag="handoff-x"))
        done = run_cli_here("tail", sid, "--json", env=env_for(simulator, "v3"))
        assert [e["text"] for e in done.json_lines() if e["event"] == "message"] == MESSAGES
        cursors = [r["query"].get("after") for r in simulator.requests if r["call"] == "messages"]
        assert any(cursors), "the follower pages on from the API's cursor"
        again = run_cli_here("tail", sid, "--json", env=env_for(simulator, "v3"))
        assert [e for e in again.json_lines() if e["event"] == "message"] == []
        # a cursor the server no longer takes (400) means starting over, still without repeats
        _, last_event = journal.get_session(sid).json_cursor.split("|")
        journal.update_session(sid, json_cursor=f"stale-cursor|{last_event}")
        stale = run_cli_here("tail", sid, "--json", env=env_for(simulator, "v3"))
        assert stale.code == 0, stale.stderr
        assert [e for e in stale.json_lines() if e["event"] == "message"] == []


def test_tail_exit_code_for_each_end_state():
    # v1 gives no reason for a suspension (status_enum suspend_requested): it is read as asleep, not failed
    # and v3 has no `expired`: a timed-out session sleeps (suspended, inactivity)
    asleep = (("v1", "suspended"), ("v3", "expired"))
    cases = [(kind, end, 0 if end in ("finished", "waiting_for_user", "exit") or (kind, end) in asleep else 1)
             for kind in KINDS for end in ("finished", "waiting_for_user", "exit", "error", "suspended", "expired")]
    with Simulator(step_seconds=0.1) as simulator:
        ids = [new_session(simulator, kind, end=end, steps=2, messages=["working on it"],
                           suspend_reason="out_of_credits") for kind, end, _ in cases]
        results = [run_cli_here("tail", ids[index], "--json", env=env_for(simulator, kind))
                   for index, (kind, _, _) in enumerate(cases)]
        # a real process exits with the code `main` gives: each failing end, once per key kind, as a process too
        as_process = {index: start_cli("tail", ids[index], "--json", env=env_for(simulator, kind))
                      for index, (kind, end, _) in enumerate(cases) if end == "error"}
        finished = {index: running.finish() for index, running in as_process.items()}
    for index, (code, stdout, stderr) in finished.items():
        final = json.loads(stdout.splitlines()[-1])
        assert code == results[index].code == cases[index][2] == 1, stderr
        assert final["event"] == "end" and final["exit_code"] == code
    for (kind, end, code), done in zip(cases, results, strict=True):
        assert done.code == code, (kind, end, done.stderr)
        final = done.json_lines()[-1]
        assert final["event"] == "end" and final["exit_code"] == code
        if kind == "v3" and end == "suspended":
            assert final["reason"] == "out_of_credits"


@dataclass
class Running:
    proc: subprocess.Popen
    stderr_lines: list[str] = field(default_factory=list)
    pump: threading.Thread | None = None

    def finish(self, timeout: float = 40) -> tuple[int, str, str]:
        """(exit code, stdout, stderr) once the process is done."""
        stdout = self.proc.stdout.read()
        self.proc.wait(timeout=timeout)
        self.pump.join(timeout=5)
        return self.proc.returncode, stdout, "".join(self.stderr_lines)

    def wait_for(self, text: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in self.stderr_lines):
                return
            time.sleep(0.05)
        raise AssertionError(f"{text!r} never appeared in {self.stderr_lines}")


def start_cli(*args: str, env: dict[str, str]) -> Running:
    base = {k: v for k, v in os.environ.items() if not k.startswith("DEVIN_")}
    proc = subprocess.Popen([sys.executable, "-m", "handoff", *args], env={**base, **GIT_ENV, "NO_COLOR": "1", **env},
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    running = Running(proc)

    def pump() -> None:
        for line in proc.stderr:
            running.stderr_lines.append(line)

    running.pump = threading.Thread(target=pump, daemon=True)
    running.pump.start()
    return running


FAULTS = ["429", "500", "502", "503", "drop", "bad_json", "slow"]


def test_tail_survives_faults_with_a_notice_and_loses_or_repeats_nothing():
    texts = [f"step {n} done" for n in range(1, 6)]

    def run(case: tuple[str, str]) -> tuple[str, int, str, str]:
        kind, fault = case
        with Simulator(step_seconds=0.4) as simulator:
            sid = new_session(simulator, kind, messages=texts, end="finished", pr=True)
            running = start_cli("tail", sid, "--json", "--interval", "2", env=env_for(simulator, kind))
            time.sleep(0.9)  # the follow is under way (the first messages are out)
            calls = ["get"] if kind == "v1" else ["get", "messages"]
            for call in calls:
                simulator.inject(call, fault, times=1, seconds=1.0)
            return (f"{kind} {fault}", *running.finish())

    cases = [(kind, fault) for kind in KINDS for fault in FAULTS]
    with ThreadPoolExecutor(max_workers=len(cases)) as pool:
        results = list(pool.map(run, cases))
    for fault, code, stdout, stderr in results:
        assert code == 0, (fault, stderr)
        events = [json.loads(line) for line in stdout.splitlines()]
        shown = [e["text"] for e in events if e["event"] == "message"]
        assert shown == texts, (fault, shown)
        assert events[-1]["event"] == "end" and events[-1]["outcome"] == "finished"
        if not fault.endswith("slow"):
            assert "API trouble" in stderr, (fault, stderr)


@pytest.mark.parametrize("kind", KINDS)
def test_ctrl_c_stops_cleanly_with_the_resume_hint(sim, kind):
    sid = new_session(sim, kind, messages=[f"m{n}" for n in range(40)], steps=60)
    running = start_cli("tail", sid, env=env_for(sim, kind))
    running.wait_for("Devin:")
    running.proc.send_signal(signal.SIGINT)
    code, _, stderr = running.finish(timeout=10)
    assert code == 130, stderr
    assert f"devin-handoff tail {sid}" in stderr
    assert "Traceback" not in stderr


@pytest.mark.parametrize("kind", KINDS)
def test_tail_json_emits_only_json_lines(sim, kind):
    sid = new_session(sim, kind, messages=MESSAGES)
    done = run_cli_here("tail", sid, "--json", env=env_for(sim, kind))
    assert done.code == 0, done.stderr
    events = done.json_lines()  # every stdout line parses
    assert len(events) == len(done.stdout.splitlines())
    kinds = [e["event"] for e in events]
    assert set(kinds) == {"message", "status", "pull_request", "end"}
    assert [e["text"] for e in events if e["event"] == "message"] == MESSAGES
    assert all(e["session_id"] == sid for e in events)


def test_tail_archive_at_the_end_and_a_failed_archive_is_a_warning(sim):
    sid = new_session(sim, "v3", messages=["done"])
    done = run_cli_here("tail", sid, "--archive", env=env_for(sim, "v3"))
    assert done.code == 0 and sim.sessions[sid]["archived"]
    sid1 = new_session(sim, "v1", messages=["done"])
    done = run_cli_here("tail", sid1, "--archive", env=env_for(sim, "v1"))
    assert done.code == 0, done.stderr
    assert "could not archive" in done.stderr


@pytest.mark.parametrize("kind", KINDS)
def test_tail_failures_auth_unknown_id_bad_id(sim, kind):
    sid = new_session(sim, kind)
    bad_key = KEYS[kind].replace("test", "invalid")
    assert run_cli_here("tail", sid, env=env_for(sim, kind, DEVIN_API_KEY=bad_key)).code == 4
    unknown = run_cli_here("tail", "devin-0000000000000000", env=env_for(sim, kind))
    assert unknown.code == 2 and "Traceback" not in unknown.stderr
    assert run_cli_here("tail", "not a session id!", env=env_for(sim, kind)).code == 2
    assert run_cli_here("tail", sid, env={"DEVIN_API_URL": sim.base_url}).code == 4  # no key


def test_interactive_reply_is_sent_and_following_goes_on(sim, monkeypatch):
    from handoff.app.settings import load_settings
    from handoff.cli.following import follow_session
    from handoff.cli.render import Output
    from handoff.devin import DevinClient

    sid = new_session(sim, "v3", question="Which branch should I use?", messages=["Reading.", "On it.", "Done."])
    monkeypatch.setenv("DEVIN_API_KEY", KEYS["v3"])
    monkeypatch.setattr(sys, "stdin", io.StringIO("use main please\n\n"))
    settings = load_settings(api_url=sim.base_url, org_id=sim.org_id)
    with DevinClient(settings, retry_budget=0) as client:
        code = follow_session(client, sid, Output(), interval=2, interactive=True)
    assert code == 0
    state = sim.sessions[sid]
    user_texts = [m["message"] for m in state["messages"] if m["source"] == "user"]
    assert user_texts[-1] == "use main please"
    assert state["status_detail"] == "finished"


# -- status / send / list / archive --------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_status_one_look(sim, kind):
    sid = new_session(sim, kind, messages=MESSAGES)
    time.sleep(0.6)
    done = run_cli_here("status", sid, "--json", env=env_for(sim, kind))
    assert done.code == 0, done.stderr
    look = done.json()
    assert look["session_id"] == sid and look["outcome"] == "finished"
    assert look["last_devin_message"] == MESSAGES[-1]
    assert look["pull_requests"][0].startswith("https://github.com/acme/widgets/pull/")
    human = run_cli_here("status", sid, env=env_for(sim, kind))
    assert human.code == 0 and MESSAGES[-1] in human.stdout and sid in human.stdout
    assert "https://app.devin.ai/sessions/" in human.stdout


@pytest.mark.parametrize("kind", KINDS)
def test_send_then_follow(sim, kind):
    sid = new_session(sim, kind, question="Which branch?", messages=["Reading.", "Done."])
    time.sleep(0.3)
    done = run_cli_here("send", sid, "-", "--follow", "--interval", "2", input="use main\n", env=env_for(sim, kind))
    assert done.code == 0, done.stderr
    assert "Which branch?" not in done.stderr  # said before the reply: not news
    assert "Done." in done.stderr and "Devin finished" in done.stderr
    assert [m["message"] for m in sim.sessions[sid]["messages"] if m["source"] == "user"][-1] == "use main"
    plain = run_cli_here("send", sid, "thanks", "--json", env=env_for(sim, kind))
    assert plain.code == 0 and plain.json() == {"sent": True, "session_id": sid}
    assert run_cli_here("send", sid, "  ", env=env_for(sim, kind)).code == 2


@pytest.mark.parametrize("kind", KINDS)
def test_list_joins_the_journal_with_the_api(sim, kind):
    mine = new_session(sim, kind, messages=["hi"])
    other = new_session(sim, kind, messages=["hi"])
    journal.record_session(journal.JournalEntry(session_id=mine, url="https://app.devin.ai/sessions/x",
                                                client_tag="handoff-1", title="mine", status="new"))
    done = run_cli_here("list", "--json", env=env_for(sim, kind))
    assert done.code == 0, done.stderr
    rows = done.json()["sessions"]
    assert [r["session_id"] for r in rows][:1] == [mine]
    assert rows[0]["source"] == "journal+api" and rows[0]["live"]
    assert any(r["session_id"] == other and r["source"] == "api" for r in rows)
    human = run_cli_here("list", env=env_for(sim, kind))
    assert mine in human.stdout and other in human.stdout


def test_list_without_key_shows_the_journal_with_a_warning(tmp_path):
    journal.record_session(journal.JournalEntry(session_id="devin-abc", url="u", client_tag="handoff-1",
                                                title="saved one", status="running"))
    done = run_cli_here("list", "--json", env={})
    assert done.code == 0
    assert done.json()["sessions"][0]["session_id"] == "devin-abc" and "warning" in done.stderr


def test_archive_v3_and_v1_key_is_a_config_error(sim):
    sid = new_session(sim, "v3")
    done = run_cli_here("archive", sid, env=env_for(sim, "v3"))
    assert done.code == 0, done.stderr
    assert sim.sessions[sid]["archived"]
    sid1 = new_session(sim, "v1")
    refused = run_cli_here("archive", sid1, env=env_for(sim, "v1"))
    assert refused.code == 4 and "cog_" in refused.stderr
    assert run_cli_here("archive", "devin-ffffffffffff", env=env_for(sim, "v3")).code == 2


@pytest.mark.parametrize("kind", KINDS)
def test_one_shot_commands_on_auth_failure_and_unknown_ids(sim, kind):
    sid = new_session(sim, kind)
    bad = env_for(sim, kind, DEVIN_API_KEY=KEYS[kind].replace("test", "invalid"))
    assert run_cli_here("status", sid, env=bad).code == 4
    assert run_cli_here("send", sid, "hello", env=bad).code == 4
    assert run_cli_here("list", env=bad).code == 4
    assert run_cli_here("status", "devin-0123456789", env=env_for(sim, kind)).code == 2
    assert run_cli_here("send", "devin-0123456789", "hi", env=env_for(sim, kind)).code == 2


# -- doctor ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_doctor_all_ok_and_never_prints_the_key(sim, kind):
    done = run_cli_here("doctor", "--json", env=env_for(sim, kind))
    assert done.code == 0, done.stdout + done.stderr
    report = done.json()
    assert report["ok"] and {c["name"] for c in report["checks"]} == {"git", "key", "org", "api"}
    assert KEYS[kind] not in done.stdout + done.stderr
    human = run_cli_here("doctor", env=env_for(sim, kind))
    assert human.code == 0 and "git version" in human.stdout
    assert KEYS[kind][:4] + "…" in human.stdout and KEYS[kind] not in human.stdout + human.stderr


def test_doctor_resolves_the_org_and_reports_key_problems(sim):
    resolved = run_cli_here("doctor", "--json", env={"DEVIN_API_URL": sim.base_url, "DEVIN_API_KEY": KEYS["v3"]})
    assert resolved.code == 0 and "resolved via /v3/self" in resolved.stdout
    bad = run_cli_here("doctor", env=env_for(sim, "v3", DEVIN_API_KEY="cog_invalid_0123456789"))
    assert bad.code == 4 and "FAIL" in bad.stdout
    wrong_org = run_cli_here("doctor", env=env_for(sim, "v3", DEVIN_ORG_ID="org-nope"))
    assert wrong_org.code == 4
    missing = run_cli_here("doctor", "--json", env={"DEVIN_API_URL": sim.base_url})
    assert missing.code == 4 and not missing.json()["ok"]


def test_unreachable_api_exits_5_and_list_falls_back_to_the_journal(fake_clock):
    journal.record_session(journal.JournalEntry(session_id="devin-abc", url="u", client_tag="handoff-1"))
    jobs = {
        "doctor-v3": ("doctor", env_for(None, "v3")),
        "doctor-v1": ("doctor", env_for(None, "v1")),
        "status": ("status devin-abc", env_for(None, "v3")),
        "send": ("send devin-abc hi", env_for(None, "v1")),
        "archive": ("archive devin-abc", env_for(None, "v3")),
        "list": ("list --json", env_for(None, "v3")),
    }
    results = {name: run_cli_here(*args.split(), env=env) for name, (args, env) in jobs.items()}
    for name in ("doctor-v3", "doctor-v1", "status", "send", "archive"):
        assert results[name].code == 5, (name, results[name].stderr)
        assert "Traceback" not in results[name].stderr
    assert results["list"].code == 0 and "warning" in results["list"].stderr
    assert results["list"].json()["sessions"][0]["session_id"] == "devin-abc"
