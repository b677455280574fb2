"""The one internal model the Devin client speaks, whatever the API version: Session, Message, PullRequest.

`handoff/devin/dialect.py` turns v1 and v3 answers into these; everything above the client
(follower, use cases, faces) reads only these.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SUCCESS_OUTCOMES = frozenset({"finished", "waiting_for_user", "exit"})
FAILURE_OUTCOMES = frozenset({"error", "suspended", "expired"})


def outcome_of(status: str | None, detail: str | None) -> str | None:
    """None while Devin is working; else finished/waiting_for_user/exit (success) or error/suspended/expired.

    Reads both v3 (`status` + `status_detail`) and v1 (`status_enum`, kept as the detail) spellings."""
    status = (status or "").lower()
    detail = (detail or "").lower()
    if status in ("error", "suspended"):
        return status
    if status == "expired" or detail == "expired":
        return "expired"
    if status == "exit":
        return "exit"
    if detail == "finished" or status == "finished":
        return "finished"
    if detail in ("waiting_for_user", "blocked") or status == "blocked":
        return "waiting_for_user"
    return None


@dataclass(frozen=True)
class PullRequest:
    url: str
    state: str | None


@dataclass(frozen=True)
class Message:
    event_id: str
    source: str  # 'devin' | 'user'
    text: str
    created_at: str | int | None


@dataclass(frozen=True)
class MessagePage:
    items: tuple[Message, ...]
    cursor: str | None  # pass back as `after`


@dataclass(frozen=True)
class Session:
    session_id: str
    url: str
    status: str
    status_detail: str | None
    title: str | None
    tags: tuple[str, ...]
    pull_requests: tuple[PullRequest, ...]
    created_at: str | int | None
    updated_at: str | int | None
    is_new_session: bool | None = None
    # The messages when the API sends them with the session (one request per look); None when they
    # must be fetched separately with `messages()`.
    messages: tuple[Message, ...] | None = None

    @property
    def outcome(self) -> str | None:
        """None while Devin is working; else finished/waiting_for_user/exit (success) or error/suspended/expired."""
        return outcome_of(self.status, self.status_detail)

    @property
    def succeeded(self) -> bool:
        return self.outcome in SUCCESS_OUTCOMES

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "session_id": self.session_id, "url": self.url, "status": self.status,
            "status_detail": self.status_detail, "outcome": self.outcome, "title": self.title,
            "tags": list(self.tags),
            "pull_requests": [{"url": pr.url, "state": pr.state} for pr in self.pull_requests],
            "created_at": self.created_at, "updated_at": self.updated_at,
        }
        if self.is_new_session is not None:
            data["is_new_session"] = self.is_new_session
        return data


@dataclass(frozen=True)
class Attachment:
    """An uploaded file: its URL is what a session is given (v3 `attachment_urls`, `ATTACHMENT:"<url>"` lines)."""

    url: str
    attachment_id: str | None = None   # v3 only
    name: str | None = None
