"""The fan-out use case: many tasks over one inspected, gated repo state, created concurrently,
followed together.

The repo is inspected once; each task is gated with its own text plus the shared patch (so one
secret anywhere blocks everything before anything is sent); then all sessions are created on a
small thread pool (one API client per session: the launcher opens one per create) and followed
together. Nothing here prints; `handoff/cli/fanout.py` labels and renders each task's events.
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

from handoff.app.handoff import (
    FACTS_SOURCE,
    HandoffOptions,
    PreparedHandoff,
    inspect_repo,
    patch_room_for,
    prepare,
    prepare_bundle,
)
from handoff.app.launch import create_session
from handoff.config import Settings
from handoff.errors import EXIT_UNREACHABLE, HandoffError, UsageError
from handoff.lazy_regex import lazy_compile
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

_URL = lazy_compile(r"\b[a-z][a-z0-9+.\-]*://\S+", re.I)
_PATH_TOKEN = lazy_compile(r"[\w.\-]*[\w\-](?:/[\w.\-]+)+/?"         # src/app.py, docs/api/
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


# -- prepare and gate ---------------------------------------------------------------------------------

def _task_context(task: FanoutTask, shared: str | None) -> str | None:
    parts = [part for part in (shared, task.context) if part and part.strip()]
    return "\n\n".join(parts) or None


def prepare_all(tasks: list[FanoutTask], shared_context: str | None, options: HandoffOptions, *,
                path: str | None = None) -> tuple[RepoContext | None, list[PreparedHandoff]]:
    """Inspect once and build one bundle (if any) for all; gate and build each task over the same repo state."""
    room = patch_room_for([(task.task, _task_context(task, shared_context)) for task in tasks], options)
    repo = inspect_repo(path, options, room)
    bundle, note = prepare_bundle(repo, options)
    if note and repo is not None:
        repo = dataclasses.replace(repo, warnings=(*repo.warnings, note))
    prepared = []
    for task in tasks:
        task_options = dataclasses.replace(options, tags=(*options.tags, *task.tags))
        prepared.append(prepare(task.task, _task_context(task, shared_context), task_options,
                                repo=repo, inspected=True, bundle=bundle))
    return repo, prepared


_TEXT_SOURCES = {"task", "context", "tags", FACTS_SOURCE}


def blocked(tasks: list[FanoutTask], prepared: list[PreparedHandoff]) -> list[tuple[FanoutTask, PreparedHandoff]]:
    """The tasks the gate blocks; when there is one, none is sent."""
    return [(task, item) for task, item in zip(tasks, prepared, strict=True) if item.blocked]


def is_text_source(source: str) -> bool:
    """A finding in a task's own text (shown per task), not in the shared patch (shown once)."""
    return source in _TEXT_SOURCES


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
    launched = [Launched(task, item) for task, item in zip(tasks, prepared, strict=True)]
    pool = ThreadPoolExecutor(max_workers=max(1, min(workers, len(launched))), thread_name_prefix="handoff-create")
    futures: list[Future[Any]] = [pool.submit(create_session, item.prepared.request, settings,
                                              item.prepared.journal_meta(), bundle=item.prepared.bundle)
                                  for item in launched]
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


def follow_all(launched: list[Launched], follow_one: Callable[[Launched], int],
               on_error: Callable[[Launched, HandoffError], None]) -> None:
    """Follow every created session at once, one thread each; KeyboardInterrupt comes through (the
    sessions still running are those whose `exit_code` is None)."""
    running = [item for item in launched if item.session is not None]

    def run(item: Launched) -> None:
        try:
            item.exit_code = follow_one(item)
        except HandoffError as exc:
            on_error(item, exc)
            item.exit_code = exc.exit_code

    threads = [threading.Thread(target=run, args=(item,), name=f"handoff-follow-{item.task.index}", daemon=True)
               for item in running]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(0.2)  # short joins keep Ctrl-C responsive


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
