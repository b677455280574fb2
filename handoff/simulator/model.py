"""The simulator's model: how sessions are scripted, their state, and how each API version shows it."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from typing import Any

DEFAULT_ORG = "org-sim"


DEFAULT_REPO = "acme/widgets"


WEB_URL = "https://app.devin.ai/sessions/"


DEFAULT_MESSAGES = ("Looking at the repository.", "Applied the patch and ran the tests.", "Opened a pull request.")


FOLLOW_UP_MESSAGE = "Got your message; carrying on."


END_STATES = ("finished", "waiting_for_user", "waiting_for_approval", "error", "suspended", "exit", "expired",
              "stopped")


# the documented v3 `status_detail` values of a suspended session (shared/devin-api.md §4.2)
SUSPEND_REASONS = ("inactivity", "user_request", "usage_limit_exceeded", "out_of_credits", "out_of_quota",
                   "no_quota_allocation", "payment_declined", "org_usage_limit_exceeded",
                   "total_session_limit_exceeded", "error")


# internal state -> (v3 status, v3 status_detail); `suspended` takes its detail from the session
_V3_VIEW: dict[str, tuple[str, str | None]] = {
    "new": ("new", None),
    "creating": ("creating", None),  # not in the documented enum; one third-party note saw it (§9.7)
    "working": ("running", "working"),
    "waiting_for_user": ("running", "waiting_for_user"),
    "waiting_for_approval": ("running", "waiting_for_approval"),
    "stopped": ("exit", None),
    "finished": ("running", "finished"),
    "resuming": ("resuming", None),
    "suspended": ("suspended", "inactivity"),
    "expired": ("suspended", "inactivity"),  # v3 has no "expired": a timed-out session sleeps
    "error": ("error", None),
    "exit": ("exit", None),
}


# internal state -> (v1 status, v1 status_enum)
_V1_VIEW: dict[str, tuple[str, str | None]] = {
    "new": ("running", "working"),
    "creating": ("running", "working"),
    "working": ("running", "working"),
    "waiting_for_user": ("running", "blocked"),
    "waiting_for_approval": ("running", "working"),  # v1 has no approval state in its enum
    "stopped": ("stopped", "stopped"),  # seen from v1 servers, not in the documented enum
    "finished": ("running", "finished"),
    "resuming": ("running", "resume_requested"),
    "suspended": ("suspended", "suspend_requested"),
    "expired": ("expired", "expired"),
    "error": ("error", None),
    "exit": ("exit", None),
}


_IN_PROGRESS = frozenset({"new", "creating", "working", "resuming", "waiting_for_approval"})


_RESUMABLE = frozenset({"waiting_for_user", "finished", "suspended", "expired"})  # a reply wakes these


_CLOSED = frozenset({"error", "exit", "stopped"})


Action = tuple[str, str | None]  # ("state", name) | ("message", text) | ("pr", None)


@dataclass(frozen=True)
class Script:
    """How a session behaves; see `Simulator.script`."""

    end: str = "finished"
    steps: int = 4
    messages: tuple[str, ...] = DEFAULT_MESSAGES
    pr: bool = True
    question: str | None = None
    suspend_reason: str = "inactivity"
    first_state: str = "new"   # "creating": v3 shows the undocumented `creating` status first


def _work_plan(messages: tuple[str, ...], end: str, steps: int, pr: bool) -> list[list[Action]]:
    """Working steps, one Devin message each, the PR on the last working step, then the end state."""
    working = max(steps, len(messages) + 1) - 1
    plan: list[list[Action]] = [[("state", "working")] for _ in range(working)]
    for index, text in enumerate(messages):
        plan[index].append(("message", text))
    last: list[Action] = []
    if pr:
        (plan[-1] if plan else last).append(("pr", None))
    plan.append([*last, ("state", end)])
    return plan


def _first_plan(script: Script) -> list[list[Action]]:
    """With a question: the first message, then the question; the rest waits for the user's reply."""
    if script.question is None:
        return _work_plan(script.messages, script.end, script.steps, script.pr)
    plan: list[list[Action]] = [[("state", "working"), ("message", text)] for text in script.messages[:1]]
    plan.append([("state", "waiting_for_user"), ("message", script.question)])
    return plan


@dataclass
class _Session:
    session_id: str
    seq: int
    org_id: str
    body: dict[str, Any]
    prompt: str
    title: str
    tags: list[str]
    repo: str
    script: Script
    created: float  # monotonic
    updated: float
    state: str = "new"
    suspend_reason: str = "inactivity"
    messages: list[dict[str, Any]] = field(default_factory=list)
    pull_requests: list[dict[str, Any]] = field(default_factory=list)
    pending: list[tuple[float, Action]] = field(default_factory=list)  # sorted by time
    awaiting_reply: bool = False  # the question's second half runs after the next user message
    archived: bool = False


def _encode_cursor(kind: str, value: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{value}".encode()).decode().rstrip("=")


def _decode_cursor(kind: str, cursor: str) -> int | None:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, value = text.partition(":")
        return int(value) if prefix == kind else None
    except (ValueError, UnicodeDecodeError):
        return None


def _web_url(session_id: str) -> str:
    return WEB_URL + session_id.removeprefix("devin-")


def _repo_of(body: dict[str, Any], prompt: str) -> str:
    """The PR's repo: v3 `repos[0]`, else a `Repo: owner/name` line or a `"repository": "owner/name"` fact
    in the prompt, else acme/widgets."""
    repos = body.get("repos")
    if isinstance(repos, list) and repos and isinstance(repos[0], str) and "/" in repos[0]:
        return repos[0]
    match = (re.search(r"Repo:\s*`?([\w.-]+/[\w.-]+)", prompt)
             or re.search(r'"repository":\s*"([\w.-]+/[\w.-]+)"', prompt))
    return match.group(1) if match else DEFAULT_REPO


@dataclass
class _Request:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    body_invalid: bool
    key: str | None
    api: str | None  # 'v1' | 'v3' | None (neither prefix)
    call: str  # one of CALLS minus 'any', or 'other'
    params: dict[str, str | None]
    allowed: bool  # method allowed on this path
    files: dict[str, tuple[str, bytes]] | None = None  # multipart uploads: field -> (file name, content)


@dataclass
class _Reply:
    status: int
    body: Any = None
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
