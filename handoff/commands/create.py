"""`create`, `scan` and `retry`: prepare a handoff, gate it, post it (or save it for later)."""

from __future__ import annotations

import sys
from typing import Any

import click

from handoff.commands import api_options, json_option
from handoff.config import Settings, load_settings
from handoff.errors import SecretsBlocked, UsageError
from handoff.pipeline import HandoffOptions, PreparedHandoff, prepare
from handoff.render import Output, findings_json, findings_lines, repo_summary_lines
from handoff.repo import DEFAULT_MAX_DIFF_BYTES

MAX_CONTEXT_BYTES = 1_000_000


def _read_context(context: str | None, context_file: str | None) -> str | None:
    """`--context TEXT`, `--context -` (stdin) or `--context-file PATH` (relative to where the user stood)."""
    if context is not None and context_file is not None:
        raise UsageError("--context and --context-file both given", "pass one of them")
    if context == "-":
        if sys.stdin is None or sys.stdin.isatty():
            raise UsageError("--context - reads standard input, but it is a terminal", "pipe the context in")
        return sys.stdin.read(MAX_CONTEXT_BYTES)
    if context_file is not None:
        from handoff.repo import user_path

        path = user_path(context_file)
        try:
            return path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise UsageError(f"cannot read --context-file {context_file}: {exc.strerror}",
                             "check the path") from None
    return context


def content_options(func: Any) -> Any:
    """What goes into a handoff; shared by `create` and `scan` so both see the same bytes."""
    for decorator in reversed([
        click.option("--task", "-t", "task", default=None, help="What Devin should do."),
        click.option("--context", "-c", "context", default=None, metavar="TEXT|-",
                     help="What you learned so far (`-` reads stdin)."),
        click.option("--context-file", "context_file", default=None, metavar="PATH",
                     help="Read the context from a file."),
        click.option("--tag", "tags", multiple=True, metavar="TAG", help="Extra session tag (repeatable)."),
        click.option("--redact", is_flag=True,
                     help="Replace found secrets with [REDACTED <type>] and go on, instead of blocking."),
        click.option("--no-untracked", "no_untracked", is_flag=True, help="Leave untracked files out."),
        click.option("--max-diff-bytes", "max_diff_bytes", type=click.IntRange(min=0),
                     default=DEFAULT_MAX_DIFF_BYTES, show_default=True,
                     help="Size budget for the patch; files that do not fit are listed as left out."),
    ]):
        func = decorator(func)
    return func


def _options(settings: Settings, *, tags: tuple[str, ...], redact: bool, no_untracked: bool,
             max_diff_bytes: int, version: str) -> HandoffOptions:
    return HandoffOptions(include_untracked=not no_untracked, max_diff_bytes=max_diff_bytes, redact=redact,
                          tags=tuple(tags), api_version=version, user_id=settings.user_id)


def _api_version(settings: Settings) -> str:
    # Without a key (a dry run or a scan), show the body of the current API.
    return settings.api_version if settings.api_key else "v3"


def _enforce_gate(prepared: PreparedHandoff, out: Output) -> None:
    report = prepared.gate.report
    if report.redacted and report.findings:
        out.warn(f"{len(report.findings)} secret(s) redacted from what is sent:")
        for line in findings_lines(report):
            out.say(line)
    if not report.blocked:
        return
    out.say(f"Secrets found in what would be sent ({len(report.findings)}):", "red")
    for line in findings_lines(report):
        out.say(line)
    if out.json_mode:
        out.json(findings_json(report))
    raise SecretsBlocked(
        "blocked by the secret gate; nothing was sent",
        "remove the values, mark false positives with `pragma: allowlist secret` or .secrets.baseline, "
        "or pass --redact",
    )


def _show_dry_run(prepared: PreparedHandoff, out: Output) -> None:
    if out.json_mode:
        out.json(prepared.request.body, mask=False)
        return
    show_summary(prepared, out)
    out.say("dry run: nothing was sent (add --json to print the exact request body)", "dim")


def show_summary(prepared: PreparedHandoff, out: Output) -> None:
    """What a handoff carries, for a person: repo, base, files, size, title, tags, secrets."""
    for line in repo_summary_lines(prepared.repo):
        out.say(line)
    request = prepared.request
    out.say(f"title:    {request.title}")
    out.say(f"tags:     {', '.join(request.body['tags'])}")
    out.say(f"prompt:   {request.prompt_bytes} bytes ({request.api_version} body)")
    report = prepared.gate.report
    out.say(f"secrets:  none found in {report.scanned_bytes} bytes" if not report.findings
            else f"secrets:  {len(report.findings)} redacted")


@click.command()
@content_options
@click.option("--dry-run", is_flag=True, help="Show what would be sent; no key and no network needed.")
@click.option("--detach", is_flag=True, help="Print the session and return without following it.")
@click.option("--push", is_flag=True, help="Push the current branch first, so Devin can start from it.")
@click.option("--interval", type=click.FloatRange(min=1), default=10.0, show_default=True,
              help="Longest wait between polls while following.")
@click.option("--archive", is_flag=True, help="Archive the session when Devin stops (v3).")
@click.option("--each", "each", default=None, metavar="FILE|-",
              help="Fan out: one session per task in FILE (one per line, or JSON Lines {task, context, tags}).")
@api_options
@json_option
def create(task: str | None, context: str | None, context_file: str | None, tags: tuple[str, ...], redact: bool,
           no_untracked: bool, max_diff_bytes: int, dry_run: bool, detach: bool, push: bool, interval: float,
           archive: bool, each: str | None, api_url: str | None, org_id: str | None, user_id: str | None,
           json_mode: bool) -> int:
    """Hand a task and this checkout's state to a new Devin session, then follow it.

    Inspects the repo (branch, base commit on the remote, unpushed commits, uncommitted and
    untracked changes), blocks the handoff if it carries a secret (exit 3), posts it, prints
    the session URL and follows Devin until it stops (unless --detach).
    """
    out = Output(json_mode)
    if each is not None:
        from handoff import fanout

        fanout.check_args(task, each, context)
    elif not task or not task.strip():
        raise UsageError("no task given", 'pass --task "what Devin should do"')
    settings = load_settings(api_url=api_url, org_id=org_id, user_id=user_id)
    if not dry_run:
        settings.require_key()
    options = _options(settings, tags=tags, redact=redact, no_untracked=no_untracked,
                       max_diff_bytes=max_diff_bytes, version=_api_version(settings))
    context_text = _read_context(context, context_file)
    if push and not dry_run:
        _push_first(options, out)
    if each is not None:
        return fanout.run_each(each, context_text, options, settings, out, dry_run=dry_run, detach=detach,
                               interval=interval, archive=archive)
    prepared = prepare(task, context_text, options)
    if prepared.repo is None:
        out.warn("not in a git repository: the task is handed off without repository context")
    for warning in prepared.repo.warnings if prepared.repo else ():
        out.warn(warning)
    _enforce_gate(prepared, out)
    if dry_run:
        _show_dry_run(prepared, out)
        return 0
    return launch_prepared(prepared, settings, out, detach=detach, interval=interval, archive=archive)


def _push_first(options: HandoffOptions, out: Output) -> None:
    from handoff import repo as repo_inspector

    context = repo_inspector.inspect(None, include_untracked=False, max_diff_bytes=0)
    if context is None:
        raise UsageError("--push needs a git repository", "run it inside your checkout")
    out.say(f"pushing {context.branch or 'HEAD'} to {context.remote_name or 'the remote'}…")
    repo_inspector.push_branch(context)


def launch_prepared(prepared: PreparedHandoff, settings: Settings, out: Output, *, detach: bool, interval: float,
                    archive: bool) -> int:
    """Post a gated handoff, announce the session, then follow it unless `detach`."""
    from handoff import launch

    client, session = launch.create_session(prepared.request, settings, prepared.journal_meta())
    with client:
        _announce(session, out)
        if detach:
            out.say(f"follow it with: devin-handoff tail {session.session_id}", "dim")
            return 0
        from handoff.commands.session import follow_session

        return follow_session(client, session.session_id, out, interval=interval, archive=archive)


def _announce(session: Any, out: Output) -> None:
    out.say(f"Devin session created: {session.url}", "green")
    if out.json_mode:
        out.json({"event": "created", **session.to_json()})


@click.command()
@content_options
@json_option
def scan(task: str | None, context: str | None, context_file: str | None, tags: tuple[str, ...], redact: bool,
         no_untracked: bool, max_diff_bytes: int, json_mode: bool) -> int:
    """Run the secret gate on exactly what `create` would send. No key, no network.

    Exit 0 when nothing is found, 3 when something would block a handoff.
    """
    out = Output(json_mode)
    settings = load_settings()
    options = _options(settings, tags=tags, redact=False, no_untracked=no_untracked,
                       max_diff_bytes=max_diff_bytes, version=_api_version(settings))
    prepared = prepare(task or "(scan)", _read_context(context, context_file), options)
    report = prepared.gate.report
    if json_mode:
        out.json(findings_json(report))
    if report.findings:
        out.say(f"Secrets found in what would be sent ({len(report.findings)}):", "red")
        for line in findings_lines(report):
            out.say(line)
        return 3
    files = len(prepared.repo.files) if prepared.repo else 0
    out.say(f"no secrets found ({report.scanned_bytes} bytes scanned, {files} changed file(s),"
            f" {report.allowed} allowed by baseline or pragma)", "green")
    return 0


@click.command()
@click.argument("handoff_id", required=False)
@api_options
@json_option
def retry(handoff_id: str | None, api_url: str | None, org_id: str | None, user_id: str | None,
          json_mode: bool) -> int:
    """Send handoffs saved in the outbox because their create call failed.

    Each is looked up by its handoff tag first, so a create that did reach Devin is never
    duplicated. HANDOFF_ID (the `handoff-…` tag) picks one; without it, all are sent.
    """
    from handoff import launch

    out = Output(json_mode)
    settings = load_settings(api_url=api_url, org_id=org_id, user_id=user_id)
    settings.require_key()
    return launch.retry_outbox(settings, out, handoff_id)
