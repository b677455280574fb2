"""Session tags every handoff carries: `handoff`, and a unique client tag per handoff.

The client tag lets a retry find a session that was already created, so a create is never
duplicated. The request builder (`handoff/prompt.py`) and the Devin client both use these.
"""

from __future__ import annotations

import secrets

HANDOFF_TAG = "handoff"
MAX_TAGS = 50          # the API's limit per session
MAX_TAG_CHARS = 100


def new_client_tag() -> str:
    """A unique tag carried by one handoff, so a retry can find a session that was already created."""
    return f"{HANDOFF_TAG}-{secrets.token_hex(6)}"
