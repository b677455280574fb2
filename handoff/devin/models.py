"""The one internal model the Devin client speaks, whatever the API version: Session, Message, PullRequest.

`handoff/devin/dialect.py` turns v1 and v3 answers into these; everything above the client
(follower, use cases, faces) reads only these.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

SUCCESS_OUTCOMES = frozenset({"finished", "waiting_for_user", "waiting_for_approval", "asleep", "exit"})
FAILURE_OUTCOMES = frozenset({"error", "suspended", "expired"})

# v3 `status_detail` under `suspended` that are not failures: Devin went to sleep after finishing or
# waiting (inactivity), or someone paused it (user_request); a message wakes it. The other documented
# details (usage_limit_exceeded, out_of_credits, out_of_quota, no_quota_allocation, payment_declined,
# org_usage_limit_exceeded, total_session_limit_exceeded, error) are failures the user must act on.
# Source: docs.devin.ai/sdk/api/DevinApi/SessionResponse/variables/StatusDetail.md and
# docs.devin.ai/api-reference/v3/sessions/get-organizations-session (shared/devin-api.md §4.2).
RESTING_SUSPEND_DETAILS = frozenset({"inactivity", "user_request"})
# v1 `status_enum` values of a session going to sleep (docs.devin.ai/api-reference/v1/sessions/
# retrieve-details-about-an-existing-session); v1 gives no reason, and a sleeping session is not a failure.
V1_SUSPEND_ENUMS = frozenset({"suspend_requested", "suspend_requested_frontend"})
# v1 `stopped` is seen in the wild but not in the documented enum: the session ended.
ENDED = frozenset({"exit", "stopped"})


def outcome_of(status: str | None, detail: str | None) -> str | None:
    """None while Devin is working; else one of SUCCESS_OUTCOMES or FAILURE_OUTCOMES.

    Reads both v3 (`status` + `status_detail`) and v1 (`status_enum`, kept as the detail) spellings.
    `asleep` is a suspended session that did not fail (inactivity, user request, v1 suspend); a
    suspended session with any other detail, or none, is `suspended` (a failure): where the docs
    are silent (an undocumented detail) the reading that makes the user look is the safe one."""
    status = (status or "").lower()
    detail = (detail or "").lower()
    if status == "error":
        return "error"
    if detail in V1_SUSPEND_ENUMS:
        return "asleep"
    if status == "suspended":
        return "asleep" if detail in RESTING_SUSPEND_DETAILS else "suspended"
    if status == "expired" or detail == "expired":
        return "expired"
    if status in ENDED or detail in ENDED:
        return "exit"
    if detail == "finished" or status == "finished":
        return "finished"
    if detail in ("waiting_for_user", "blocked") or status == "blocked":
        return "waiting_for_user"
    if detail == "waiting_for_approval":
        return "waiting_for_approval"
    return None


def epoch_seconds(value: Any) -> float | None:
    """A time as epoch seconds, from the API's int (v3) or ISO-8601 string (v1), or the journal's float."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            return float(text)
        except ValueError:
            pass
        try:
            when = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).timestamp()
    return None


@dataclass(frozen=True)
class PullRequest:
    url: str
    state: str | None


@dataclass(frozen=True)
class Message:
    event_id: str
    source: str  # 'devin' | 'user' | what the API said | 'unknown' (no source): shown, labelled
    text: str
    created_at: str | int | None

    @property
    def from_user(self) -> bool:
        """The user's own message (the prompt, a reply); anything else is Devin's side, shown in full."""
        return self.source == "user"


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
