from __future__ import annotations

import os
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


# The longest tests (seconds of wall, measured on 2 cores; mostly waiting on real processes and real time), started
# first and spread over the workers, so none of them starts near the end and leaves the other workers idle.
SLOW_FIRST = {
    "test_kill_9_at_random_points_of_retry_never_loses_or_doubles_a_handoff": 13,
    "test_kill_9_at_random_points_of_create_never_loses_or_doubles_a_handoff": 13,
    "test_odd_names_and_contents_round_trip": 6,
    "test_arbitrary_name_and_bytes_untracked": 6,
    "test_tail_survives_faults_with_a_notice_and_loses_or_repeats_nothing": 6,
    "test_trigger_and_needles_cover_what_the_plugin_matches": 6,
    "test_ten_retries_at_once_send_each_handoff_exactly_once": 4,
    "test_cli_pickup_checks_out_the_pr_head": 4,
    "test_pre_push_stops_outgoing_secret_and_lets_clean_commits_go": 4,
    "test_claude_code_connects_to_the_mcp_server_install_wrote": 4,
    "test_codex_reads_the_user_and_project_configs_install_wrote": 3,
    "test_mcp_status_and_list_show_approval_and_sleep_over_stdio": 3,
    "test_quoted_name_with_space_is_listed_by_its_real_path": 3,
    "test_keyword_and_entropy_lines_reach_their_plugins": 3,
    "test_the_wheel_ships_every_integration_file_and_finds_it": 3,
    "test_demo_runs_the_whole_flow_with_no_key": 3,
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under `--dist worksteal` each worker starts on one consecutive slice of the collection (then steals): put
    the slowest tests at the head of the slices, balanced by their weight. Every test still runs exactly once."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0"))
    if workers < 2:
        return
    slow = sorted((item for item in items if item.originalname in SLOW_FIRST),
                  key=lambda item: -SLOW_FIRST[item.originalname])
    heads: list[list[pytest.Item]] = [[] for _ in range(workers)]
    weights = [0] * workers
    for item in slow:
        lightest = weights.index(min(weights))
        heads[lightest].append(item)
        weights[lightest] += SLOW_FIRST[item.originalname]
    rest = iter([item for item in items if item.originalname not in SLOW_FIRST])
    ordered: list[pytest.Item] = []
    for index, head in enumerate(heads):
        size = (len(items) - len(ordered)) // (workers - index)  # worksteal's own split of what is pending
        ordered += head + [next(rest) for _ in range(max(size - len(head), 0))]
    ordered += list(rest)
    assert sorted(map(id, ordered)) == sorted(map(id, items))
    items[:] = ordered
