"""Following a session in the terminal: the use case's events rendered, and replies typed at the prompt."""

from __future__ import annotations

import sys
from typing import Any

from handoff.app import sessions
from handoff.cli.render import Output, render_event


def _ask_reply(out: Output) -> str:
    """A reply typed at the terminal; an empty line (or end of input) means no reply."""
    sys.stderr.write(out.style("reply to Devin (empty line to stop): ", "bold"))
    sys.stderr.flush()
    return sys.stdin.readline().strip()


def follow_session(client: Any, session_id: str, out: Output, *, interval: float = 10.0, archive: bool = False,
                   interactive: bool | None = None, cursor: str | None = None) -> int:
    """Follow a session until Devin stops; render its events; return the exit code.

    With `interactive` (default: stdin is a TTY and not --json), a session waiting for the user
    gets a reply prompt; the reply is sent and following goes on."""
    if interactive is None:
        interactive = not out.json_mode and sys.stdin is not None and sys.stdin.isatty()
    return sessions.follow(client, session_id, lambda event: render_event(event, out, interactive=interactive),
                           interval=interval, archive=archive, cursor=cursor, json_mode=out.json_mode,
                           ask_reply=(lambda: _ask_reply(out)) if interactive else None)


def follow_after_reply(follower: Any, out: Output) -> int:
    """Follow on after a reply was sent (no prompts)."""
    return sessions.run_follower(follower, lambda event: render_event(event, out))
