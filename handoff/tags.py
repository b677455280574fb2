"""Session tags every handoff carries: this tool's own tag, and a unique client tag per handoff.

The tool tag marks the sessions this tool made, so `list` never shows another tool's sessions (the
bare `handoff` tag, which older versions used, is shared with other handoff tools). The client tag
lets a retry find a session that was already created, so a create is never duplicated. The request
builder (`handoff/prompt.py`), the Devin client and `handoff/app/sessions.py` all use these.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from handoff.lazy_regex import lazy_compile

TOOL_TAG = "devin-handoff-cli"   # this tool's alone
LEGACY_TAG = "handoff"           # what older versions sent; other tools send it too
HANDOFF_TAG = TOOL_TAG           # the tag every new handoff carries
MAX_TAGS = 50          # the API's limit per session
MAX_TAG_CHARS = 100

_CLIENT_TAG = lazy_compile(r"^handoff-[0-9a-f]{12}$")


def new_client_tag() -> str:
    """A unique tag carried by one handoff, so a retry can find a session that was already created."""
    return f"handoff-{secrets.token_hex(6)}"


def is_client_tag(tag: str) -> bool:
    return bool(_CLIENT_TAG.match(tag))


def made_here(tags: Iterable[str]) -> bool:
    """A session this tool made: the tool tag, or (older versions) the bare tag with a client tag beside it."""
    tags = list(tags)
    return TOOL_TAG in tags or (LEGACY_TAG in tags and any(is_client_tag(t) for t in tags))
