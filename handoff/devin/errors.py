"""Typed Devin API errors: each is a HandoffError with the exit code DESIGN.md documents.

Raised by `handoff/devin/client.py` (transport) and `handoff/devin/dialect.py` (reading answers).
No httpx here, so the follower and the faces can catch these without importing HTTP machinery.
"""

from __future__ import annotations

from handoff.errors import ApiUnreachable, ConfigError, HandoffError, UsageError


class ApiError(HandoffError):
    """The API answered with an error, or could not be used; `.status` and `.request_id` when known."""

    retry_after: float | None = None  # seconds the server asked us to wait (429/503 `Retry-After`)

    def __init__(self, message: str, hint: str | None = None, *, status: int | None = None,
                 request_id: str | None = None) -> None:
        super().__init__(message, hint)
        self.status = status
        self.request_id = request_id


class AuthError(ConfigError, ApiError):
    """401/403: the key was rejected or lacks a permission (exit 4)."""


class NotFoundError(UsageError, ApiError):
    """404: no such session (or org) for this key (exit 2)."""


class ValidationError(UsageError, ApiError):
    """400/422: the API refused the request's content (exit 2)."""


class MessageRefused(UsageError, ApiError):
    """The API answered but did not take a message (v1 `{detail}` for a session in a state that takes none) (exit 2)."""


class UnreachableError(ApiUnreachable, ApiError):
    """Connection refused or dropped, timeouts, 5xx/429 after the retries (exit 5)."""


class BadResponse(UnreachableError):
    """A success status with a body that is not the expected JSON (HTML page, broken JSON, missing fields)."""


class AmbiguousCreate(UnreachableError):
    """The create may have reached Devin and the lookup by client tag failed too: keep the handoff for `retry`."""


class MaybeReceived(UnreachableError):
    """Internal to the client: a non-idempotent call failed after its request may have been processed."""


class MaybeInFlight(MaybeReceived):
    """Internal to the client: a create timed out; the server may still be working on it, so a lookup cannot
    prove it failed, and sending it again could make a second session."""
