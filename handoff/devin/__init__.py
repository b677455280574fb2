"""The Devin API client, split by job: `client.py` (httpx transport, retries), `dialect.py` (v1/v3),
`models.py` (Session, Message, PullRequest), `errors.py` (typed errors), `ids.py` (session ids).

Names are loaded on first use, so importing an error class or the models never pulls in httpx.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "DevinClient": "client", "MAX_ATTEMPTS": "client", "BACKOFF_BASE": "client", "BACKOFF_CAP": "client",
    "error_detail": "client",
    "Dialect": "dialect", "parse_session": "dialect", "parse_message": "dialect", "body_for_version": "dialect",
    "request_version": "dialect", "MESSAGE_PAGE": "dialect", "LIST_PAGE_V3": "dialect",
    "Session": "models", "Message": "models", "MessagePage": "models", "PullRequest": "models",
    "SUCCESS_OUTCOMES": "models", "FAILURE_OUTCOMES": "models", "outcome_of": "models",
    "ApiError": "errors", "AuthError": "errors", "NotFoundError": "errors", "ValidationError": "errors",
    "UnreachableError": "errors", "BadResponse": "errors", "AmbiguousCreate": "errors",
    "normalize_session_id": "ids", "web_url": "ids",
    "HANDOFF_TAG": "tags", "MAX_TAGS": "tags", "new_client_tag": "tags",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'handoff.devin' has no attribute {name!r}")
    package = "handoff" if module == "tags" else "handoff.devin"
    return getattr(importlib.import_module(f"{package}.{module}"), name)
