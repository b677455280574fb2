"""`create` end to end against the simulator: URL, journal, following, outbox, `retry`, no duplicates, demo.

The main paths (detach for both key kinds, follow to the end, a failing end, the demo) run the CLI as a real
process; the edges run its `main` in this process (same parsing, output and exit codes)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from helpers import make_repo, run_cli, run_cli_here, write

from handoff.simulator import Simulator
from handoff.tags import HANDOFF_TAG

KEYS = {"v3": "cog_" + "t" * 8, "v1": "apk_" + "t" * 8}


@pytest.fixture
def sim():
    with Simulator(step_seconds=0.03) as simulator:
        yield simulator


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = make_repo(tmp_path / "widgets", {"app.py": "x = 1\n"})
    write(root, {"app.py": "x = 2\n", "new.txt": "hello\n"})
    return root


def _env(sim: Simulator, kind: str, state: Path) -> dict[str, str]:
    env = {"DEVIN_API_URL": sim.base_url, "DEVIN_API_KEY": KEYS[kind], "XDG_STATE_HOME": str(state)}
    if kind == "v3":
        env["DEVIN_ORG_ID"] = "org-sim"
    return env


def _creates(sim: Simulator) -> list[dict]:
    return [r for r in sim.requests if r["method"] == "POST" and r["path"].endswith("/sessions")]


@pytest.mark.parametrize("kind", ["v3", "v1"])
def test_create_detach_posts_the_gated_body_and_journals_it(sim, repo, tmp_path, kind):
    state = tmp_path / "state"
    result = run_cli("create", "--task", "Fix x", "--tag", "ci", "--detach", "--json", cwd=repo,
                     env=_env(sim, kind, state))
    assert result.code == 0, result.stderr
    created = result.json()
    assert created["event"] == "created" and created["url"].startswith("https://app.devin.ai/sessions/")
    assert "Devin session created" in result.stderr and KEYS[kind] not in result.stderr + result.stdout
    [session] = sim.sessions.values()
    assert "+x = 2" in session["prompt"] and "+hello" in session["prompt"]
    assert HANDOFF_TAG in session["tags"] and "ci" in session["tags"]
    body = _creates(sim)[0]["body"]
    assert (body.get("idempotent") is True) == (kind == "v1")
    assert "repos" not in body  # no documented meaning: the repository is in the prompt's facts
    journal_file = state / "devin-handoff" / "sessions" / f"{created['session_id']}.json"
    assert stat.S_IMODE(journal_file.stat().st_mode) == 0o600
    assert KEYS[kind] not in journal_file.read_text()


def test_create_follows_until_devin_stops(sim, repo, tmp_path):
    sim.script(end="finished", messages=["one", "two"], pr=True)
    result = run_cli("create", "--task", "Fix x", "--json", "--interval", "1", cwd=repo,
                     env=_env(sim, "v3", tmp_path / "s"))
    assert result.code == 0, result.stderr
    events = result.json_lines()
    assert events[0]["event"] == "created"
    assert [e["text"] for e in events if e["event"] == "message" and e.get("source", "devin") == "devin"][-2:] \
        == ["one", "two"]
    assert events[-1]["event"] == "end" and events[-1]["exit_code"] == 0


def test_a_failing_session_exits_1(sim, repo, tmp_path):
    sim.script(end="error", messages=["oops"], pr=False)
    result = run_cli("create", "--task", "Fix x", "--interval", "1", cwd=repo, env=_env(sim, "v3", tmp_path / "s"))
    assert result.code == 1, result.stderr


def test_unreachable_api_saves_the_handoff_and_retry_sends_it_once(sim, repo, tmp_path, fake_clock):
    state = tmp_path / "state"
    env = _env(sim, "v3", state)
    down = {**env, "DEVIN_API_URL": "http://127.0.0.1:9"}
    result = run_cli_here("create", "--task", "Fix x", "--detach", cwd=repo, env=down)
    assert result.code == 5, result.stderr
    assert "devin-handoff retry handoff-" in result.stderr
    [saved] = list((state / "devin-handoff" / "outbox").glob("*.json"))
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert "+x = 2" in json.loads(saved.read_text())["body"]["prompt"]
    sent = run_cli_here("retry", "--json", cwd=repo, env=env)
    assert sent.code == 0, sent.stderr
    assert len(sent.json()["sent"]) == 1 and len(sim.sessions) == 1
    assert not list((state / "devin-handoff" / "outbox").glob("*.json"))
    again = run_cli_here("retry", cwd=repo, env=env)
    assert again.code == 0 and "outbox is empty" in again.stderr and len(sim.sessions) == 1


@pytest.mark.parametrize("fault", ["drop", "500"])
def test_ambiguous_create_never_duplicates(sim, repo, tmp_path, fault):
    # The session is created, but the answer is lost: the tag lookup finds it instead of a second create.
    if fault == "500":
        sim.inject("create", "500", after=True)
    else:
        sim.inject("create", "drop")
    result = run_cli_here("create", "--task", "Fix x", "--detach", "--json", cwd=repo,
                          env=_env(sim, "v3", tmp_path / "s"))
    assert result.code == 0, result.stderr
    assert len(sim.sessions) == 1 and len(_creates(sim)) == 1


def test_retry_finds_a_session_that_did_land(sim, repo, tmp_path, fake_clock):
    # The create landed but every lookup failed: the handoff is saved; `retry` finds it by tag, no second create.
    state = tmp_path / "state"
    env = _env(sim, "v3", state)
    sim.inject("create", "drop")
    sim.inject("list", "drop_before", times=30)
    result = run_cli_here("create", "--task", "Fix x", "--detach", cwd=repo, env=env)
    assert result.code == 5, result.stderr
    sim.clear_faults()
    sent = run_cli_here("retry", cwd=repo, env=env)
    assert sent.code == 0, sent.stderr
    assert len(sim.sessions) == 1 and len(_creates(sim)) == 1


def test_rejected_key_is_exit_4_and_nothing_is_lost(sim, repo, tmp_path):
    env = {**_env(sim, "v3", tmp_path / "s"), "DEVIN_API_KEY": "cog_invalid_key"}
    result = run_cli_here("create", "--task", "Fix x", "--detach", cwd=repo, env=env)
    assert result.code == 4, result.stderr
    assert "cog_invalid_key" not in result.stderr
    assert list((tmp_path / "s" / "devin-handoff" / "outbox").glob("*.json"))


def test_secret_blocks_before_anything_is_sent(sim, repo, tmp_path):
    write(repo, {"cfg.py": 'AWS_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"\n'})  # pragma: allowlist secret
    result = run_cli_here("create", "--task", "Fix x", "--detach", cwd=repo, env=_env(sim, "v3", tmp_path / "s"))
    assert result.code == 3
    assert sim.requests == []


def test_demo_runs_the_whole_flow_with_no_key(tmp_path):
    env = {"XDG_STATE_HOME": str(tmp_path / "state"), "HOME": str(tmp_path)}
    result = run_cli("demo", "--step", "0.05", "--json", cwd=tmp_path, env=env)
    assert result.code == 0, result.stderr
    events = result.json_lines()
    assert events[0]["event"] == "created"
    assert any(e["event"] == "pull_request" for e in events)
    assert events[-1]["event"] == "end" and events[-1]["exit_code"] == 0
    assert "1 unpushed commit(s) carried" in result.stderr
    assert not (tmp_path / "state").exists() or not os.listdir(tmp_path / "state")


@pytest.mark.parametrize("fault", ["401", "500"])
def test_a_follow_that_fails_after_the_create_names_the_session_and_never_says_saved(sim, repo, tmp_path, fault,
                                                                                    fake_clock):
    # The session exists: nothing was saved and nothing is to be retried; the user gets its URL and `tail`.
    state = tmp_path / "state"
    for call in ("get", "messages"):
        sim.inject(call, fault, times=500)
    result = run_cli_here("create", "--task", "Fix x", "--interval", "1", cwd=repo, env=_env(sim, "v3", state))
    assert result.code == (4 if fault == "401" else 5), result.stderr
    [session_id] = sim.sessions
    assert f"https://app.devin.ai/sessions/{session_id.removeprefix('devin-')}" in result.stderr
    assert f"devin-handoff tail {session_id}" in result.stderr
    assert "saved" not in result.stderr and "devin-handoff retry" not in result.stderr
    assert not list((state / "devin-handoff" / "outbox").glob("*.json"))
    assert (state / "devin-handoff" / "sessions" / f"{session_id}.json").exists()


def test_ctrl_c_while_sending_prints_the_retry_command_and_keeps_the_handoff(sim, repo, tmp_path, fake_clock,
                                                                            monkeypatch):
    from handoff.devin.client import DevinClient

    def interrupted(self, body, *, client_tag):
        raise KeyboardInterrupt

    monkeypatch.setattr(DevinClient, "create", interrupted)
    state = tmp_path / "state"
    result = run_cli_here("create", "--task", "Fix x", "--detach", cwd=repo, env=_env(sim, "v3", state))
    assert result.code == 130, result.stderr
    [saved] = list((state / "devin-handoff" / "outbox").glob("*.json"))
    assert f"resume with: devin-handoff retry {saved.stem}" in result.stderr
    assert json.loads(saved.read_text())["reason"] == "interrupted while sending"


def test_ctrl_c_before_anything_is_saved_says_nothing_was_sent(sim, repo, tmp_path, monkeypatch):
    from handoff.app import handoff as launch

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(launch, "inspect_repo", interrupted)
    state = tmp_path / "state"
    result = run_cli_here("create", "--task", "Fix x", "--detach", cwd=repo, env=_env(sim, "v3", state))
    assert result.code == 130, result.stderr
    assert "interrupted before anything was sent (run the same command again)" in result.stderr
    assert sim.requests == [] and not (state / "devin-handoff" / "outbox").exists()
