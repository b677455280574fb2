"""The write-ahead outbox and the journal's files, in process against the simulator with a fake clock:
the handoff on disk before the first byte, full and unwritable state dirs, the in-flight window of `retry`,
the per-handoff lock, damaged and odd state files."""

from __future__ import annotations

import errno
import json
import os
import stat
from datetime import datetime, timezone
from pathlib import Path

import pytest
from helpers import run_cli_here

from handoff import journal, notices, runtime
from handoff.app import launch, retry
from handoff.config import Settings
from handoff.devin.client import DevinClient
from handoff.devin.errors import AuthError
from handoff.errors import EXIT_CONFIG
from handoff.prompt import build_request, new_client_tag
from handoff.runtime import Runtime
from handoff.simulator import DEFAULT_ORG, Simulator

KEY = "cog_" + "outbox" + "k" * 6


@pytest.fixture
def sim():
    with Simulator(step_seconds=600) as simulator:
        yield simulator


@pytest.fixture
def settings(sim, monkeypatch) -> Settings:
    monkeypatch.setenv("DEVIN_API_KEY", KEY)
    return Settings(api_key=KEY, org_id=DEFAULT_ORG, user_id=None, api_url=sim.base_url)


@pytest.fixture(autouse=True)
def _fresh_notices():
    notices.take_notices()
    yield
    notices.take_notices()


def _request(task: str = "Fix the widget"):
    return build_request(task, None, repo=None, facts_text="(no repository)", patch="", client_tag=new_client_tag(),
                         api_version="v3")


def _creates(sim: Simulator) -> list[dict]:
    return [r for r in sim.requests if r["call"] == "create"]


def _sessions_with(sim: Simulator, tag: str) -> int:
    return sum(1 for s in sim.sessions.values() if tag in s["tags"])


def _state() -> Path:
    return journal.state_dir()


def _cli_env(sim: Simulator) -> dict[str, str]:
    return {"DEVIN_API_URL": sim.base_url, "DEVIN_API_KEY": KEY, "DEVIN_ORG_ID": DEFAULT_ORG,
            "XDG_STATE_HOME": os.environ["XDG_STATE_HOME"]}


# -- write-ahead -----------------------------------------------------------------------------------

def test_the_handoff_is_on_disk_0600_before_the_first_byte_goes_out(sim, settings, fake_clock):
    request = _request()
    seen: dict[str, object] = {}

    class Observed(DevinClient):
        def create(self, body, *, client_tag):  # the moment before the request is sent
            path = journal.outbox_path(client_tag)
            seen["mode"] = stat.S_IMODE(path.stat().st_mode)
            seen["dirs"] = {stat.S_IMODE(p.stat().st_mode) for p in (path.parent, path.parent.parent)}
            seen["saved"] = json.loads(path.read_text())
            seen["requests"] = len(sim.requests)
            return super().create(body, client_tag=client_tag)

    client, session = launch.create_session(request, settings, {"title": "t"}, client_factory=Observed)
    client.close()
    assert seen["requests"] == 0 and seen["mode"] == 0o600 and seen["dirs"] == {0o700}
    saved = seen["saved"]
    assert saved["client_tag"] == request.client_tag and saved["body"]["prompt"] == request.body["prompt"]
    assert saved["in_flight_until"] > saved["saved_at"] and KEY not in json.dumps(saved)
    # the result is recorded after: the session in the journal, the outbox entry gone
    assert journal.get_session(session.session_id).client_tag == request.client_tag
    assert journal.load_outbox() == [] and not journal.HandoffLock(request.client_tag).path.exists()


def test_a_full_disk_refuses_before_anything_is_sent(sim, settings, monkeypatch):
    def full(path, handle, data, **options):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(journal, "_write_bytes", full)
    with pytest.raises(journal.StateError) as raised:
        launch.create_session(_request(), settings, {})
    assert raised.value.exit_code == EXIT_CONFIG
    assert str(_state() / "outbox") in str(raised.value) and "ENOSPC" in str(raised.value)
    assert sim.requests == []
    assert not [p for p in (_state() / "outbox").iterdir() if p.is_file()], "a temp file was left behind"


def test_a_disk_that_fills_after_the_create_keeps_the_handoff_and_retry_journals_it(sim, settings, monkeypatch,
                                                                                 fake_clock):
    real_write = journal._write_bytes
    request = _request()

    def full_for_sessions(path, handle, data, **options):
        if path.parent.name == "sessions":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_write(path, handle, data, **options)

    monkeypatch.setattr(journal, "_write_bytes", full_for_sessions)
    client, session = launch.create_session(request, settings, {})
    client.close()
    [said] = notices.take_notices()
    assert session.url in said and f"devin-handoff retry {request.client_tag}" in said
    assert [item.client_tag for item in journal.load_outbox()] == [request.client_tag]

    monkeypatch.setattr(journal, "_write_bytes", real_write)
    fake_clock.now += launch.IN_FLIGHT_SECONDS  # long after: nothing of it can still be in flight
    result = retry.retry_outbox(settings, None)
    assert [(s.found, s.session.session_id) for s in result.sent] == [(True, session.session_id)]
    assert len(_creates(sim)) == 1 and journal.get_session(session.session_id) is not None
    assert journal.load_outbox() == []


def test_an_unwritable_state_dir_is_exit_4_naming_the_path_and_nothing_is_sent(sim, tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the state directory should be\n")
    monkeypatch.setenv("XDG_STATE_HOME", str(blocker))
    result = run_cli_here("create", "--task", "Fix x", "--detach", "--allow-partial", cwd=tmp_path,
                          env={**_cli_env(sim), "XDG_STATE_HOME": str(blocker)})
    assert result.code == EXIT_CONFIG, result.stderr
    assert str(blocker / "devin-handoff" / "outbox") in result.stderr and "internal error" not in result.stderr
    assert sim.requests == []


def test_an_api_failure_keeps_the_entry_with_its_reason_and_no_window(sim, settings, fake_clock):
    sim.inject("create", "401")
    request = _request()
    with pytest.raises(AuthError) as raised:
        launch.create_session(request, settings, {})
    assert f"devin-handoff retry {request.client_tag}" in raised.value.hint
    [item] = journal.load_outbox()
    assert "401" in item.reason and item.in_flight_until <= fake_clock.now


# -- retry: in-flight window and lock -----------------------------------------------------------------

def _save(settings: Settings, *, in_flight_for: float, now: float) -> journal.OutboxItem:
    request = _request()
    return journal.save_outbox(request.client_tag, request.body, {"title": "saved"}, api_url=settings.api_url,
                               api_version="v3", reason="interrupted while sending",
                               in_flight_until=now + in_flight_for)


def test_retry_never_resends_while_an_earlier_attempt_may_land_then_sends_once(sim, settings, fake_clock):
    item = _save(settings, in_flight_for=40, now=fake_clock.now)
    events: list[object] = []
    result = retry.retry_outbox(settings, None, events.append)
    waits = [e for e in events if isinstance(e, retry.RetryWaiting)]
    assert [round(w.seconds) for w in waits] == [40] and sum(fake_clock.slept) >= 40
    lookups = [r for r in sim.requests if r["call"] == "list"]
    assert len(lookups) >= 40 / launch.LOOKUP_EVERY
    # the one create came after every lookup of the window
    [create] = _creates(sim)
    assert all(r["at"] <= create["at"] for r in lookups)
    assert [s.found for s in result.sent] == [False] and _sessions_with(sim, item.client_tag) == 1


def test_an_earlier_attempt_landing_during_the_window_is_adopted_not_duplicated(sim, settings, fake_clock,
                                                                                monkeypatch):
    item = _save(settings, in_flight_for=60, now=fake_clock.now)
    earlier = DevinClient(settings)

    def sleep_while_it_lands(seconds: float) -> None:
        fake_clock.sleep(seconds)
        if len(fake_clock.slept) == 2:  # the first attempt's request is processed at last
            earlier.create(item.body, client_tag=item.client_tag)

    monkeypatch.setattr(runtime, "DEFAULT", Runtime(clock=fake_clock, sleep=sleep_while_it_lands,
                                                    wall=lambda: fake_clock.now))
    result = retry.retry_outbox(settings, None)
    earlier.close()
    assert [s.found for s in result.sent] == [True]
    assert len(_creates(sim)) == 1 and _sessions_with(sim, item.client_tag) == 1
    assert fake_clock.now - 1000.0 < 60, "it kept waiting after the session was found"


def test_a_failed_lookup_proves_nothing_and_keeps_the_window(sim, settings, fake_clock):
    item = _save(settings, in_flight_for=40, now=fake_clock.now)
    sim.inject("list", "500", times=1000)
    result = retry.retry_outbox(settings, None)
    assert [f.handoff_id for f in result.failed] == [item.client_tag] and _creates(sim) == []
    kept = journal.get_outbox(item.client_tag)
    assert kept.in_flight_until == item.in_flight_until and kept.reason.startswith("looking it up by tag failed")


def test_ctrl_c_during_retry_keeps_the_handoff_with_a_window_and_prints_the_resume_command(
        sim, settings, fake_clock, monkeypatch):
    item = _save(settings, in_flight_for=0, now=fake_clock.now)

    def interrupted(self, body, *, client_tag):
        raise KeyboardInterrupt

    monkeypatch.setattr(DevinClient, "create", interrupted)
    result = run_cli_here("retry", item.client_tag, cwd=_state(), env=_cli_env(sim))
    assert result.code == 130, result.stderr
    assert f"resume with: devin-handoff retry {item.client_tag}" in result.stderr
    kept = journal.get_outbox(item.client_tag)
    assert kept.reason == "interrupted while sending" and kept.attempts == 1
    assert kept.in_flight_until == fake_clock.now + launch.AFTER_INTERRUPT_SECONDS
    assert not _creates(sim)


def test_a_handoff_locked_by_another_process_is_skipped_with_a_note(sim, settings, fake_clock):
    item = _save(settings, in_flight_for=0, now=fake_clock.now)
    held = journal.HandoffLock(item.client_tag)
    assert held.acquire()
    try:
        result = run_cli_here("retry", cwd=_state(), env=_cli_env(sim))
    finally:
        held.release()
    assert result.code == 0, result.stderr
    assert f"{item.client_tag}: skipped: another devin-handoff process is sending it" in result.stderr
    assert "outbox is empty" not in result.stderr and sim.requests == []
    assert journal.get_outbox(item.client_tag) is not None


def test_retry_under_a_lock_reads_the_entry_again(sim, settings, fake_clock):
    item = _save(settings, in_flight_for=0, now=fake_clock.now)
    result = retry.RetryResult()
    journal.remove_outbox(item.client_tag)  # another process sent it after this one listed the outbox
    with DevinClient(settings) as client:
        retry._retry_one(client, item.client_tag, settings, result, lambda _: None)
    assert [s.reason for s in result.skipped] == ["already sent by another devin-handoff process"]
    assert sim.requests == []


# -- damaged and odd state files ---------------------------------------------------------------------

def test_a_truncated_outbox_file_is_reported_once_and_moved_aside(sim, settings, fake_clock):
    item = _save(settings, in_flight_for=0, now=fake_clock.now)
    text = item.path.read_text()
    item.path.write_text(text[: len(text) // 2])
    result = run_cli_here("retry", cwd=_state(), env=_cli_env(sim))
    assert result.code == 0, result.stderr
    assert f"damaged state file {item.path}" in result.stderr and "moved aside" in result.stderr
    assert (item.path.parent / (item.path.name + ".corrupt")).read_text() == text[: len(text) // 2]
    again = run_cli_here("retry", cwd=_state(), env=_cli_env(sim))
    assert "damaged" not in again.stderr and "outbox is empty" in again.stderr
    assert sim.requests == []


@pytest.mark.parametrize("content", ["[1, 2]", '{"client_tag": 7}', '{"client_tag": "handoff-x", "body": "p"}',
                                     "\xff\xfe", ""])
def test_an_outbox_file_of_the_wrong_shape_is_moved_aside(content):
    directory = _state() / "outbox"
    directory.mkdir(parents=True)
    bad = directory / "handoff-bad.json"
    bad.write_bytes(content.encode("latin-1"))
    assert journal.load_outbox() == []
    [said] = notices.take_notices()
    assert str(bad) in said and not bad.exists() and bad.with_name(bad.name + ".corrupt").exists()


def test_odd_field_types_are_read_not_crashed_on():
    sessions = _state() / "sessions"
    sessions.mkdir(parents=True)
    (sessions / "devin-a.json").write_text(json.dumps({
        "session_id": "devin-a", "url": "https://app.devin.ai/sessions/a", "client_tag": 5,
        "created_at": "2025-11-30T10:00:00Z", "updated_at": "soon", "pr_urls": "https://x", "cursor": 42,
        "title": None, "status": ["running"]}))
    (sessions / "devin-b.json").write_text(json.dumps({
        "session_id": "devin-b", "url": "https://app.devin.ai/sessions/b", "created_at": "1764500000.5"}))
    (sessions / "devin-c.json").write_text(json.dumps({"url": "https://app.devin.ai/sessions/c"}))
    entries = journal.load_sessions()
    assert [e.session_id for e in entries] == ["devin-b", "devin-a"]  # newest first
    a = entries[1]
    assert a.created_at == datetime(2025, 11, 30, 10, tzinfo=timezone.utc).timestamp()
    assert a.updated_at == 0.0 and a.client_tag == "5" and a.cursor == "42"
    assert a.pr_urls == () and a.title == "" and a.status is None
    assert entries[0].created_at == 1764500000.5
    [said] = notices.take_notices()
    assert "devin-c.json" in said and "no session_id" in said

    outbox = _state() / "outbox"
    outbox.mkdir()
    (outbox / "handoff-odd.json").write_text(json.dumps({
        "client_tag": "handoff-odd", "body": {"prompt": "p"}, "meta": ["x"], "saved_at": "yesterday",
        "in_flight_until": "NaN", "attempts": "3", "reason": {"x": 1}}))
    [item] = journal.load_outbox()
    assert (item.meta, item.saved_at, item.in_flight_until, item.attempts, item.reason) == ({}, 0.0, 0.0, 0, "")


def test_temp_files_are_never_entries_and_stale_ones_are_cleaned_up(sim, settings, fake_clock):
    item = _save(settings, in_flight_for=0, now=fake_clock.now)
    fresh = item.path.parent / ".tmp-abc123.json"
    stale = item.path.parent / ".tmp-old999.json"
    fresh.write_text(json.dumps({"client_tag": "handoff-tmp", "body": {"prompt": "half written"}}))
    stale.write_text("{")
    os.utime(stale, (1, 1))
    assert [i.client_tag for i in journal.load_outbox()] == [item.client_tag]
    assert fresh.exists() and not stale.exists() and notices.take_notices() == []


def test_an_existing_loose_state_dir_is_tightened_to_0700(tmp_path, monkeypatch):
    root = _state()
    root.mkdir(mode=0o755, parents=True)
    root.chmod(0o755)
    journal.record_session(journal.JournalEntry(session_id="devin-x", url="https://app.devin.ai/sessions/x",
                                                client_tag="handoff-x"))
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert stat.S_IMODE((root / "sessions").stat().st_mode) == 0o700
    assert stat.S_IMODE((root / "sessions" / "devin-x.json").stat().st_mode) == 0o600


def test_a_journal_update_on_a_full_disk_is_a_notice_not_a_crash(monkeypatch):
    journal.record_session(journal.JournalEntry(session_id="devin-y", url="https://app.devin.ai/sessions/y",
                                                client_tag="handoff-y"))

    def full(path, handle, data, **options):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(journal, "_write_bytes", full)
    assert journal.update_session("devin-y", status="running").status is None
    [said] = notices.take_notices()
    assert "devin-y" in said and "No space left on device" in said


# -- the README's durability matrix --------------------------------------------------------------------

def test_the_readme_carries_the_durability_matrix_and_every_proof_exists():
    from durability_matrix import ROWS, markdown_table

    here = Path(__file__).resolve().parent
    readme = (here.parent / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- durability-matrix:start -->\n", 1)[1].split("\n<!-- durability-matrix:end -->", 1)[0]
    assert block.strip() == markdown_table().strip(), "run `python bench/fault_table.py` and paste it into README.md"
    for row in ROWS:
        for proof in row.proof:
            file, name = proof.split("::")
            assert f"def {name}(" in (here / file).read_text(encoding="utf-8"), proof


def test_a_v1_key_finds_a_landed_attempt_by_tag_too(sim, monkeypatch, fake_clock):
    key = "apk_" + "outbox" + "k" * 6
    monkeypatch.setenv("DEVIN_API_KEY", key)
    v1 = Settings(api_key=key, org_id=None, user_id=None, api_url=sim.base_url)
    item = _save(v1, in_flight_for=30, now=fake_clock.now)
    with DevinClient(v1) as earlier:  # the interrupted attempt did land
        earlier.create(item.body, client_tag=item.client_tag)
    result = retry.retry_outbox(v1, None)
    assert [s.found for s in result.sent] == [True] and fake_clock.slept == []
    assert len(_creates(sim)) == 1 and _sessions_with(sim, item.client_tag) == 1
    assert journal.load_outbox() == []
