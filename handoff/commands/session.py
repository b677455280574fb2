"""Commands on an existing session: `tail` (alias `poll`), `status`, `send`, `list`, `archive`.

`follow_session` is also what `create` calls after it has created a session.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

import click

from handoff import journal
from handoff.commands import api_options, json_option
from handoff.config import Settings, load_settings
from handoff.errors import EXIT_INTERRUPTED, HandoffError, UsageError
from handoff.follow import EndEvent, Follower, MessageEvent, NoticeEvent, PullRequestEvent, StatusEvent, snapshot
from handoff.render import Output

# While following, the follower is its own retry loop (with a notice and a cursor), so the client
# does not retry behind its back; one-shot calls (and send/archive around a follow) retry briefly.
FOLLOW_RETRY_BUDGET = 0.0
ONE_SHOT_RETRY_BUDGET = 5.0
MAX_MESSAGE_BYTES = 100_000


def _settings(api_url: str | None, org_id: str | None, user_id: str | None) -> Settings:
    settings = load_settings(api_url=api_url, org_id=org_id, user_id=user_id)
    settings.require_key()
    return settings


def _client(settings: Settings, retry_budget: float = ONE_SHOT_RETRY_BUDGET) -> Any:
    from handoff.api import DevinClient

    return DevinClient(settings, retry_budget=retry_budget)


def _session_id(text: str) -> str:
    from handoff.api import normalize_session_id

    return normalize_session_id(text)


def resume_hint(session_id: str) -> str:
    return f"devin-handoff tail {session_id}"


# -- following ---------------------------------------------------------------------------------------

def _render(event: Any, out: Output, *, interactive: bool = False) -> None:
    if isinstance(event, NoticeEvent):
        out.say(f"… {event.text}", "yellow")
        return
    if out.json_mode:
        out.json(event.to_json())
        return
    if isinstance(event, MessageEvent):
        lines = event.text.rstrip("\n").splitlines() or [""]
        out.say(out.style("Devin:", "cyan") + " " + lines[0])
        for line in lines[1:]:
            out.say("  " + line)
    elif isinstance(event, StatusEvent):
        detail = f" ({event.status_detail})" if event.status_detail else ""
        out.say(f"status: {event.status}{detail}", "dim")
    elif isinstance(event, PullRequestEvent):
        out.say(f"pull request: {event.url}", "green")
    elif isinstance(event, EndEvent):
        _render_end(event, out, interactive)


def _render_end(event: EndEvent, out: Output, interactive: bool) -> None:
    where = f" — {event.url}" if event.url else ""
    if event.outcome == "finished":
        out.say(f"Devin finished{where}", "green")
    elif event.outcome == "waiting_for_user":
        out.say(f"Devin is waiting for you{where}", "green")
        if not interactive:
            out.say(f'reply with: devin-handoff send {event.session_id} "…"', "dim")
    elif event.outcome == "exit":
        out.say(f"the session ended{where}", "green")
    elif event.outcome == "unreachable":
        out.say(f"gave up following: {event.reason}", "red")
        out.say(f"resume with: {resume_hint(event.session_id)}", "dim")
    else:
        reason = f": {event.reason}" if event.reason else ""
        out.say(f"the session ended badly ({event.outcome}){reason}{where}", "red")


def _ask_reply(out: Output) -> str:
    """A reply typed at the terminal; an empty line (or end of input) means no reply."""
    sys.stderr.write(out.style("reply to Devin (empty line to stop): ", "bold"))
    sys.stderr.flush()
    line = sys.stdin.readline()
    return line.strip()


def _send_reply(client: Any, session_id: str, out: Output) -> bool:
    """Ask for a reply and send it; False when the user gives none. A failed send asks again."""
    from handoff.api import ApiError, AuthError

    while True:
        reply = _ask_reply(out)
        if not reply:
            return False
        try:
            client.send(session_id, reply)
        except AuthError:
            raise
        except ApiError as exc:
            out.warn(f"your reply was not sent ({exc}); try again, or leave it empty to stop")
            continue
        out.say("reply sent; following on…", "dim")
        return True


def _archive(client: Any, session_id: str, out: Output) -> None:
    try:
        client.archive(session_id)
    except HandoffError as exc:
        out.warn(f"could not archive {session_id}: {exc}")
        return
    out.say(f"archived {session_id}", "dim")


def follow_session(client: Any, session_id: str, out: Output, *, interval: float = 10.0, archive: bool = False,
                   interactive: bool | None = None, cursor: str | None = None) -> int:
    """Follow a session until Devin stops; render its events; return the exit code.

    With `interactive` (default: stdin is a TTY and not --json), a session waiting for the user
    gets a reply prompt; the reply is sent and following goes on."""
    if interactive is None:
        interactive = not out.json_mode and sys.stdin is not None and sys.stdin.isatty()
    follower = Follower(client, session_id, interval=interval, cursor=cursor)
    return _follow(follower, client, session_id, out, archive=archive, interactive=interactive)


@contextlib.contextmanager
def _follow_retry_budget(client: Any) -> Iterator[None]:
    """While polling, the follower retries (with a notice); the client's own retries would hide that."""
    saved = getattr(client, "retry_budget", None)
    if saved is None:
        yield
        return
    client.retry_budget = min(saved, FOLLOW_RETRY_BUDGET)
    try:
        yield
    finally:
        client.retry_budget = saved


def _events(follower: Follower) -> Iterator[Any]:
    iterator = follower.events()
    while True:
        with _follow_retry_budget(follower.client):
            event = next(iterator, None)
        if event is None:
            return
        yield event


def _follow(follower: Follower, client: Any, session_id: str, out: Output, *, archive: bool,
            interactive: bool) -> int:
    try:
        while True:
            end: EndEvent | None = None
            for event in _events(follower):
                _render(event, out, interactive=interactive)
                if isinstance(event, EndEvent):
                    end = event
            assert end is not None  # the follower always ends with an EndEvent or raises
            if interactive and end.outcome == "waiting_for_user" and _send_reply(client, session_id, out):
                follower.replied()
                continue
            break
    except KeyboardInterrupt:
        out.say("")
        out.say(f"stopped following; resume with: {resume_hint(session_id)}", "yellow")
        if out.json_mode:
            out.json({"event": "end", "session_id": session_id, "outcome": "interrupted",
                      "exit_code": EXIT_INTERRUPTED, "reason": "interrupted", "resume": resume_hint(session_id)})
        return EXIT_INTERRUPTED
    if archive and end.outcome != "unreachable":
        _archive(client, session_id, out)
    return end.exit_code


@click.command()
@click.argument("session_ref", metavar="ID")
@click.option("--interval", type=click.FloatRange(min=1), default=10.0, show_default=True,
              help="Longest wait between polls (shorter right after activity).")
@click.option("--archive", is_flag=True, help="Archive the session when Devin stops (v3).")
@click.option("--all", "show_all", is_flag=True,
              help="Print every message, not only those after the last one shown before.")
@api_options
@json_option
def tail(session_ref: str, interval: float, archive: bool, show_all: bool, api_url: str | None, org_id: str | None,
         user_id: str | None, json_mode: bool) -> int:
    """Follow a session: each Devin message once, status changes, PR links, until Devin stops.

    ID is `devin-…`, the bare id or the session URL. Exit 0 when Devin finished or waits for
    you, 1 when the session ended badly (error, suspended, expired), 130 on Ctrl-C.
    """
    out = Output(json_mode)
    session_id = _session_id(session_ref)
    settings = _settings(api_url, org_id, user_id)
    entry = journal.get_session(session_id)
    cursor = None if show_all or entry is None else entry.cursor
    if cursor:
        out.say("(resuming after the last message shown before; --all prints them all)", "dim")
    with _client(settings) as client:
        return follow_session(client, session_id, out, interval=interval, archive=archive, cursor=cursor)


# -- one-shot commands -------------------------------------------------------------------------------

def _status_text(look: Any) -> str:
    session = look.session
    detail = f" ({session.status_detail})" if session.status_detail else ""
    lines = [f"{session.session_id}  {session.status}{detail}"]
    if session.outcome:
        lines.append(f"outcome: {session.outcome}")
    if session.title:
        lines.append(f"title:   {session.title}")
    lines.append(f"url:     {session.url}")
    lines.extend(f"pr:      {pr.url}" for pr in session.pull_requests)
    if look.last_devin_message:
        text = look.last_devin_message.rstrip().splitlines() or [""]
        lines.append(f"last:    {text[0]}")
        lines.extend(f"         {line}" for line in text[1:])
    return "\n".join(lines)


@click.command()
@click.argument("session_ref", metavar="ID")
@api_options
@json_option
def status(session_ref: str, api_url: str | None, org_id: str | None, user_id: str | None, json_mode: bool) -> int:
    """One look at a session: status, detail, PR, last Devin message, URL."""
    out = Output(json_mode)
    session_id = _session_id(session_ref)
    with _client(_settings(api_url, org_id, user_id)) as client:
        look = snapshot(client, session_id)
    out.result(look.to_json(), _status_text(look))
    return 0


def _read_message(message: str) -> str:
    if message == "-":
        if sys.stdin is None or sys.stdin.isatty():
            raise UsageError("MESSAGE - reads standard input, but it is a terminal", "pipe the message in")
        message = sys.stdin.read(MAX_MESSAGE_BYTES + 1)
        if len(message) > MAX_MESSAGE_BYTES:
            raise UsageError(f"the message is longer than {MAX_MESSAGE_BYTES} characters", "shorten it")
    if not message.strip():
        raise UsageError("the message is empty", "say what Devin should do next")
    return message.strip()


@click.command()
@click.argument("session_ref", metavar="ID")
@click.argument("message", metavar="MESSAGE")
@click.option("--follow", "then_follow", is_flag=True, help="Follow the session after sending.")
@click.option("--interval", type=click.FloatRange(min=1), default=10.0, show_default=True,
              help="With --follow: longest wait between polls.")
@api_options
@json_option
def send(session_ref: str, message: str, then_follow: bool, interval: float, api_url: str | None,
         org_id: str | None, user_id: str | None, json_mode: bool) -> int:
    """Reply to a session (a suspended one resumes). MESSAGE `-` reads standard input."""
    out = Output(json_mode)
    session_id = _session_id(session_ref)
    text = _read_message(message)
    settings = _settings(api_url, org_id, user_id)
    with _client(settings) as client:
        follower = Follower(client, session_id, interval=interval) if then_follow else None
        if follower is not None:
            follower.prime()  # what Devin said before this reply is not news (and a wrong id fails here)
        client.send(session_id, text)
        out.say(f"sent to {session_id}", "green")
        if follower is None:
            out.result({"sent": True, "session_id": session_id}, None)
            out.say(f"follow it with: {resume_hint(session_id)}", "dim")
            return 0
        if json_mode:
            out.json({"event": "sent", "session_id": session_id})
        follower.replied()
        return _follow(follower, client, session_id, out, archive=False, interactive=False)


def _row(session_id: str, entry: journal.JournalEntry | None, live: Any) -> dict[str, Any]:
    """One `list` row: live facts from the API when it answered, journal facts otherwise."""
    if live is not None:
        status, detail, outcome = live.status, live.status_detail, live.outcome
        prs = [pr.url for pr in live.pull_requests]
        title, url = live.title or (entry.title if entry else None), live.url
    else:
        assert entry is not None
        status, detail, outcome = entry.status, entry.status_detail, entry.outcome
        prs, title, url = list(entry.pr_urls), entry.title, entry.url
    return {
        "session_id": session_id, "status": status, "status_detail": detail, "outcome": outcome,
        "title": title, "url": url, "pull_requests": prs,
        "source": "journal+api" if entry and live else ("journal" if entry else "api"),
        "live": live is not None,
        "repo": entry.repo_slug if entry else None, "branch": entry.branch if entry else None,
        "created_at": entry.created_at if entry else (live.created_at if live else None),
    }


def _list_text(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no handoff sessions yet"
    lines = []
    for row in rows:
        state = row["status"] or "?"
        if row["status_detail"]:
            state += f"/{row['status_detail']}"
        if not row["live"]:
            state += " (saved)"
        title = (row["title"] or "")[:60]
        lines.append(f"{row['session_id']:<40} {state:<28} {title}")
        for pr in row["pull_requests"]:
            lines.append(f"{'':<40} pr: {pr}")
    return "\n".join(lines)


def _live_sessions(api_url: str | None, org_id: str | None,
                   user_id: str | None) -> tuple[dict[str, Any] | None, str | None]:
    """(handoff sessions the API knows, by id) or (None, why not)."""
    from handoff.api import HANDOFF_TAG, AuthError

    settings = load_settings(api_url=api_url, org_id=org_id, user_id=user_id)
    try:
        settings.require_key()
        with _client(settings) as client:
            found = client.list_sessions(tag=HANDOFF_TAG)
    except AuthError:
        raise
    except HandoffError as exc:
        return None, str(exc)
    return {s.session_id: s for s in found}, None


@click.command("list")
@api_options
@json_option
def list_sessions(api_url: str | None, org_id: str | None, user_id: str | None, json_mode: bool) -> int:
    """Handoff sessions: the local journal joined with the API (live status when it answers)."""
    from handoff.api import AuthError

    out = Output(json_mode)
    entries = journal.load_sessions()
    auth_error: AuthError | None = None
    try:
        live, problem = _live_sessions(api_url, org_id, user_id)
    except AuthError as exc:
        live, problem, auth_error = None, str(exc), exc
    if problem and auth_error is None:  # an auth error gets its own line at the end
        out.warn(f"showing the local journal only: {problem}")
    live = live or {}
    rows = [_row(entry.session_id, entry, live.get(entry.session_id)) for entry in entries]
    known = {entry.session_id for entry in entries}
    rows.extend(_row(sid, None, session) for sid, session in live.items() if sid not in known)
    for entry in entries:
        session = live.get(entry.session_id)
        if session is not None:
            journal.update_session(entry.session_id, status=session.status, status_detail=session.status_detail,
                                   outcome=session.outcome, pr_urls=tuple(pr.url for pr in session.pull_requests))
    out.result({"sessions": rows, "warning": problem}, _list_text(rows))
    if auth_error is not None:
        raise auth_error
    return 0


@click.command()
@click.argument("session_ref", metavar="ID")
@api_options
@json_option
def archive(session_ref: str, api_url: str | None, org_id: str | None, user_id: str | None, json_mode: bool) -> int:
    """Archive a session (v3 `cog_` keys): it stays viewable but can no longer be continued."""
    out = Output(json_mode)
    session_id = _session_id(session_ref)
    with _client(_settings(api_url, org_id, user_id)) as client:  # v1 keys: the client says archive needs v3
        session = client.archive(session_id)
    out.say(f"archived {session_id}", "green")
    out.result(session.to_json() if session is not None else {"session_id": session_id, "archived": True}, None)
    return 0
