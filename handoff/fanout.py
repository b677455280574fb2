"""Fan-out: many tasks over one inspected, gated repo state, created concurrently, followed together.

The repo is inspected once; each task is gated with its own text plus the shared patch (so one
secret anywhere blocks everything before anything is sent); then all sessions are created on a
small thread pool (one API client per session: the launcher opens one per create) and followed
together, each output line prefixed with the task's label.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from handoff.config import Settings
from handoff.errors import EXIT_INTERRUPTED, EXIT_UNREACHABLE, HandoffError, SecretsBlocked, UsageError
from handoff.pipeline import FACTS_SOURCE, HandoffOptions, PreparedHandoff, inspect_repo, prepare
from handoff.render import Output, findings_json, repo_summary_lines
from handoff.repo import RepoContext

MAX_TASKS = 50          # a typo'd file should not start hundreds of paid sessions
MAX_FILE_BYTES = 1_000_000
CREATE_WORKERS = 4
TASK_KEYS = {"task", "context", "tags"}


@dataclass(frozen=True)
class FanoutTask:
    index: int                   # 1-based position among the tasks
    line: int                    # line number in the tasks file
    task: str
    context: str | None = None
    tags: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"#{self.index}"


# -- reading tasks ------------------------------------------------------------------------------------

def check_args(task: str | None, each: str, context: str | None) -> None:
    """`--each` replaces `--task`; it cannot share standard input with `--context -`."""
    if task:
        raise UsageError("--task and --each both given", "pass one of them: with --each, FILE holds the tasks")
    if each == "-" and context == "-":
        raise UsageError("--each - and --context - both read standard input", "put the context in --context-file")


def read_tasks(each: str) -> list[FanoutTask]:
    """Tasks from FILE (relative to where the user stood) or standard input (`-`)."""
    if each == "-":
        if sys.stdin is None or sys.stdin.isatty():
            raise UsageError("--each - reads standard input, but it is a terminal", "pipe the tasks in")
        return parse_tasks(sys.stdin.read(MAX_FILE_BYTES + 1), source="stdin")
    from handoff.repo import user_path

    path = user_path(each)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise UsageError(f"cannot read --each {each}: {exc.strerror}", "check the path") from None
    return parse_tasks(text, source=Path(each).name)


def parse_tasks(text: str, source: str = "tasks") -> list[FanoutTask]:
    """One task per line (blank lines and `#` comments skipped), or a JSON object per line:
    {"task": str, "context"?: str, "tags"?: [str]}."""
    if len(text) > MAX_FILE_BYTES:
        raise UsageError(f"{source} is larger than {MAX_FILE_BYTES // 1_000_000} MB", "split the tasks")
    tasks: list[FanoutTask] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        index = len(tasks) + 1
        if line.startswith("{"):
            tasks.append(_json_task(line, index=index, number=number, source=source))
        else:
            tasks.append(FanoutTask(index=index, line=number, task=line))
    if not tasks:
        raise UsageError(f"no tasks in {source}", "write one task per line (or one JSON object per line)")
    if len(tasks) > MAX_TASKS:
        raise UsageError(f"{len(tasks)} tasks in {source}; at most {MAX_TASKS} at once", "split the file")
    return tasks


def _json_task(line: str, *, index: int, number: int, source: str) -> FanoutTask:
    where = f"{source}:{number}"
    try:
        data = json.loads(line)
    except ValueError as exc:
        raise UsageError(f"{where}: not valid JSON ({exc.msg})", 'write {"task": "…"} on one line') from None
    if not isinstance(data, dict):
        raise UsageError(f"{where}: expected a JSON object", 'write {"task": "…"}')
    unknown = sorted(set(data) - TASK_KEYS)
    if unknown:
        raise UsageError(f"{where}: unknown key(s) {', '.join(unknown)}", "use task, context and tags")
    task = data.get("task")
    if not isinstance(task, str) or not task.strip():
        raise UsageError(f"{where}: no task", 'every object needs a non-empty "task" string')
    context = data.get("context")
    if context is not None and not isinstance(context, str):
        raise UsageError(f"{where}: context must be a string", None)
    tags = data.get("tags") or []
    if isinstance(tags, str):
        tags = [tags]
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise UsageError(f"{where}: tags must be a list of strings", None)
    return FanoutTask(index=index, line=number, task=task, context=context or None, tags=tuple(tags))


# -- overlap ------------------------------------------------------------------------------------------

_URL = re.compile(r"\b[a-z][a-z0-9+.\-]*://\S+", re.I)
_PATH_TOKEN = re.compile(r"[\w.\-]*[\w\-](?:/[\w.\-]+)+/?"         # src/app.py, docs/api/
                         r"|[\w.\-]*[\w\-]/(?![\w.\-])"              # docs/
                         r"|[\w\-]+(?:\.[\w\-]+)*\.[A-Za-z]\w{0,7}\b")  # README.md


def named_paths(text: str, changed: tuple[str, ...] = (), root: str | None = None) -> set[str]:
    """Repo paths a task names: path-like tokens (`src/app.py`, `docs/`) that look like files or exist in
    the repo, and changed files mentioned by path or by file name."""
    text = _URL.sub(" ", text)
    names: set[str] = set()
    for token in _PATH_TOKEN.findall(text):
        token = token.removeprefix("./").rstrip(".")
        is_dir = token.endswith("/")
        token = token.rstrip("/")
        if not token or token.startswith(".."):
            continue
        has_ext = re.search(r"\.[A-Za-z]\w{0,7}$", token.rsplit("/", 1)[-1]) is not None
        exists = root is not None and os.path.exists(os.path.join(root, token))
        if is_dir or exists or ("/" in token and has_ext):
            names.add(token)
    words = set(re.findall(r"[\w.\-/]+", text))
    for path in changed:
        base = path.rsplit("/", 1)[-1]
        if path in words or ("." in base and base in words):
            names.add(path)
    return names


def _common(first: set[str], second: set[str]) -> set[str]:
    """Paths both sets name, a directory counting as naming what lies under it."""
    shared = first & second
    for a in first:
        for b in second:
            if b.startswith(a + "/"):
                shared.add(b)
            elif a.startswith(b + "/"):
                shared.add(a)
    return shared


def overlaps(tasks: list[FanoutTask], repo: RepoContext | None) -> list[tuple[FanoutTask, FanoutTask, list[str]]]:
    """Pairs of tasks that name the same files, with those files."""
    changed = tuple(change.path for change in repo.files) if repo else ()
    root = repo.root if repo else None
    named = [named_paths(f"{t.task}\n{t.context or ''}", changed, root) for t in tasks]
    pairs = []
    for i, first in enumerate(tasks):
        for j in range(i + 1, len(tasks)):
            shared = _common(named[i], named[j])
            if shared:
                pairs.append((first, tasks[j], sorted(shared)))
    return pairs


# -- output -------------------------------------------------------------------------------------------

_OUTPUT_LOCK = threading.RLock()


class LabelledOutput(Output):
    """An Output whose lines carry a task's label (human) or its index (JSON), safe across threads."""

    def __init__(self, base: Output, task: FanoutTask) -> None:
        super().__init__(base.json_mode, base.quiet)
        self.colour = base.colour
        self.task = task

    def say(self, text: str = "", colour: str | None = None) -> None:
        prefixed = "\n".join(f"[{self.task.label}] {line}" for line in (text.splitlines() or [""]))
        with _OUTPUT_LOCK:
            super().say(prefixed, colour)

    def json(self, obj: Any, *, mask: bool = True) -> None:
        if isinstance(obj, dict):
            obj = {"task": self.task.index, **obj}
        with _OUTPUT_LOCK:
            super().json(obj, mask=mask)

    def result(self, obj: Any, human: str | None = None) -> None:
        if self.json_mode:
            self.json(obj)
        elif human is not None:
            with _OUTPUT_LOCK:
                super().result(obj, f"[{self.task.label}] {human}")


# -- prepare and gate ---------------------------------------------------------------------------------

def _task_context(task: FanoutTask, shared: str | None) -> str | None:
    parts = [part for part in (shared, task.context) if part and part.strip()]
    return "\n\n".join(parts) or None


def prepare_all(tasks: list[FanoutTask], shared_context: str | None, options: HandoffOptions, *,
                path: str | None = None) -> tuple[RepoContext | None, list[PreparedHandoff]]:
    """Inspect once; gate and build each task over the same repo state."""
    repo = inspect_repo(path, options)
    prepared = []
    for task in tasks:
        task_options = dataclasses.replace(options, tags=(*options.tags, *task.tags))
        prepared.append(prepare(task.task, _task_context(task, shared_context), task_options,
                                repo=repo, inspected=True))
    return repo, prepared


_TEXT_SOURCES = {"task", "context", "tags", FACTS_SOURCE}


def enforce_gate(tasks: list[FanoutTask], prepared: list[PreparedHandoff], out: Output) -> None:
    """Refuse everything (exit 3) when any task is blocked; shared-patch findings are shown once."""
    redacted = sum(len(p.gate.report.findings) for p in prepared if p.gate.report.redacted)
    if redacted:
        out.warn(f"{redacted} secret(s) redacted from what is sent")
    blocked = [(task, item) for task, item in zip(tasks, prepared, strict=True) if item.blocked]
    if not blocked:
        return
    out.say(f"Secrets found: {len(blocked)} of {len(tasks)} task(s) blocked, so none is sent:", "red")
    shown: set[tuple[str, int, str]] = set()
    for task, item in blocked:
        for finding in item.gate.report.findings:
            key = (finding.source, finding.line, finding.kind)
            if finding.source in _TEXT_SOURCES:
                out.say(f"  {task.label} {finding.source}:{finding.line}: {finding.kind}  {finding.preview}")
            elif key not in shown:
                shown.add(key)
                out.say(f"  {finding.source}:{finding.line}: {finding.kind}  {finding.preview}")
        if out.json_mode:
            out.json({"task": task.index, **findings_json(item.gate.report)})
    raise SecretsBlocked(
        "blocked by the secret gate; no session was created",
        "remove the values, mark false positives with `pragma: allowlist secret` or .secrets.baseline, "
        "or pass --redact",
    )


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


# -- create and follow --------------------------------------------------------------------------------

@dataclass
class Launched:
    task: FanoutTask
    prepared: PreparedHandoff
    client: Any = None            # DevinClient, open while following
    session: Any = None           # api.Session
    error: HandoffError | None = None
    exit_code: int | None = None  # of following


def create_all(tasks: list[FanoutTask], prepared: list[PreparedHandoff], settings: Settings,
               workers: int = CREATE_WORKERS) -> tuple[list[Launched], bool]:
    """Create every session on a bounded pool; a failed create is kept in the outbox by the launcher.

    Returns the launches and whether Ctrl-C cut it short (creates already under way still finish and
    are journalled; those not started are dropped)."""
    from handoff import launch

    launched = [Launched(task, item) for task, item in zip(tasks, prepared, strict=True)]
    pool = ThreadPoolExecutor(max_workers=max(1, min(workers, len(launched))), thread_name_prefix="handoff-create")
    futures: list[Future[Any]] = [pool.submit(launch.create_session, item.prepared.request, settings,
                                              item.prepared.journal_meta()) for item in launched]
    interrupted = False
    try:
        while wait(futures, timeout=0.2).not_done:  # short waits keep Ctrl-C responsive
            pass
    except KeyboardInterrupt:
        interrupted = True
        pool.shutdown(wait=False, cancel_futures=True)
    pool.shutdown(wait=True)
    for item, future in zip(launched, futures, strict=True):
        if future.cancelled():
            continue
        try:
            item.client, item.session = future.result()
        except HandoffError as exc:
            item.error = exc
    return launched, interrupted


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


FollowFn = Callable[..., int]


def _follow_function() -> FollowFn:
    from handoff.commands.session import follow_session

    return follow_session


def follow_all(launched: list[Launched], out: Output, *, interval: float, archive: bool,
               follow: FollowFn | None = None) -> None:
    """Follow every created session at once, one thread each, lines prefixed with the task label."""
    follow = follow or _follow_function()
    running = [item for item in launched if item.session is not None]

    def run(item: Launched) -> None:
        labelled = LabelledOutput(out, item.task)
        try:
            item.exit_code = follow(item.client, item.session.session_id, labelled, interval=interval,
                                    archive=archive, interactive=False)  # no reply prompts from many threads
        except HandoffError as exc:
            labelled.warn(str(exc))
            item.exit_code = exc.exit_code

    threads = [threading.Thread(target=run, args=(item,), name=f"handoff-follow-{item.task.index}", daemon=True)
               for item in running]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(0.2)  # short joins keep Ctrl-C responsive
    except KeyboardInterrupt:
        for item in running:
            if item.exit_code is None:
                out.say(f"{item.task.label} still running: devin-handoff tail {item.session.session_id}")
        raise


def _summarize(created: list[Launched], out: Output) -> None:
    bad = [item.task.label for item in created if item.exit_code]
    if bad:
        out.say(f"{len(created) - len(bad)} of {len(created)} session(s) ended well; not: {', '.join(bad)}", "red")
    else:
        out.say(f"all {len(created)} session(s) ended well", "green")


def exit_code(launched: list[Launched]) -> int:
    """5 (or the create error's own code) when a create failed; else the worst follow result."""
    failed = [item.error for item in launched if item.session is None and item.error is not None]
    if failed:
        codes = {error.exit_code for error in failed}
        return EXIT_UNREACHABLE if EXIT_UNREACHABLE in codes else max(codes)
    return max((item.exit_code or 0 for item in launched), default=0)


def close_all(launched: list[Launched]) -> None:
    for item in launched:
        if item.client is not None:
            item.client.close()


def run_each(each: str, shared_context: str | None, options: HandoffOptions, settings: Settings, out: Output, *,
             dry_run: bool = False, detach: bool = False, interval: float = 10.0, archive: bool = False,
             workers: int = CREATE_WORKERS) -> int:
    """`create --each FILE`: read tasks, inspect once, gate all, create all, then follow them together."""
    tasks = read_tasks(each)
    repo, prepared = prepare_all(tasks, shared_context, options)
    if repo is None:
        out.warn("not in a git repository: the tasks are handed off without repository context")
    for warning in repo.warnings if repo else ():
        out.warn(warning)
    for first, second, paths in overlaps(tasks, repo):
        shown = ", ".join(paths[:5]) + (" …" if len(paths) > 5 else "")
        out.warn(f"tasks {first.label} and {second.label} both name {shown}: their sessions may conflict")
    enforce_gate(tasks, prepared, out)
    if dry_run:
        show_dry_run(tasks, repo, prepared, out)
        return 0
    launched: list[Launched] = []
    try:
        launched, interrupted = create_all(tasks, prepared, settings, workers=workers)
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
        return exit_code(launched)
    finally:
        close_all(launched)
