"""`create --each FILE` in the terminal: the fan-out use case (handoff/app/fanout.py), each task's
lines labelled `[#n]` (JSON records carry `"task": n`)."""

from __future__ import annotations

from handoff.app import fanout
from handoff.app.fanout import FanoutTask, Launched
from handoff.app.findings import blocked_error
from handoff.app.handoff import HandoffOptions, PreparedHandoff, bundle_blocked
from handoff.cli.render import LabelledOutput, Output, findings_json, repo_summary_lines
from handoff.config import Settings
from handoff.errors import EXIT_INTERRUPTED, EXIT_UNREACHABLE, HandoffError
from handoff.repo import RepoContext


def labelled(out: Output, task: FanoutTask) -> LabelledOutput:
    return LabelledOutput(out, task.label, task.index)


def enforce_gate(tasks: list[FanoutTask], prepared: list[PreparedHandoff], out: Output) -> None:
    """Refuse everything (exit 3) when any task is blocked; shared-patch findings are shown once."""
    redacted = sum(len(p.gate.report.findings) for p in prepared if p.gate.report.redacted)
    if redacted:
        out.warn(f"{redacted} secret(s) redacted from what is sent")
    blocked = fanout.blocked(tasks, prepared)
    if not blocked:
        return
    out.say(f"Secrets found: {len(blocked)} of {len(tasks)} task(s) blocked, so none is sent:", "red")
    shown: set[tuple[str, int, str]] = set()
    for task, item in blocked:
        for finding in item.gate.report.findings:
            key = (finding.source, finding.line, finding.kind)
            if fanout.is_text_source(finding.source):
                out.say(f"  {task.label} {finding.source}:{finding.line}: {finding.kind}  {finding.preview}")
            elif key not in shown:
                shown.add(key)
                out.say(f"  {finding.source}:{finding.line}: {finding.kind}  {finding.preview}")
        if out.json_mode:
            out.json({"task": task.index, **findings_json(item.gate.report)})
    raise blocked_error("no session was created",
                        bundle="pass --no-bundle" if any(bundle_blocked(item) for item in prepared) else None)


def show_dry_run(tasks: list[FanoutTask], repo: RepoContext | None, prepared: list[PreparedHandoff],
                 out: Output) -> None:
    if out.json_mode:
        for task, item in zip(tasks, prepared, strict=True):
            out.json({"task": task.index, "body": item.request.body}, mask=False)
        return
    for line in repo_summary_lines(repo):
        out.say(line)
    for task, item in zip(tasks, prepared, strict=True):
        request = item.request
        tags = ", ".join(request.body["tags"])
        out.say(f"{task.label}: {request.title}  ({request.prompt_bytes} bytes; tags {tags})")
    out.say(f"dry run: nothing was sent ({len(tasks)} task(s); add --json for the exact bodies)", "dim")


def announce(launched: list[Launched], out: Output) -> None:
    """One line per task: its session URL (stdout), or why its create failed."""
    for item in launched:
        if item.session is not None:
            out.result({"event": "created", "task": item.task.index, "title": item.prepared.request.title,
                        "handoff_id": item.prepared.request.client_tag, **item.session.to_json()},
                       f"{item.session.url}  {item.task.label} {item.prepared.request.title}")
        else:
            error = item.error
            out.warn(f"{item.task.label} not created: {error}")
            if out.json_mode:
                out.json({"event": "create_failed", "task": item.task.index,
                          "handoff_id": item.prepared.request.client_tag, "error": str(error),
                          "exit_code": error.exit_code if error else EXIT_UNREACHABLE})


def follow_all(launched: list[Launched], out: Output, *, interval: float, archive: bool) -> None:
    """Follow every created session at once, lines prefixed with the task label; no reply prompts."""
    from handoff.cli.following import follow_session

    def follow_one(item: Launched) -> int:
        return follow_session(item.client, item.session.session_id, labelled(out, item.task), interval=interval,
                              archive=archive, interactive=False)

    def on_error(item: Launched, error: HandoffError) -> None:
        labelled(out, item.task).warn(str(error))

    try:
        fanout.follow_all(launched, follow_one, on_error)
    except KeyboardInterrupt:
        for item in launched:
            if item.session is not None and item.exit_code is None:
                out.say(f"{item.task.label} still running: devin-handoff tail {item.session.session_id}")
        raise


def _summarize(created: list[Launched], out: Output) -> None:
    bad = [item.task.label for item in created if item.exit_code]
    if bad:
        out.say(f"{len(created) - len(bad)} of {len(created)} session(s) ended well; not: {', '.join(bad)}", "red")
    else:
        out.say(f"all {len(created)} session(s) ended well", "green")


def run_each(each: str, shared_context: str | None, options: HandoffOptions, settings: Settings, out: Output, *,
             dry_run: bool = False, detach: bool = False, interval: float = 10.0, archive: bool = False,
             workers: int = fanout.CREATE_WORKERS, save_bundle: str | None = None) -> int:
    """`create --each FILE`: read tasks, inspect once, gate all, create all, then follow them together."""
    tasks = fanout.read_tasks(each)
    repo, prepared = fanout.prepare_all(tasks, shared_context, options)
    if repo is None:
        out.warn("not in a git repository: the tasks are handed off without repository context")
    for warning in repo.warnings if repo else ():
        out.warn(warning)
    for first, second, paths in fanout.overlaps(tasks, repo):
        shown = ", ".join(paths[:5]) + (" …" if len(paths) > 5 else "")
        out.warn(f"tasks {first.label} and {second.label} both name {shown}: their sessions may conflict")
    if prepared:   # one repository state for every task: one verdict
        from handoff.cli.commands.create import bundle_lines, check_reproducible, write_bundle

        check_reproducible(prepared[0], options, out, dry_run=dry_run)
    enforce_gate(tasks, prepared, out)
    if prepared:
        write_bundle(prepared[0], save_bundle, out)   # one bundle shared by every task
        if dry_run and not out.json_mode:
            for line in bundle_lines(prepared[0]):
                out.say(line)
    if dry_run:
        show_dry_run(tasks, repo, prepared, out)
        return 0
    launched: list[Launched] = []
    try:
        launched, interrupted = fanout.create_all(tasks, prepared, settings, workers=workers)
        announce(launched, out)
        created = [item for item in launched if item.session is not None]
        if interrupted:
            out.say(f"interrupted: {len(created)} of {len(tasks)} session(s) created; see `devin-handoff list`")
            return EXIT_INTERRUPTED
        if detach or not created:
            for item in created:
                out.say(f"follow {item.task.label} with: devin-handoff tail {item.session.session_id}", "dim")
        else:
            try:
                follow_all(launched, out, interval=interval, archive=archive)
            except KeyboardInterrupt:
                return EXIT_INTERRUPTED
            _summarize(created, out)
        return fanout.exit_code(launched)
    finally:
        fanout.close_all(launched)
