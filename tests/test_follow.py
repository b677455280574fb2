"""The follower: adaptive pacing with a fake clock, and event logic against a scripted fake client.

End-to-end behaviour over HTTP against the simulator is in test_session_commands.py.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from handoff.devin import Message, MessagePage, PullRequest, Session, UnreachableError
from handoff.follow import (
    EndEvent,
    Follower,
    MessageEvent,
    NoticeEvent,
    Pacer,
    PullRequestEvent,
    StatusEvent,
    decode_cursor,
    encode_cursor,
)
from handoff.runtime import Runtime


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.now += seconds


# -- pacing ------------------------------------------------------------------------------------------

def test_pacer_stays_short_after_activity_then_backs_off_by_half_again_up_to_the_cap():
    clock = FakeClock()
    pacer = Pacer(10.0, min_interval=1.0, hot_seconds=0.0, clock=clock)
    waits = []
    for _ in range(9):
        waits.append(pacer.after_poll(active=False))
        clock.sleep(waits[-1])
    assert waits[:6] == pytest.approx([1.5, 2.25, 3.375, 5.0625, 7.59375, 10.0])
    assert waits[6:] == [10.0, 10.0, 10.0]
    assert pacer.after_poll(active=True) == 1.0


def test_pacer_keeps_the_shortest_interval_during_the_hot_window():
    clock = FakeClock()
    pacer = Pacer(10.0, min_interval=1.0, hot_seconds=5.0, clock=clock)
    pacer.after_poll(active=True)
    waits = []
    while clock.now < 1004.5:
        waits.append(pacer.after_poll(active=False))
        clock.sleep(waits[-1])
    assert set(waits) == {1.0}
    clock.sleep(1.0)
    assert pacer.after_poll(active=False) == 1.5


def test_pacer_never_waits_longer_than_the_interval_even_a_short_one():
    clock = FakeClock()
    pacer = Pacer(1.0, min_interval=1.0, hot_seconds=0.0, clock=clock)
    assert {pacer.after_poll(active=False) for _ in range(20)} == {1.0}


def test_cursor_round_trip_keeps_the_api_cursor_and_the_last_event():
    assert decode_cursor(encode_cursor("abc", "event-1")) == ("abc", "event-1")
    assert decode_cursor(encode_cursor(None, "event-1")) == (None, "event-1")
    assert decode_cursor("plain-api-cursor") == ("plain-api-cursor", None)
    assert encode_cursor(None, None) is None and decode_cursor(None) == (None, None)


# -- a scripted fake client ----------------------------------------------------------------------------

def session(status: str = "running", detail: str | None = "working", updated: int = 1,
            prs: tuple[str, ...] = ()) -> Session:
    return Session(session_id="devin-abc", url="https://app.devin.ai/sessions/abc", status=status,
                   status_detail=detail, title="t", tags=("handoff",),
                   pull_requests=tuple(PullRequest(url, "open") for url in prs), created_at=1, updated_at=updated)


class FakeClient:
    """v3-like: `get` and `messages` answer from a timeline keyed by the fake clock."""

    messages_with_session = False

    def __init__(self, clock: FakeClock, timeline: list[tuple[float, Session, list[Message]]]) -> None:
        self.clock = clock
        self.timeline = timeline  # (from time, session state, messages visible)
        self.calls: list[tuple[float, str]] = []
        self.failures: dict[str, int] = {}
        self.down_from = float("inf")  # every call fails from this time on

    def _now_state(self) -> tuple[Session, list[Message]]:
        current = self.timeline[0]
        for entry in self.timeline:
            if entry[0] <= self.clock.now:
                current = entry
        return current[1], current[2]

    def _maybe_fail(self, call: str) -> None:
        if self.clock.now >= self.down_from:
            raise UnreachableError("connection refused")
        if self.failures.get(call, 0) > 0:
            self.failures[call] -= 1
            raise UnreachableError("the API answered 503")

    def get(self, session_id: str) -> Session:
        self.calls.append((self.clock.now, "get"))
        self._maybe_fail("get")
        return self._now_state()[0]

    def messages(self, session_id: str, after: str | None = None) -> MessagePage:
        self.calls.append((self.clock.now, "messages"))
        self._maybe_fail("messages")
        return MessagePage(tuple(self._now_state()[1]), None)


def msg(n: int, source: str = "devin") -> Message:
    return Message(event_id=f"event-{n}", source=source, text=f"message {n}", created_at=n)


def follow(client: FakeClient, clock: FakeClock, **kwargs) -> list:
    follower = Follower(client, "devin-abc", runtime=Runtime(clock=clock, sleep=clock.sleep), record=False, **kwargs)
    return list(follower.events())


def test_messages_once_in_order_then_status_pr_and_end():
    clock = FakeClock()
    t0 = clock.now
    prompt = msg(0, "user")
    client = FakeClient(clock, [
        (t0, session(updated=1), [prompt]),
        (t0 + 3, session(updated=2), [prompt, msg(1)]),
        (t0 + 6, session(updated=3), [prompt, msg(1), msg(2)]),
        (t0 + 9, session(detail="finished", updated=4, prs=("https://github.com/a/b/pull/1",)),
         [prompt, msg(1), msg(2), msg(3)]),
    ])
    events = follow(client, clock)
    kinds = [type(e).__name__ for e in events]
    assert [e.text for e in events if isinstance(e, MessageEvent)] == ["message 1", "message 2", "message 3"]
    assert [(e.status, e.status_detail) for e in events if isinstance(e, StatusEvent)] == [
        ("running", "working"), ("running", "finished")]
    assert [e.url for e in events if isinstance(e, PullRequestEvent)] == ["https://github.com/a/b/pull/1"]
    assert kinds[-1] == "EndEvent" and events[-1].outcome == "finished" and events[-1].exit_code == 0


@pytest.mark.parametrize(("status", "detail", "outcome", "code"), [
    ("running", "waiting_for_user", "waiting_for_user", 0),
    ("exit", None, "exit", 0),
    ("error", None, "error", 1),
    ("suspended", "out_of_credits", "suspended", 1),
])
def test_each_end_state_gives_its_exit_code_and_reason(status, detail, outcome, code):
    clock = FakeClock()
    client = FakeClient(clock, [(clock.now, session(), []), (clock.now + 2, session(status, detail, 2), [])])
    end = follow(client, clock)[-1]
    assert isinstance(end, EndEvent) and (end.outcome, end.exit_code) == (outcome, code)
    if outcome == "suspended":
        assert end.reason == "out_of_credits"


def test_idle_session_costs_at_most_six_requests_a_minute_after_a_minute():
    clock = FakeClock()
    t0 = clock.now
    client = FakeClient(clock, [(t0, session(), [msg(1)]),
                                (t0 + 400, session(detail="finished", updated=9), [msg(1)])])
    follow(client, clock, interval=10.0)
    for start in range(60, 340, 20):
        window = [c for c in client.calls if t0 + start <= c[0] < t0 + start + 60]
        assert len(window) <= 6, (start, window)
    # and it still looks for messages now and then, in case updated_at lags behind them
    assert any(call == "messages" for at, call in client.calls if at > t0 + 120)


def test_a_message_arriving_while_active_is_seen_within_about_a_second():
    clock = FakeClock()
    t0 = clock.now
    timeline = [(t0, session(updated=0), [])]
    shown = []
    for n in range(1, 6):
        shown.append(msg(n))
        timeline.append((t0 + 2.5 * n, session(updated=n), list(shown)))
    timeline.append((t0 + 15, session(detail="finished", updated=99), list(shown)))
    client = FakeClient(clock, timeline)
    follower = Follower(client, "devin-abc", runtime=Runtime(clock=clock, sleep=clock.sleep), record=False)
    for event in follower.events():
        if isinstance(event, MessageEvent):
            published = t0 + 2.5 * int(event.event_id.split("-")[1])
            assert clock.now - published <= 1.01


def test_transient_errors_give_a_notice_and_lose_nothing():
    clock = FakeClock()
    t0 = clock.now
    client = FakeClient(clock, [(t0, session(updated=1), [msg(1)]),
                                (t0 + 3, session(updated=2), [msg(1), msg(2)]),
                                (t0 + 8, session(detail="finished", updated=3), [msg(1), msg(2), msg(3)])])
    client.failures = {"get": 2, "messages": 1}
    events = follow(client, clock)
    assert any(isinstance(e, NoticeEvent) for e in events)
    assert [e.event_id for e in events if isinstance(e, MessageEvent)] == ["event-1", "event-2", "event-3"]
    assert events[-1].outcome == "finished"


def test_an_api_never_reached_is_given_up_on_sooner():
    clock = FakeClock()
    client = FakeClient(clock, [(clock.now, session(), [])])
    client.failures = {"get": 10**6}
    end = follow(client, clock, give_up_after=600.0, first_contact_give_up=30.0)[-1]
    assert end.exit_code == 5 and 30 <= clock.now - 1000.0 < 45


def test_continuous_failure_gives_up_with_exit_5_after_the_bound():
    clock = FakeClock()
    client = FakeClient(clock, [(clock.now, session(), [])])
    client.down_from = clock.now + 5  # the API goes away after a few good polls
    events = follow(client, clock, give_up_after=120.0)
    end = events[-1]
    assert isinstance(end, EndEvent) and end.exit_code == 5 and end.outcome == "unreachable"
    assert 120 <= clock.now - client.down_from < 140
    notices = [e for e in events if isinstance(e, NoticeEvent)]
    assert 1 <= len(notices) <= 3  # one line, repeated about once a minute, not once per retry


class AnsweringFailures(FakeClient):
    """Failures that are answers from the API (a status code, maybe a Retry-After), not silence."""

    def __init__(self, clock: FakeClock, timeline, *, status: int = 500, retry_after: float | None = None) -> None:
        super().__init__(clock, timeline)
        self.status, self.retry_after = status, retry_after
        self.sleeps: list[float] = []

    def _maybe_fail(self, call: str) -> None:
        if self.failures.get(call, 0) > 0:
            self.failures[call] -= 1
            error = UnreachableError(f"the API answered {self.status}", status=self.status)
            error.retry_after = self.retry_after
            raise error


def test_a_messages_endpoint_failing_from_the_first_poll_is_waited_out_for_the_full_budget():
    clock = FakeClock()
    client = AnsweringFailures(clock, [(clock.now, session(), [msg(1)])])
    client.failures = {"messages": 10**6}  # the session answers, its messages never do
    end = follow(client, clock, give_up_after=600.0, first_contact_give_up=30.0)[-1]
    assert end.exit_code == 5 and 600 <= clock.now - 1000.0 < 620  # not the 30 s meant for silence


def test_an_error_answer_counts_as_contact_even_before_any_success():
    clock = FakeClock()
    client = AnsweringFailures(clock, [(clock.now, session(), [])], status=503)
    client.failures = {"get": 10**6}
    end = follow(client, clock, give_up_after=200.0, first_contact_give_up=30.0)[-1]
    assert end.exit_code == 5 and 200 <= clock.now - 1000.0 < 220


@pytest.mark.parametrize(("retry_after", "expected"), [(20.0, 20.0), (0.0, 1.0), (10_000.0, 300.0)])
def test_retry_after_is_honoured_with_a_floor_and_a_cap(retry_after, expected):
    clock = FakeClock()
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock.sleep(seconds)

    t0 = clock.now
    client = AnsweringFailures(clock, [(t0, session(detail="finished"), [msg(1)])], status=429,
                               retry_after=retry_after)
    client.failures = {"get": 1}
    follower = Follower(client, "devin-abc", runtime=Runtime(clock=clock, sleep=sleep), record=False)
    events = list(follower.events())
    assert events[-1].outcome == "finished"
    assert sleeps[0] == pytest.approx(expected)
    (notice,) = [e for e in events if isinstance(e, NoticeEvent)]
    assert f"retrying in {expected:.0f} s" in notice.text


def test_user_replies_and_unknown_sources_are_shown_but_the_prompt_is_not():
    clock = FakeClock()
    items = [msg(0, "user"), msg(1), msg(2, "user"), msg(3, "unknown"), msg(4, "system")]
    client = FakeClient(clock, [(clock.now, session(detail="finished"), items)])
    shown = [(e.source, e.text) for e in follow(client, clock) if isinstance(e, MessageEvent)]
    assert shown == [("devin", "message 1"), ("user", "message 2"), ("unknown", "message 3"),
                     ("system", "message 4")]


def test_messages_come_before_the_status_change_they_preceded():
    clock = FakeClock()
    client = FakeClient(clock, [(clock.now, session(detail="finished"), [msg(1), msg(2)])])
    kinds = [type(e).__name__ for e in follow(client, clock)]
    assert kinds == ["MessageEvent", "MessageEvent", "StatusEvent", "EndEvent"]


def test_odd_cursors_decode_without_crashing():
    assert decode_cursor(12345) == ("12345", None)
    assert decode_cursor(["not", "a", "cursor"]) == (None, None)


def test_resume_from_cursor_skips_what_was_shown_before():
    clock = FakeClock()
    client = FakeClient(clock, [(clock.now, session(detail="finished"), [msg(0, "user"), msg(1), msg(2), msg(3)])])
    events = follow(client, clock, cursor=encode_cursor(None, "event-2"))
    assert [e.event_id for e in events if isinstance(e, MessageEvent)] == ["event-3"]


def test_a_reply_is_not_ended_by_the_stale_waiting_state():
    clock = FakeClock()
    t0 = clock.now
    waiting = session(detail="waiting_for_user", updated=1)
    client = FakeClient(clock, [(t0, waiting, [msg(1)]),
                                (t0 + 3, replace(waiting, status_detail="working", updated_at=2), [msg(1)]),
                                (t0 + 5, replace(waiting, status_detail="finished", updated_at=3), [msg(1), msg(2)])])
    follower = Follower(client, "devin-abc", runtime=Runtime(clock=clock, sleep=clock.sleep), record=False)
    first = list(follower.events())
    assert first[-1].outcome == "waiting_for_user" and clock.now == t0
    follower.replied()
    then = list(follower.events())
    assert then[-1].outcome == "finished" and clock.now >= t0 + 5
    shown = [e.event_id for e in first + then if isinstance(e, MessageEvent)]
    assert shown == ["event-1", "event-2"]


def test_prime_hides_the_history_before_a_reply():
    clock = FakeClock()
    client = FakeClient(clock, [(clock.now, session(detail="waiting_for_user"), [msg(1)]),
                                (clock.now + 2, session(detail="finished", updated=2), [msg(1), msg(2)])])
    follower = Follower(client, "devin-abc", runtime=Runtime(clock=clock, sleep=clock.sleep), record=False)
    follower.prime()
    follower.replied()
    events = list(follower.events())
    assert [e.event_id for e in events if isinstance(e, MessageEvent)] == ["event-2"]
    assert events[-1].outcome == "finished"
