"""Claude Code and Codex hooks: PreToolUse (deny a handoff command that would send a secret) and
SessionStart (version, whether a key is set, news of this repo's handoff sessions from the journal).

No network at all, and never a broken agent session: odd input or a failure of ours ends with no
output, which leaves the decision to the agent's own permission rules (handoff/cli/commands/hook.py
catches the rest). A deny tells the model to stop and tell the user; how to clear a finding goes to
the person only (stderr).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

from handoff.agent_hooks.gate_check import check_command
from handoff.agent_hooks.payload import HookAnswer, command_text, dumps, payload_cwd
from handoff.errors import mask_key, mask_secrets

MAX_NEWS_SESSIONS = 6            # session-start shows at most this many sessions (~10 lines in all)
NEWS_MAX_AGE_SECONDS = 14 * 86400
QUESTION_CHARS = 300


def pre_tool_use(payload: Mapping[str, Any]) -> HookAnswer:
    """Claude Code / Codex PreToolUse: deny a handoff command whose content would be blocked; else no output
    (never `allow`: that would skip the user's own approval rules)."""
    tool_input = payload.get("tool_input")
    if not isinstance(tool_input, dict):
        return HookAnswer()
    command = command_text(tool_input.get("command"))
    if not command:
        return HookAnswer()
    verdict = check_command(command, payload_cwd(payload))
    if verdict is None:
        return HookAnswer()
    reply = {"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "deny",
                                    "permissionDecisionReason": verdict.agent_reason()}}
    return HookAnswer(stdout=dumps(reply), stderr=verdict.user_reason())


def session_start(payload: Mapping[str, Any], environ: Mapping[str, str] | None = None,
                  now: float | None = None) -> str:
    """SessionStart context: version, whether a key is set (never its value), this repo's session news."""
    from handoff import __version__

    env = os.environ if environ is None else environ
    key = env.get("DEVIN_API_KEY", "")
    key_line = (f"DEVIN_API_KEY is set ({mask_key(key)} key)" if key
                else "DEVIN_API_KEY is not set (`devin-handoff doctor` explains the setup)")
    lines = [f"devin-handoff {__version__} is available; {key_line}."]
    from handoff import repo

    root = repo.git_toplevel(payload_cwd(payload))
    if root:
        lines.extend(session_news(root, now=time.time() if now is None else now))
    context = mask_secrets("\n".join(lines))
    return dumps({"hookSpecificOutput": {"hookEventName": "SessionStart", "additionalContext": context}})


def _same_path(a: str | None, b: str) -> bool:
    return bool(a) and os.path.realpath(a) == os.path.realpath(b)  # type: ignore[arg-type]


_SUCCESS = {"finished", "exit"}
_NEEDS_USER = {"waiting_for_user", "waiting_for_approval"}
_FAILED = {"error", "suspended", "expired"}


def _cut(text: str, limit: int = QUESTION_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def _news_line(entry: Any) -> str:
    from handoff.app.sessions import entry_outcome, next_step

    outcome = entry_outcome(entry)
    name = f"{entry.session_id}" + (f" \"{_cut(entry.title, 60)}\"" if entry.title else "")
    if outcome in _SUCCESS:
        state = "finished"
    elif outcome == "waiting_for_user":
        state = "waiting for you"
    elif outcome in ("waiting_for_approval", "asleep"):
        state = next_step(outcome, entry.session_id, entry.url, detail=entry.status_detail,
                          api_version=entry.api_version) or outcome
    elif outcome in _FAILED:
        state = f"failed ({outcome})"
    else:
        state = f"in progress (last seen: {entry.status_detail or entry.status or 'created'})"
    line = f"- {name}: {state}"
    if entry.pr_urls:
        line += f"; PR {', '.join(entry.pr_urls[:2])}"
    line += f"; {entry.url}"
    if outcome == "waiting_for_user" and entry.last_devin_message:
        line += f"\n  Devin's last message: \"{_cut(entry.last_devin_message)}\"" \
                f" (reply with `devin-handoff send {entry.session_id} \"…\"`)"
    return line


def session_news(repo_root: str, now: float) -> list[str]:
    """Journalled sessions of this repo touched in the last two weeks: waiting ones first, then newest."""
    from handoff import journal
    from handoff.app.sessions import entry_outcome

    entries = [e for e in journal.load_sessions() if _same_path(e.repo_root, repo_root)
               and now - max(e.updated_at or 0, e.created_at or 0) < NEWS_MAX_AGE_SECONDS]
    if not entries:
        return []
    # What needs the user first (Devin waiting for an answer), then the most recently touched.
    entries.sort(key=lambda e: (entry_outcome(e) not in _NEEDS_USER, -max(e.updated_at or 0, e.created_at or 0)))
    lines = [f"Devin sessions handed off from this repo (local journal, status as last seen; "
             f"`devin-handoff status ID` refreshes): {len(entries)}"]
    lines.extend(_news_line(entry) for entry in entries[:MAX_NEWS_SESSIONS])
    if len(entries) > MAX_NEWS_SESSIONS:
        lines.append(f"- … and {len(entries) - MAX_NEWS_SESSIONS} more (`devin-handoff list`)")
    return lines
