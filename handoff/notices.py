"""Notices a person should see but that stop nothing (a damaged state file moved aside, a journal write that
failed while following): stages and use cases post them here; each face registers how it shows them."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

MAX_KEPT = 100

_kept: list[str] = []
_listeners: list[Callable[[str], None]] = []


def on_notice(listener: Callable[[str], None]) -> None:
    """Call `listener` with each notice from now on (once, however often it is registered)."""
    if listener not in _listeners:
        _listeners.append(listener)


def notice(text: str) -> None:
    """Post a notice: kept for `take_notices`, and passed to every listener."""
    _kept.append(text)
    del _kept[:-MAX_KEPT]  # a long-lived server that never takes them keeps only the latest
    for listener in _listeners:
        with contextlib.suppress(Exception):  # a face that cannot show it must not break the caller
            listener(text)


def take_notices() -> list[str]:
    """Notices since the last call (for faces that collect rather than listen)."""
    taken = list(_kept)
    _kept.clear()
    return taken
