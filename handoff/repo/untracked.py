"""Untracked files in the diff, through a scratch index; the user's index is never written.

The scratch index is a copy of the user's index in a private temp folder, with the untracked files added as
intent-to-add entries by ONE `git add -N -- .` (git's own walk: linear in the number of files, where a
pathspec per file was quadratic), minus the few paths set aside (files too large to diff, nested
repositories). The folder is removed on return, on an exception, on Ctrl-C, and on SIGTERM/SIGHUP while it
exists; a folder left by a process that was killed outright (kill -9) is swept by the next inspection.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from handoff.lazy_regex import lazy_compile
from handoff.repo.git import Git, last_line
from handoff.repo.large import exclusions

SCRATCH_PREFIX = "devin-handoff-"
_OURS = lazy_compile(rf"^{SCRATCH_PREFIX}(?P<pid>\d+)-")
_OLD_STYLE_AGE = 24 * 3600   # a folder of ours without a pid (older versions) is swept after a day


class Interrupted(BaseException):
    """SIGTERM or SIGHUP arrived while a scratch folder existed (re-raised as the default action after cleanup)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@contextmanager
def scratch_dir() -> Iterator[str]:
    """A private temp folder named with our pid, removed however the block ends."""
    sweep_stale()
    path = tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-")
    try:
        try:
            with _signals_raise():
                yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)
    except Interrupted as interrupted:
        os.kill(os.getpid(), interrupted.signum)   # cleaned up: now the signal's default action (exit by it)
        raise


def sweep_stale(tmp: str | None = None) -> int:
    """Remove scratch folders of processes that no longer run; the number removed."""
    tmp = tmp or tempfile.gettempdir()
    removed = 0
    try:
        names = os.listdir(tmp)
    except OSError:
        return 0
    for name in names:
        if not name.startswith(SCRATCH_PREFIX) or name.startswith(f"{SCRATCH_PREFIX}demo-"):
            continue
        path = os.path.join(tmp, name)
        if _abandoned(name, path):
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
    return removed


def _abandoned(name: str, path: str) -> bool:
    try:
        info = os.lstat(path)
    except OSError:
        return False
    if info.st_uid != os.getuid() or not os.path.isdir(path):
        return False
    match = _OURS.match(name)
    if match is None:
        return time.time() - info.st_mtime > _OLD_STYLE_AGE
    pid = int(match["pid"])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


@contextmanager
def _signals_raise() -> Iterator[None]:
    """Turn SIGTERM/SIGHUP into an exception for the block's duration (main thread only), so `finally`
    blocks run; `scratch_dir` then takes the signal's default action, as if nothing had caught it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: dict[int, Any] = {}

    def raise_it(signum: int, _frame: Any) -> None:
        raise Interrupted(signum)

    for signum in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if signum is not None and signal.getsignal(signum) == signal.SIG_DFL:
            previous[signum] = signal.signal(signum, raise_it)
    try:
        yield
    finally:
        _restore(previous)


def _restore(previous: dict[int, Any]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)


@contextmanager
def index_with_untracked(git: Git, index_file: str, untracked: Sequence[bytes],
                         set_aside: Sequence[bytes]) -> Iterator[tuple[dict[str, str], str | None]]:
    """(env, warning): an env whose GIT_INDEX_FILE is a scratch copy of `index_file` with every untracked,
    non-ignored file but `set_aside` added as intent-to-add. No untracked files: ({}, None)."""
    if not untracked:
        yield {}, None
        return
    with scratch_dir() as workdir:
        index = os.path.join(workdir, "index")
        if os.path.exists(index_file):
            shutil.copy2(index_file, index)  # copy2 keeps the mtime, so git's racy-entry checks stay right
        env = {"GIT_INDEX_FILE": index, "GIT_LITERAL_PATHSPECS": "0", "GIT_GLOB_PATHSPECS": "0",
               "GIT_NOGLOB_PATHSPECS": "0", "GIT_ICASE_PATHSPECS": "0"}
        status, _, err = git.run("-c", "core.splitIndex=false", "-c", "advice.addEmbeddedRepo=false",
                                 "add", "--intent-to-add", "--ignore-errors", "--", ".",
                                 *exclusions(set_aside), env=env)
        if status != 0:
            yield {}, (f"{len(untracked)} untracked file(s) are NOT carried: git could not add them to a "
                       f"temporary index ({last_line(err)})")
        else:
            yield {"GIT_INDEX_FILE": index}, None
