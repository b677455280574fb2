"""Time for retry and follow code: a clock, a sleep and deadlines, injected so tests run the real logic
with a fake clock (no real waiting) and production uses the monotonic clock; and where a wait is told
(`on_wait`: a face shows each retry wait as one line before it sleeps).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Wait:
    """A retry wait about to happen: why (`API busy (503)`) and for how long."""

    reason: str
    seconds: float
    attempt: int            # the attempt that failed (1 = the first request)
    then: str = "retrying"  # what happens after the wait

    def line(self) -> str:
        """`API busy (503), retrying in 4 s…`"""
        shown = f"{self.seconds:.0f}" if self.seconds >= 1 else f"{self.seconds:.1f}"
        return f"{self.reason}, {self.then} in {shown} s…"


def _untold(wait: Wait) -> None:
    return None


@dataclass(frozen=True)
class Runtime:
    """The clock (monotonic seconds), the sleep, the wall clock (epoch seconds) code may use, and who is
    told about retry waits."""

    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    wall: Callable[[], float] = time.time
    on_wait: Callable[[Wait], None] = _untold

    def deadline(self, seconds: float) -> Deadline:
        return Deadline(self, self.clock() + seconds)


@dataclass
class Deadline:
    """A point in time on a runtime's clock; `remaining()` may go negative once it has passed."""

    runtime: Runtime
    at: float

    def remaining(self) -> float:
        return self.at - self.runtime.clock()

    @property
    def passed(self) -> bool:
        return self.remaining() <= 0


@dataclass
class FakeClock:
    """A clock that only moves when something sleeps on it (or a test advances it)."""

    now: float = 1000.0
    slept: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0, seconds
        self.slept.append(seconds)
        self.now += seconds

    def runtime(self) -> Runtime:
        return Runtime(clock=self, sleep=self.sleep, wall=lambda: self.now)


@dataclass
class FastForward:
    """Real time, sped up: a sleep really waits `scale` of what was asked and the clock jumps the whole way,
    so code that polls a live server (which moves in real time) sees the pacing it asked for, sooner."""

    scale: float = 0.05
    skipped: float = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.skipped

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0, seconds
        time.sleep(seconds * self.scale)
        self.skipped += seconds * (1 - self.scale)

    def runtime(self) -> Runtime:
        return Runtime(clock=self, sleep=self.sleep, wall=lambda: time.time() + self.skipped)


REAL = Runtime()
DEFAULT = REAL  # what clients and followers use unless given one; tests may set a fake clock's runtime here


def current() -> Runtime:
    """The runtime to use when none was injected."""
    return DEFAULT
