from __future__ import annotations

import sys

import pytest

# Every xdist worker imports and assertion-rewrites all test modules; keep the rewritten bytecode (as an installed
# package keeps its own) even when the shell sets PYTHONDONTWRITEBYTECODE, or each run compiles them again.
sys.dont_write_bytecode = False


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path_factory, monkeypatch):
    """Keep every test's journal and outbox out of the real home."""
    state = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    monkeypatch.setenv("NO_COLOR", "1")
    for name in ("DEVIN_API_KEY", "DEVIN_ORG_ID", "DEVIN_USER_ID", "DEVIN_API_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def fake_clock(monkeypatch):
    """Time for clients and followers from a fake clock: retry backoff and give-up deadlines run for real,
    without real waiting. (The simulator's sessions still move with real time.)"""
    from handoff import runtime

    clock = runtime.FakeClock()
    monkeypatch.setattr(runtime, "DEFAULT", clock.runtime())
    return clock


@pytest.fixture
def fast_forward(monkeypatch):
    """Time for clients and followers runs 20x fast: pacing and deadlines as written, a twentieth of the wait."""
    from handoff import runtime

    clock = runtime.FastForward()
    monkeypatch.setattr(runtime, "DEFAULT", clock.runtime())
    return clock
