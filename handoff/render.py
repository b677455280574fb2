"""All terminal output: human text on stderr, JSON on stdout, colour only on a TTY.

Stages never print; commands hand what they have to an `Output`.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, TextIO

from handoff.errors import mask_secrets

_COLOURS = {"red": "31", "green": "32", "yellow": "33", "blue": "34", "magenta": "35", "cyan": "36",
            "bold": "1", "dim": "2"}


def _wants_colour(stream: TextIO) -> bool:
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return hasattr(stream, "isatty") and stream.isatty()


class Output:
    """One place for what a command shows: `say` for people (stderr), `json` for programs (stdout)."""

    def __init__(self, json_mode: bool = False, quiet: bool = False) -> None:
        self.json_mode = json_mode
        self.quiet = quiet
        self.colour = _wants_colour(sys.stderr)

    def style(self, text: str, colour: str) -> str:
        if not self.colour or colour not in _COLOURS:
            return text
        return f"\x1b[{_COLOURS[colour]}m{text}\x1b[0m"

    def say(self, text: str = "", colour: str | None = None) -> None:
        """A line for a person, on stderr; secrets masked."""
        if self.quiet:
            return
        line = mask_secrets(text)
        print(self.style(line, colour) if colour else line, file=sys.stderr, flush=True)

    def warn(self, text: str) -> None:
        self.say(f"warning: {text}", "yellow")

    def json(self, obj: Any) -> None:
        """One JSON document (or one JSON Lines record) on stdout."""
        sys.stdout.write(mask_secrets(json.dumps(obj, ensure_ascii=False, sort_keys=False)) + "\n")
        sys.stdout.flush()

    def result(self, obj: Any, human: str | None = None) -> None:
        """A command's outcome: JSON on stdout with --json, otherwise `human` on stdout."""
        if self.json_mode:
            self.json(obj)
        elif human is not None:
            sys.stdout.write(mask_secrets(human) + "\n")
            sys.stdout.flush()
