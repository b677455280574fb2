"""`devin-handoff hook EVENT`: the entry point agent and git hooks call (logic in handoff/agent_hooks/).

A hook must never break the session that runs it, nor decide for the user: anything unexpected ends
in exit 0 with no decision (no output; `{}` for Cursor), a traceback only with DEVIN_HANDOFF_DEBUG=1.
The only blocking answers are the documented ones (a PreToolUse/Cursor deny, a non-zero pre-push);
no answer ever allows on the user's behalf.
"""

from __future__ import annotations

import os
import sys

import click

EVENTS = ("session-start", "pre-tool-use", "cursor-before-shell", "pre-push")


def _read_stdin() -> bytes:
    stream = sys.stdin
    if stream is None or stream.isatty():
        return b""  # run by hand: no payload, nothing to wait for
    from handoff.agent_hooks.payload import MAX_STDIN_BYTES

    return stream.buffer.read(MAX_STDIN_BYTES)


def _emit(text: str | None) -> None:
    if text:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()


def _run(event: str, args: tuple[str, ...]) -> int:
    from handoff.agent_hooks.payload import parse_payload

    raw = _read_stdin()
    if event == "pre-push":
        from handoff.agent_hooks.pre_push import pre_push

        code, messages = pre_push(raw.decode("utf-8", errors="replace"), os.getcwd())
        for message in messages:
            click.echo(message, err=True)
        return code
    payload = parse_payload(raw)
    if event == "cursor-before-shell":
        from handoff.agent_hooks.cursor import before_shell

        _emit(before_shell(payload))
        return 0
    if payload is None:
        return 0
    from handoff.agent_hooks import agent

    if event == "session-start":
        _emit(agent.session_start(payload))
    elif event == "pre-tool-use":
        answer = agent.pre_tool_use(payload)
        if answer.stderr:
            click.echo(answer.stderr, err=True)
        _emit(answer.stdout)
    return 0


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("event", metavar="EVENT")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def hook(event: str, args: tuple[str, ...]) -> int:
    """Entry point for agent hooks; reads the agent's JSON on stdin.

    \b
    EVENT is one of:
      session-start        Claude Code / Codex SessionStart: version, key set or not, news of this repo's sessions
      pre-tool-use         Claude Code / Codex PreToolUse: deny a handoff command that would send a secret
      cursor-before-shell  Cursor beforeShellExecution: the same guard, Cursor's reply format ({} = no decision)
      pre-push             git pre-push (args: remote url; ref lines on stdin): scan the outgoing commits

    No network; exits 0 with no output whenever there is nothing to say or something is missing.
    """
    if event not in EVENTS:
        click.echo(f"devin-handoff hook: unknown event {event!r} (known: {', '.join(EVENTS)}); ignored", err=True)
        return 0
    try:
        return _run(event, args)
    except Exception as exc:  # a failure of ours must not stop the agent: no decision, say why on stderr
        if os.environ.get("DEVIN_HANDOFF_DEBUG"):
            raise
        from handoff.errors import mask_secrets

        click.echo(f"devin-handoff hook {event}: skipped ({mask_secrets(type(exc).__name__)})", err=True)
        if event == "cursor-before-shell":
            from handoff.agent_hooks.cursor import CURSOR_NO_DECISION

            _emit(CURSOR_NO_DECISION)
        return 0
