"""Interruptions of the commands that send handoffs: SIGTERM and SIGHUP stop them as Ctrl-C does, and an
interruption ends as exit 130 with the command that resumes the work (never a traceback)."""

from __future__ import annotations

import contextlib
import functools
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any, TypeVar

from handoff.errors import EXIT_INTERRUPTED, HandoffError

T = TypeVar("T")
_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


class Interrupted(HandoffError):
    """Ctrl-C, SIGTERM or SIGHUP: exit 130; the hint says how to resume."""

    exit_code = EXIT_INTERRUPTED


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


@contextlib.contextmanager
def signals_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise KeyboardInterrupt in the main thread, like Ctrl-C."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, _raise_interrupt) for signum in _SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def interruptible(message: str, hint: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """A command whose signals interrupt it; an interruption nothing inside answered ends as `message`/`hint`."""

    def decorate(command: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(command)
        def run(*args: Any, **kwargs: Any) -> T:
            with signals_interrupt():
                try:
                    return command(*args, **kwargs)
                except KeyboardInterrupt:
                    raise Interrupted(message, hint) from None

        return run

    return decorate
