"""`create`: prepare a handoff, gate it, post it, then follow it (or fan out with `--each`)."""

from __future__ import annotations

import dataclasses
from typing import Any

import click

from handoff.app.findings import blocked_error
from handoff.app.handoff import (
    HandoffOptions,
    PreparedHandoff,
    bundle_blocked,
    prepare,
    refuse_unreproducible,
)
from handoff.app.settings import load_settings
from handoff.cli.interrupts import Interrupted, interruptible
from handoff.cli.options import create_options, read_texts
from handoff.cli.render import (
    Output,
    StdoutClosed,
    findings_json,
    findings_lines,
    repo_summary_lines,
    sent_summary,
    show_findings,
)
from handoff.config import Settings
from handoff.devin.dialect import request_version
from handoff.errors import HandoffError, UsageError
from handoff.limits import DEFAULT_MAX_BUNDLE_BYTES, DEFAULT_PROMPT_BYTES


def handoff_options(settings: Settings, *, tags: tuple[str, ...], redact: bool, no_untracked: bool,
                    max_diff_bytes: int, max_prompt_bytes: int = DEFAULT_PROMPT_BYTES, bundle: bool | None = None,
                    max_bundle_bytes: int = DEFAULT_MAX_BUNDLE_BYTES) -> HandoffOptions:
    """What the content options say (shared by `create` and `scan`, so both judge the same bytes)."""
    return HandoffOptions(include_untracked=not no_untracked, max_diff_bytes=max_diff_bytes, redact=redact,
                          tags=tuple(tags), api_version=request_version(settings), user_id=settings.user_id,
                          max_prompt_bytes=max_prompt_bytes, max_bundle_bytes=max_bundle_bytes,
                          bundle="auto" if bundle is None else "on" if bundle else "off")


def check_reproducible(prepared: PreparedHandoff, options: HandoffOptions, out: Output, *, dry_run: bool) -> None:
    """Refuse (exit 2) a handoff Devin could not rebuild, unless --allow-partial; a dry run only warns."""
    if not dry_run:
        refuse_unreproducible(prepared, options)
        return
    for problem in prepared.problems if not options.allow_partial else ():
        out.warn(f"a real create would refuse: {problem.message} (fix: {problem.fix})")


def enforce_gate(prepared: PreparedHandoff, out: Output) -> None:
    """Show redactions; when the gate blocks, show the findings (masked) and stop with exit 3."""
    report = prepared.gate.report
    if report.redacted and report.findings:
        out.warn(f"{len(report.findings)} secret(s) redacted from what is sent:")
        for line in findings_lines(report):
            out.say(line)
    if not report.blocked:
        return
    show_findings(report, out, f"Secrets found in what would be sent ({len(report.findings)}):")
    if out.json_mode:
        out.json(findings_json(report))
    raise blocked_error(bundle="pass --no-bundle" if bundle_blocked(prepared) else None)


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
    out.say(f"prompt:   {request.prompt_bytes:,} bytes, all told ({request.api_version} body)")
    report = prepared.gate.report
    out.say(f"secrets:  none found in {report.scanned_bytes} bytes" if not report.findings
            else f"secrets:  {len(report.findings)} redacted")
    for line in bundle_lines(prepared):
        out.say(line)


def bundle_lines(prepared: PreparedHandoff) -> list[str]:
    """The bundle a handoff carries: size, commits, tree id, why."""
    if prepared.bundle is None:
        return []
    info = prepared.bundle.summary()
    lines = [f"bundle:   {info['bytes']} bytes, {len(info['commits'])} commit(s) + snapshot, tree {info['tree']}",
             f"          why: {info['reason']}"]
    lines += [f"          commit {c['sha'][:12]} {c['subject']}" for c in info["commits"]]
    if info["left_out"]:
        lines.append(f"          left out (size budget): {', '.join(info['left_out'])}")
    return lines


@click.command()
@create_options
@click.option("--offline", is_flag=True, help="Never ask the remote what it has (no `git ls-remote`).")
@click.option("--allow-partial", "allow_partial", is_flag=True,
              help="Send even when Devin cannot rebuild your state (no repo, no remote, base not on the remote).")
@click.option("--save-bundle", "save_bundle", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Also write the bundle to this path (with --dry-run: inspect it before sending).")
@interruptible("interrupted before anything was sent", "run the same command again")
def create(task: str | None, context: str | None, context_file: str | None, tags: tuple[str, ...], redact: bool,
           no_untracked: bool, max_diff_bytes: int, max_prompt_bytes: int, bundle: bool | None,
           max_bundle_bytes: int, dry_run: bool, detach: bool, push: bool, interval: float, archive: bool,
           each: str | None, api_url: str | None, org_id: str | None, user_id: str | None, json_mode: bool,
           offline: bool = False, allow_partial: bool = False, save_bundle: str | None = None) -> int:
    """Hand a task and this checkout's state to a new Devin session, then follow it.

    Inspects the repo (branch, base commit on the remote, unpushed commits, uncommitted and
    untracked changes), blocks the handoff if it carries a secret (exit 3), posts it, prints
    the session URL and follows Devin until it stops (unless --detach).
    """
    out = Output(json_mode)
    if each is not None:
        from handoff.app import fanout

        fanout.check_args(task, each, context)
    elif not task or not task.strip():
        raise UsageError("no task given", 'pass --task "what Devin should do"')
    settings = load_settings(api_url=api_url, org_id=org_id, user_id=user_id)
    if not dry_run:
        settings.require_key()
    options = dataclasses.replace(handoff_options(settings, tags=tags, redact=redact, no_untracked=no_untracked,
                                                  max_diff_bytes=max_diff_bytes, max_prompt_bytes=max_prompt_bytes,
                                                  bundle=bundle, max_bundle_bytes=max_bundle_bytes),
                                  offline=offline, allow_partial=allow_partial)
    task, context_text = read_texts(task, context, context_file)
    if each is None and not (task or "").strip():
        raise UsageError("the task read from standard input is empty", 'pipe in what Devin should do')
    if push and not dry_run:
        _push_first(out)
    if each is not None:
        from handoff.cli.fanout import run_each

        return run_each(each, context_text, options, settings, out, dry_run=dry_run, detach=detach,
                        interval=interval, archive=archive, save_bundle=save_bundle)
    prepared = prepare(task or "", context_text, options)
    if prepared.repo is None:
        out.warn("not in a git repository: the task is handed off without repository context")
    for warning in prepared.repo.warnings if prepared.repo else ():
        out.warn(warning)
    check_reproducible(prepared, options, out, dry_run=dry_run)
    enforce_gate(prepared, out)
    write_bundle(prepared, save_bundle, out)
    if dry_run:
        _show_dry_run(prepared, out)
        return 0
    out.say(sent_summary(prepared), "dim")
    return launch_prepared(prepared, settings, out, detach=detach, interval=interval, archive=archive)


def write_bundle(prepared: PreparedHandoff, dest: str | None, out: Output) -> None:
    """--save-bundle: the (gated) bundle written where the user asked."""
    if dest is None:
        return
    if prepared.bundle is None:
        out.warn("--save-bundle: this handoff carries no bundle (pass --bundle to make one)")
        return
    out.say(f"bundle written to {prepared.bundle.save_copy(dest)}", "dim")


def _push_first(out: Output) -> None:
    from handoff.app.handoff import branch_to_push, push

    context = branch_to_push()
    out.say(f"pushing {context.branch or 'HEAD'} to {context.remote_name or 'the remote'}…")
    push(context)


def launch_prepared(prepared: PreparedHandoff, settings: Settings, out: Output, *, detach: bool, interval: float,
                    archive: bool) -> int:
    """Post a gated handoff, announce the session, then follow it unless `detach`."""
    from handoff.app.launch import create_session

    tag = prepared.request.client_tag
    try:
        client, session = create_session(prepared.request, settings, prepared.journal_meta(),
                                         bundle=prepared.bundle)
    except KeyboardInterrupt:
        raise _interrupted_launch(tag) from None
    with client:
        try:
            _announce(session, out)
            if detach:
                out.say(f"follow it with: devin-handoff tail {session.session_id}", "dim")
                return 0
        except KeyboardInterrupt:
            raise Interrupted(f"interrupted; the session was created: {session.url}",
                              f"follow it with: devin-handoff tail {session.session_id}") from None
        except StdoutClosed as exc:  # the session exists and is journalled: say where, on stderr
            exc.hint = f"the session was created: {session.url}; follow it with: devin-handoff tail " \
                       f"{session.session_id}"
            raise
        from handoff.cli.following import follow_session

        try:
            return follow_session(client, session.session_id, out, interval=interval, archive=archive)
        except HandoffError as exc:  # the session exists: nothing was saved, nothing is to be retried
            exc.hint = (f"{exc.hint}; " if exc.hint else "") + \
                f"the session exists: {session.url}; follow it with: devin-handoff tail {session.session_id}"
            raise


def _interrupted_launch(client_tag: str) -> Interrupted:
    """What an interruption while posting left behind, and the command that resumes from there."""
    from handoff.app.launch import launch_state

    where, entry = launch_state(client_tag)
    if where == "outbox":
        return Interrupted("interrupted while sending the handoff; it is kept in the outbox",
                           f"resume with: devin-handoff retry {client_tag}")
    if where == "journal" and entry is not None:
        return Interrupted(f"interrupted; the session was created: {entry.url}",
                           f"follow it with: devin-handoff tail {entry.session_id}")
    return Interrupted("interrupted before anything was sent", "run the same command again")


def _announce(session: Any, out: Output) -> None:
    out.say(f"Devin session created: {session.url}", "green")
    if out.json_mode:
        out.json({"event": "created", **session.to_json()})
