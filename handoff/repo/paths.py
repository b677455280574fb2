"""Paths the user typed, and git's C-quoted path names (parsed once here for the repo package)."""

from __future__ import annotations

import os
from pathlib import Path


def user_path(p: str) -> Path:
    """A path the user typed, relative to where they stood.

    A `!` git alias runs at the top level of the work tree and says where the user was in
    $GIT_PREFIX (e.g. `src/`); a plain command keeps the cwd and has no GIT_PREFIX.
    """
    path = Path(p).expanduser()
    if path.is_absolute():
        return path
    return Path.cwd() / os.environ.get("GIT_PREFIX", "") / path


_C_ESCAPES = {ord("a"): 7, ord("b"): 8, ord("t"): 9, ord("n"): 10, ord("v"): 11, ord("f"): 12, ord("r"): 13}


def unquote(raw: bytes) -> bytes:
    """git's C-style quoting of odd file names ("a/t\\303\\251st") back to the raw bytes."""
    if len(raw) < 2 or not raw.startswith(b'"') or not raw.endswith(b'"'):
        return raw
    body, out, index = raw[1:-1], bytearray(), 0
    while index < len(body):
        char = body[index]
        if char == 0x5C and index + 1 < len(body):
            following = body[index + 1]
            if 0x30 <= following <= 0x37:
                out.append(int(body[index + 1:index + 4], 8) & 0xFF)
                index += 4
                continue
            out.append(_C_ESCAPES.get(following, following))
            index += 2
            continue
        out.append(char)
        index += 1
    return bytes(out)


def closing_quote(text: bytes) -> int:
    """Index of the quote that closes the C-quoted name starting at text[0]."""
    index = 1
    while index < len(text):
        if text[index] == 0x5C:
            index += 2
            continue
        if text[index] == 0x22:
            return index
        index += 1
    return len(text) - 1
