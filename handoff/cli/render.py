"""The terminal renderer: human text on stderr, JSON on stdout, colour only on a TTY.

Stages and use cases never print; commands hand what they have (data, events) to an `Output`.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from typing import Any, TextIO

from handoff.app.findings import findings_json as findings_json  # re-exported for the commands
from handoff.app.findings import findings_lines, safe_names
from handoff.errors import UsageError, mask_secrets

_COLOURS = {"red": "31", "green": "32", "yellow": "33", "blue": "34", "magenta": "35", "cyan": "36",
            "bold": "1", "dim": "2"}


def _wants_colour(stream: TextIO) -> bool:
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return hasattr(stream, "isatty") and stream.isatty()


class StdoutClosed(UsageError):
    """stdout is closed or cannot be written (full device): the output a script asked for cannot be given."""


def write_stdout(text: str) -> None:
    """Write and flush stdout; StdoutClosed when it is closed or fails (a broken pipe stays a BrokenPipeError)."""
    if sys.stdout is None:
        raise StdoutClosed("stdout is closed: the output could not be written", "run it with stdout open")
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except (OSError, ValueError) as exc:  # ValueError: a closed file object
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise StdoutClosed(f"cannot write to stdout: {reason}", "run it with a writable stdout") from None


class Output:
    """One place for what a command shows: `say` for people (stderr), `json` for programs (stdout)."""

    def __init__(self, json_mode: bool = False, quiet: bool = False) -> None:
        self.json_mode = json_mode
        self.quiet = quiet
        self.colour = _wants_colour(sys.stderr)

    def style(self, text: str, colour: str) -> str:
        if not self.colour or colour not in _COLOURS:
            return text
        return f"\x1b[{_COLOURS[colour]}m{text}\x1b[0m"

    def say(self, text: str = "", colour: str | None = None) -> None:
        """A line for a person, on stderr; secrets masked."""
        if self.quiet:
            return
        line = mask_secrets(text)
        print(self.style(line, colour) if colour else line, file=sys.stderr, flush=True)

    def warn(self, text: str) -> None:
        self.say(f"warning: {text}", "yellow")

    def json(self, obj: Any, *, mask: bool = True) -> None:
        """One JSON document (or one JSON Lines record) on stdout; `mask=False` prints exact bytes."""
        text = json.dumps(obj, ensure_ascii=False)
        write_stdout((mask_secrets(text) if mask else text) + "\n")

    def result(self, obj: Any, human: str | None = None) -> None:
        """A command's outcome: JSON on stdout with --json, otherwise `human` on stdout."""
        if self.json_mode:
            self.json(obj)
        elif human is not None:
            sys.stdout.write(mask_secrets(human) + "\n")
            sys.stdout.flush()


def _kb(size: int) -> str:
    return f"{size / 1000:.1f} KB" if size < 1_000_000 else f"{size / 1_000_000:.1f} MB"


def repo_summary_lines(repo: Any) -> list[str]:
    """A human summary of a RepoContext: where Devin starts, what it gets, what it does not."""
    if repo is None:
        return ["repo:     (not in a git repository: the task goes without repository context)"]
    head = repo.head[:12] if repo.head else "(no commits yet)"
    lines = [
        f"repo:     {repo.slug or '(no remote)'}" + (f"  [{repo.remote_url}]" if repo.remote_url else ""),
        f"branch:   {repo.branch or '(detached HEAD)'} at {head}",
        f"base:     {repo.base[:12] if repo.base else '(unknown to the remote)'}"
        + (f", {len(repo.unpushed)} unpushed commit(s) carried in the patch" if repo.unpushed and repo.base else ""),
    ]
    included = [f for f in repo.files if f.included]
    lines.append(f"changes:  {len(repo.files)} file(s), {_kb(len(repo.patch.encode('utf-8')))} sent"
                 f" of {_kb(repo.total_diff_bytes)} (budget {_kb(repo.max_diff_bytes)})")
    shown = repo.files[:50]
    names = safe_names([c.path for c in shown] + [c.old_path for c in shown if c.old_path])
    for change in shown:
        mark = " " if change.included else "!"
        counts = "binary" if change.binary else f"+{change.added} -{change.removed}"
        extra = "" if change.included else f"  (left out: {change.omitted_reason or 'left out'})"
        name = f"{names[change.old_path]} -> {names[change.path]}" if change.old_path else names[change.path]
        lines.append(f"  {mark} {change.status:<9} {counts:<14} {name}{extra}")
    if len(repo.files) > 50:
        lines.append(f"  … and {len(repo.files) - 50} more ({len(included)} included in total)")
    lines.extend(f"note:     {warning}" for warning in repo.warnings)
    return lines


def sent_summary(prepared: Any) -> str:
    """One line on what a real create sends: repository, branch and base, files, patch size."""
    repo, request = prepared.repo, prepared.request
    size = f"prompt {_kb(request.prompt_bytes)}"
    if repo is None:
        return f"sending: the task only (no git repository), {size}"
    sent = [f for f in repo.files if f.included]
    left_out = len(repo.files) - len(sent)
    base = repo.base[:12] if repo.base else "no base on the remote"
    where = f"{repo.slug or '(no remote)'} {repo.branch or '(detached HEAD)'} at base {base}"
    files = f"{len(sent)} changed file(s)" + (f" (+{left_out} left out)" if left_out else "")
    return f"sending: {where}; {files}, patch {_kb(len(repo.patch.encode('utf-8')))}, {size}"


def show_findings(report: Any, out: Output, headline: str) -> None:
    out.say(headline, "red")
    for line in findings_lines(report):
        out.say(line)


# -- following ------------------------------------------------------------------------------------------

def render_event(event: Any, out: Output, *, interactive: bool = False) -> None:
    """One follow event (handoff/follow.py, handoff/app/sessions.py) as a line for people or a JSON record."""
    from handoff.app.sessions import Archived, Interrupted, ReplyFailed, ReplySent
    from handoff.follow import EndEvent, MessageEvent, NoticeEvent, PullRequestEvent, StatusEvent

    if isinstance(event, NoticeEvent):
        out.say(f"… {event.text}", "yellow")
    elif isinstance(event, ReplyFailed):
        out.warn(f"your reply was not sent ({event.error}); try again, or leave it empty to stop")
    elif isinstance(event, ReplySent):
        out.say("reply sent; following on…", "dim")
    elif isinstance(event, Archived):
        if event.error is not None:
            out.warn(f"could not archive {event.session_id}: {event.error}")
        else:
            out.say(f"archived {event.session_id}", "dim")
    elif isinstance(event, Interrupted):
        out.say("")
        out.say(f"stopped following; resume with: {event.resume}", "yellow")
        if out.json_mode:
            out.json(event.to_json())
    elif out.json_mode:
        data = event.to_json()
        if isinstance(event, EndEvent):
            data["next_step"] = _next_step(event)
        out.json(data)
    elif isinstance(event, MessageEvent):
        _render_message(event, out)
    elif isinstance(event, StatusEvent):
        detail = f" ({event.status_detail})" if event.status_detail else ""
        out.say(f"status: {event.status}{detail}", "dim")
    elif isinstance(event, PullRequestEvent):
        out.say(f"pull request: {event.url}", "green")
    elif isinstance(event, EndEvent):
        _render_end(event, out, interactive)


_USER_LINE_CHARS = 100


def _render_message(event: Any, out: Output) -> None:
    """Devin's messages in full; the user's own (the prompt, replies) as one dim line; any other source
    in full with its name, so nothing the API sent is hidden."""
    lines = event.text.rstrip("\n").splitlines() or [""]
    if event.source == "user":
        first = " ".join(lines[0].split())
        more = len(lines) > 1 or len(first) > _USER_LINE_CHARS
        out.say(f"You: {first[:_USER_LINE_CHARS]}{' …' if more else ''}", "dim")
        return
    label = "Devin:" if event.source == "devin" else f"[{event.source}]:"
    out.say(out.style(label, "cyan") + " " + lines[0])
    for line in lines[1:]:
        out.say("  " + line)


def _next_step(event: Any) -> str | None:
    from handoff.app.sessions import next_step

    return next_step(event.outcome, event.session_id, event.url, detail=event.status_detail,
                     api_version=event.api_version)


def _render_end(event: Any, out: Output, interactive: bool) -> None:
    from handoff.app.sessions import resume_hint

    where = f" — {event.url}" if event.url else ""
    if event.outcome == "finished":
        out.say(f"Devin finished{where}", "green")
    elif event.outcome == "waiting_for_user":
        out.say(f"Devin is waiting for you{where}", "green")
        if not interactive:
            out.say(f'reply with: devin-handoff send {event.session_id} "…"', "dim")
    elif event.outcome in ("waiting_for_approval", "asleep"):
        out.say(_next_step(event) or event.outcome, "yellow")
    elif event.outcome == "exit":
        out.say(f"the session ended{where}", "green")
    elif event.outcome == "unreachable":
        out.say(f"gave up following: {event.reason}", "red")
        out.say(f"resume with: {resume_hint(event.session_id)}", "dim")
    else:
        reason = f": {event.reason}" if event.reason else ""
        out.say(f"the session ended badly ({event.outcome}){reason}{where}", "red")
        if event.outcome == "suspended":
            out.say(_next_step(event) or "", "dim")


# -- many tasks at once -------------------------------------------------------------------------------

_OUTPUT_LOCK = threading.RLock()


class LabelledOutput(Output):
    """An Output whose lines carry a task's label (human) or its index (JSON), safe across threads."""

    def __init__(self, base: Output, label: str, index: int) -> None:
        super().__init__(base.json_mode, base.quiet)
        self.colour = base.colour
        self.label = label
        self.index = index

    def say(self, text: str = "", colour: str | None = None) -> None:
        prefixed = "\n".join(f"[{self.label}] {line}" for line in (text.splitlines() or [""]))
        with _OUTPUT_LOCK:
            super().say(prefixed, colour)

    def json(self, obj: Any, *, mask: bool = True) -> None:
        if isinstance(obj, dict):
            obj = {"task": self.index, **obj}
        with _OUTPUT_LOCK:
            super().json(obj, mask=mask)

    def result(self, obj: Any, human: str | None = None) -> None:
        if self.json_mode:
            self.json(obj)
        elif human is not None:
            with _OUTPUT_LOCK:
                super().result(obj, f"[{self.label}] {human}")
