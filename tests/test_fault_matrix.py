"""Every cell of tests/fault_matrix.py asserted against the real simulator and the real DevinClient."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fault_matrix import (
    FAULTS_BY_LABEL,
    PERSISTENT,
    READ_TIMEOUT,
    RETRY_AFTER,
    SLOW_SECONDS,
    Expect,
    cells,
    markdown_table,
    persistent_table,
    sim_call,
)

from handoff import devin as api
from handoff.config import Settings
from handoff.runtime import Runtime
from handoff.simulator import DEFAULT_ORG, Simulator

KEYS = {"v3": "cog_" + "faultmatrixSECRETvalue0123456789", "v1": "apk_" + "faultmatrixSECRETvalue0123456789"}
MESSAGE = "fault matrix: please carry on"


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    # sessions stay 'new' for the whole module: nothing advances under a test
    with Simulator(step_seconds=600) as running:
        yield running


def _client(sim: Simulator, kind: str, sleeps: list[float]) -> api.DevinClient:
    settings = Settings(api_key=KEYS[kind], org_id=DEFAULT_ORG if kind == "v3" else None, user_id=None,
                        api_url=sim.base_url)
    return api.DevinClient(settings, connect_timeout=2.0, read_timeout=READ_TIMEOUT, retry_budget=5.0,
                           runtime=Runtime(sleep=sleeps.append))


def _invoke(client: api.DevinClient, call: str, session_id: str, client_tag: str) -> Any:
    if call == "create":
        return client.create({"prompt": "fault matrix task", "title": "fault matrix"}, client_tag=client_tag)
    if call == "get":
        return client.get(session_id)
    if call == "messages":
        return client.messages(session_id)
    if call == "send":
        return client.send(session_id, MESSAGE)
    if call == "list":
        return client.list_sessions()
    if call == "archive":
        return client.archive(session_id)
    return client.self_info()


def _delivered(sim: Simulator, session_id: str) -> int:
    return sum(1 for m in sim.sessions[session_id]["messages"] if m["source"] == "user" and m["message"] == MESSAGE)


def _wait_for_stalled_handlers(fault: str, struck_after: float) -> None:
    """A 'slow' request is still processed once its stall ends; count effects only after that. The stall began
    no earlier than `struck_after` (the fault was armed then), so the time the client spent on it counts."""
    if fault == "slow":
        time.sleep(max(0.0, struck_after + SLOW_SECONDS + 0.15 - time.monotonic()))


def _marks(expect: Expect) -> list[pytest.MarkDecorator]:
    """A cell that breaks a stated invariant stays red-on-fix: strict xfail with the reason."""
    return [pytest.mark.xfail(strict=True, reason=expect.bug)] if expect.bug else []


@pytest.mark.parametrize(("label", "call", "kind", "expect"),
                         [pytest.param(*cell, id=f"{cell[0]}-{cell[1]}-{cell[2]}", marks=_marks(cell[3]))
                          for cell in cells()])
def test_fault_cell(sim: Simulator, label: str, call: str, kind: str, expect: Expect) -> None:
    fault = FAULTS_BY_LABEL[label]
    sim.clear_faults()
    sleeps: list[float] = []
    client_tag = api.new_client_tag()
    with _client(sim, kind, sleeps) as client:
        session_id = "" if call == "create" else client.create({"prompt": "target"}, client_tag=api.new_client_tag()
                                                               ).session_id
        sessions_before = len(sim.sessions)
        first_request = len(sim.requests)
        sim.inject(sim_call(call, kind), fault.sim_fault, 1, **fault.opts)
        armed = time.monotonic()
        error: api.ApiError | None = None
        try:
            _invoke(client, call, session_id, client_tag)
        except api.ApiError as exc:
            error = exc
    _wait_for_stalled_handlers(fault.sim_fault, armed)
    requests = sim.requests[first_request:]
    assert sim.pending_faults == [], "the fault never struck"

    if expect.error is None:
        assert error is None, f"expected success, got {type(error).__name__}: {error}"
    else:
        assert error is not None, f"expected {expect.error}, the call succeeded"
        assert type(error).__name__ == expect.error, str(error)
        assert error.exit_code == expect.exit_code
        assert KEYS[kind] not in str(error) and KEYS[kind] not in (error.hint or "")

    own_kind = sim_call(call, kind)
    assert sum(1 for r in requests if r["call"] == own_kind) == expect.requests, requests
    if expect.retried and fault.sim_fault == "429":
        assert float(RETRY_AFTER) in sleeps, "Retry-After was not honoured"

    if call == "create":
        lookups = [r for r in requests if r["call"] == "list"]
        assert bool(lookups) == expect.lookup
        created = [sid for sid, s in sim.sessions.items() if client_tag in s["tags"]]
        never_twice = len(created) == 1 if expect.error is None else len(created) <= 1
        assert never_twice, f"{len(created)} sessions for one create"
        assert len(sim.sessions) - sessions_before == len(created)
    else:
        assert len(sim.sessions) == sessions_before, "a non-create call made a session"
    if expect.delivered is not None:
        assert _delivered(sim, session_id) == expect.delivered


def test_the_readme_carries_the_table_these_tests_assert() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- fault-matrix:start -->\n", 1)[1].split("\n<!-- fault-matrix:end -->", 1)[0]
    assert block.strip() == markdown_table().strip(), "run `python bench/fault_table.py` and paste it into README.md"


def test_the_readme_carries_the_persistent_fault_table_and_each_row_has_its_proof() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- persistent-faults:start -->\n", 1)[1].split("\n<!-- persistent-faults:end -->", 1)[0]
    assert block.strip() == persistent_table().strip(), "run `python bench/fault_table.py` and paste it into README.md"
    here = Path(__file__).resolve().parent
    for row in PERSISTENT:
        module, test = row.proof.split("::")
        assert f"def {test}(" in (here / f"{module}.py").read_text(encoding="utf-8"), row.proof
