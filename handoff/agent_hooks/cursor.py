"""Cursor's beforeShellExecution hook: deny a handoff the secret gate blocks; otherwise stay neutral.

`{"permission":"allow"}` would mean "run without asking the user": it would switch off Cursor's own
approval (and shadow the user's other hooks) for every agent shell command. The docs
(cursor.com/docs/agent/hooks) define the reply as an optional decision (`allow|deny|ask`) plus two
messages and name no neutral value, so a hook with nothing to say answers `{}`: valid JSON with no
decision, leaving Cursor's approval flow and the other hooks to decide. Valid JSON (rather than no
output) also keeps a hook the user marked `failClosed` from counting as a failed one. A deny carries
two texts: `agent_message` for the model (stop, tell the user, or redact) and `user_message` for the
person (every way to clear it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from handoff.agent_hooks.gate_check import check_command
from handoff.agent_hooks.payload import command_text, dumps, payload_cwd

CURSOR_NO_DECISION = "{}"


def before_shell(payload: Mapping[str, Any] | None) -> str:
    """Cursor beforeShellExecution: `deny` for a handoff the gate blocks, else no decision (`{}`)."""
    command = command_text((payload or {}).get("command"))
    if not payload or not command:
        return CURSOR_NO_DECISION
    verdict = check_command(command, payload_cwd(payload))
    if verdict is None:
        return CURSOR_NO_DECISION
    return dumps({"permission": "deny", "user_message": verdict.user_reason(),
                  "agent_message": verdict.agent_reason()})
