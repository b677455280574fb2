"""Session ids and URLs: every accepted spelling becomes `devin-<id>`; the web URL of a session."""

from __future__ import annotations

from handoff.config import APP_URL
from handoff.errors import UsageError, mask_secrets
from handoff.lazy_regex import lazy_compile

_SESSION_ID = lazy_compile(r"^(?:devin-)?([A-Za-z0-9][A-Za-z0-9_-]{0,127})$")
_SESSION_URL = lazy_compile(r"^(?:https?://)?[^/\s]+(?:/[^/\s?#]+)*?/sessions/(?:devin-)?([A-Za-z0-9][A-Za-z0-9_-]{0,127})/?"
                          r"(?:[?#]\S*)?$")


def normalize_session_id(text: str) -> str:
    """'abc123', 'devin-abc123', 'https://app.devin.ai/sessions/abc123' (trailing / ? # tolerated) -> 'devin-abc123'."""
    candidate = (text or "").strip()
    match = _SESSION_ID.match(candidate) or _SESSION_URL.match(candidate)
    if not match:
        shown = candidate if len(candidate) <= 80 else candidate[:77] + "..."
        raise UsageError(f"not a Devin session id or URL: {mask_secrets(shown)!r}",
                         "use devin-<id>, <id>, or https://app.devin.ai/sessions/<id>")
    return f"devin-{match.group(1)}"


def with_prefix(session_id: str) -> str:
    return session_id if session_id.startswith("devin-") else f"devin-{session_id}"


def web_url(session_id: str) -> str:
    return f"{APP_URL}/sessions/{session_id.removeprefix('devin-')}"
