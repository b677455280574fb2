"""What every agent hook reads: the agent's JSON on stdin, the directory it runs in, the command text."""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MAX_STDIN_BYTES = 2_000_000


@dataclass(frozen=True)
class HookAnswer:
    """What a hook prints: `stdout` is read by the agent host (and may reach the model), `stderr` is
    for the person only (the agent's hook log or terminal)."""

    stdout: str | None = None
    stderr: str | None = None


def parse_payload(raw: bytes | str | None) -> dict[str, Any] | None:
    """The hook's stdin JSON object, or None for empty, invalid or non-object input."""
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def dumps(obj: Mapping[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False)


def _existing_dir(path: Any) -> str | None:
    return path if isinstance(path, str) and path and os.path.isdir(path) else None


def payload_cwd(payload: Mapping[str, Any]) -> str:
    """Where the agent runs the command: stdin `cwd`, else Cursor's first workspace root, else our own cwd."""
    roots = payload.get("workspace_roots")
    first_root = roots[0] if isinstance(roots, list) and roots else None
    return _existing_dir(payload.get("cwd")) or _existing_dir(first_root) or os.getcwd()


def command_text(value: Any) -> str | None:
    """tool_input.command as a string (Codex may pass an argv list such as ["bash", "-lc", "…"])."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        return shlex.join(value)
    return None
