"""`send`: reply to a session (v3: a sleeping one wakes), optionally following it on."""

from __future__ import annotations

import sys

import click

from handoff.app.sessions import cursor_field, resume_hint
from handoff.cli.following import follow_after_reply
from handoff.cli.options import api_options, json_option
from handoff.cli.render import Output
from handoff.cli.sessions import one_shot_client, session_id, settings_with_key
from handoff.errors import UsageError
from handoff.follow import Follower

MAX_MESSAGE_BYTES = 100_000


def _read_message(message: str) -> str:
    if message == "-":
        if sys.stdin is None or sys.stdin.isatty():
            raise UsageError("MESSAGE - reads standard input, but it is a terminal", "pipe the message in")
        message = sys.stdin.read(MAX_MESSAGE_BYTES + 1)
        if len(message) > MAX_MESSAGE_BYTES:
            raise UsageError(f"the message is longer than {MAX_MESSAGE_BYTES} characters", "shorten it")
    if not message.strip():
        raise UsageError("the message is empty", "say what Devin should do next")
    return message.strip()


@click.command()
@click.argument("session_ref", metavar="ID")
@click.argument("message", metavar="MESSAGE")
@click.option("--follow", "then_follow", is_flag=True, help="Follow the session after sending.")
@click.option("--interval", type=click.FloatRange(min=1), default=10.0, show_default=True,
              help="With --follow: longest wait between polls.")
@api_options
@json_option
def send(session_ref: str, message: str, then_follow: bool, interval: float, api_url: str | None,
         org_id: str | None, user_id: str | None, json_mode: bool) -> int:
    """Reply to a session. MESSAGE `-` reads standard input.

    With a cog_ key (v3) a message wakes a sleeping (suspended) session. The v1 API (apk_ keys) answers
    a session in a state that takes no messages with a reason instead: that is reported (exit 2)."""
    out = Output(json_mode)
    sid = session_id(session_ref)
    text = _read_message(message)
    settings = settings_with_key(api_url, org_id, user_id)
    with one_shot_client(settings) as client:
        follower = None
        if then_follow:
            follower = Follower(client, sid, interval=interval, cursor_field=cursor_field(json_mode))
        if follower is not None:
            follower.prime()  # what Devin said before this reply is not news (and a wrong id fails here)
        client.send(sid, text)
        out.say(f"sent to {sid}", "green")
        if follower is None:
            out.result({"sent": True, "session_id": sid}, None)
            out.say(f"follow it with: {resume_hint(sid)}", "dim")
            return 0
        if json_mode:
            out.json({"event": "sent", "session_id": sid})
        follower.replied()
        return follow_after_reply(follower, out)
