"""Cursor's beforeShellExecution hook: always answers, `allow` unless a handoff would send a secret."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from handoff.agent_hooks.gate_check import check_command
from handoff.agent_hooks.payload import command_text, dumps, payload_cwd

CURSOR_ALLOW = '{"permission":"allow"}'


def before_shell(payload: Mapping[str, Any] | None) -> str:
    """Cursor beforeShellExecution: always answers, `allow` unless a handoff would be blocked."""
    command = command_text((payload or {}).get("command"))
    if not payload or not command:
        return CURSOR_ALLOW
    verdict = check_command(command, payload_cwd(payload))
    if verdict is None:
        return CURSOR_ALLOW
    reason = verdict.reason()
    return dumps({"permission": "deny", "user_message": reason.splitlines()[0], "agent_message": reason})
