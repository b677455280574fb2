"""The one door to git: GitPython's command runner (`git.Git`, the same runner as `git.Repo(...).git`).

Every git command of the package runs here, with the environment of a read-only inspection unless the
caller asks otherwise: no optional locks (the user's index is never refreshed), no terminal prompts,
C locale, paths unquoted. Large outputs stream (`as_process`); stdin is fed through a pipe; commands that
may reach the network run with a deadline. GitPython's runner is loaded on first use (handoff/repo/gitpython.py),
never when `handoff.repo` is imported, and without the rest of GitPython.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import IO, Any

from handoff.errors import UsageError
from handoff.repo.remote import scrub_urls

# Never let a read-only inspection take locks or refresh the user's index, nor ask for a password.
QUIET_ENV = {"GIT_OPTIONAL_LOCKS": "0", "GIT_TERMINAL_PROMPT": "0", "GCM_INTERACTIVE": "never",
             "GIT_DIFF_OPTS": "", "LANGUAGE": "C", "LC_ALL": "C"}
C_OPTIONS = ("-c", "core.quotepath=off", "-c", "core.safecrlf=false", "-c", "core.fsmonitor=false")
_NO_GIT = ("git is not installed or not on PATH", "install git")


class GitFailed(UsageError):
    """A git command exited non-zero (a UsageError: the one-line reason is git's own)."""

    def __init__(self, args: tuple[str, ...], status: int, stderr: str, hint: str | None = None) -> None:
        self.status = status
        self.stderr = stderr
        super().__init__(f"git {args[0] if args else ''} failed: {last_line(stderr)}",
                         hint or "check the repository with `git status`")


def last_line(text: str) -> str:
    """git's last message line (the `fatal:` one), without URL credentials."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    meaningful = [line for line in lines if line.lower().startswith(("fatal", "error"))]
    return scrub_urls((meaningful or lines or ["unknown error"])[-1])


def decode(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


class Git:
    """git commands in one directory (`cwd`), through GitPython's runner."""

    def __init__(self, cwd: str, *, quiet: bool = True) -> None:
        from handoff.repo.gitpython import runner  # GitPython's runner is loaded only when git is actually run

        runner_class, self._not_found = runner()
        self.cwd = cwd
        self.quiet = quiet
        self._runner = runner_class(cwd)

    def _env(self, env: Mapping[str, str] | None) -> dict[str, str]:
        return {**(QUIET_ENV if self.quiet else {}), **(env or {})}

    def run(self, *args: str, env: Mapping[str, str] | None = None,
            timeout: float | None = None) -> tuple[int, bytes, str]:
        """(exit status, stdout bytes, stderr text); never raises for a failing command."""
        try:
            status, out, err = self._runner.execute(
                ["git", *C_OPTIONS, *args], with_extended_output=True, with_exceptions=False,
                stdout_as_string=False, strip_newline_in_stdout=False, env=self._env(env),
                kill_after_timeout=timeout)
        except self._not_found:
            raise UsageError(*_NO_GIT) from None
        return status, out or b"", err or ""

    def out(self, *args: str, env: Mapping[str, str] | None = None) -> bytes:
        """stdout of a git command; GitFailed if it fails."""
        status, out, err = self.run(*args, env=env)
        if status != 0:
            raise GitFailed(args, status, err)
        return out

    def text(self, *args: str, env: Mapping[str, str] | None = None) -> str:
        return decode(self.out(*args, env=env)).strip()

    def ok(self, *args: str, env: Mapping[str, str] | None = None) -> bool:
        """Whether a git command succeeds (for yes/no questions such as `merge-base --is-ancestor`)."""
        return self.run(*args, env=env)[0] == 0

    def feed(self, *args: str, data: bytes, env: Mapping[str, str] | None = None) -> bytes:
        """stdout of a git command given `data` on stdin; GitFailed if it fails."""
        with self._process(args, env, stdin=subprocess.PIPE) as proc:
            out, err = proc.communicate(data)
        if proc.returncode != 0:
            raise GitFailed(args, proc.returncode, decode(err or b""))
        return out or b""

    @contextmanager
    def stream(self, *args: str, env: Mapping[str, str] | None = None,
               stdin: IO[bytes] | None = None) -> Iterator[IO[bytes]]:
        """Yield git's stdout to read incrementally; GitFailed if git fails.

        stderr is drained by a thread (keeping its tail), so a chatty git never blocks on a full pipe.
        """
        with self._process(args, env, stdin=stdin) as proc:
            tail = _Drain(proc.stderr)
            try:
                yield proc.stdout
            finally:
                proc.stdout.close()
                status = proc.wait()
                tail.join()
        if status != 0:
            raise GitFailed(args, status, tail.text())

    @contextmanager
    def _process(self, args: tuple[str, ...], env: Mapping[str, str] | None, *,
                 stdin: Any = None) -> Iterator[subprocess.Popen[bytes]]:
        try:
            handle = self._runner.execute(["git", *C_OPTIONS, *args], as_process=True, istream=stdin,
                                          env=self._env(env))
        except self._not_found:
            raise UsageError(*_NO_GIT) from None
        proc: subprocess.Popen[bytes] = handle.proc
        try:
            yield proc
        finally:
            if proc.poll() is None:  # interrupted while reading: do not leave git running
                proc.kill()
                proc.wait()


class _Drain(threading.Thread):
    """Reads a pipe to its end, keeping the last 64 KB."""

    def __init__(self, pipe: IO[bytes] | None) -> None:
        super().__init__(daemon=True)
        self._pipe = pipe
        self._tail = b""
        self.start()

    def run(self) -> None:
        if self._pipe is None:
            return
        while chunk := self._pipe.read(65536):
            self._tail = (self._tail + chunk)[-65536:]

    def text(self) -> str:
        return decode(self._tail)


# ---------------------------------------------------------------------------------------------
# Small questions other rooms ask (doctor, config, hooks): they come here instead of running git


def version() -> str | None:
    """`git version` (e.g. "2.39.5"), None when git is not installed."""
    try:
        status, out, _ = Git(os.getcwd() if os.path.isdir(os.getcwd()) else "/").run("version")
    except (UsageError, FileNotFoundError):
        return None
    text = decode(out).strip()
    return text.removeprefix("git version ").strip() if status == 0 and text else None


def available() -> bool:
    return version() is not None


def config_values(cwd: str | None, pattern: str) -> dict[str, str]:
    """Git config entries whose key matches the regex `pattern` ({key: value}; the last value wins, as in git:
    local config overrides global); {} outside a repo or on error."""
    try:
        git = Git(cwd or os.getcwd())
        status, out, _ = git.run("config", "-z", "--get-regexp", pattern, timeout=5)
    except (UsageError, OSError):
        return {}
    found: dict[str, str] = {}
    for entry in out.split(b"\0") if status == 0 else []:
        key, _, value = decode(entry).partition("\n")
        if key:
            found[key] = value
    return found


def toplevel(cwd: str) -> str | None:
    """The work tree's top level holding `cwd`, None outside one."""
    try:
        status, out, _ = Git(cwd).run("rev-parse", "--show-toplevel")
    except (UsageError, OSError):
        return None
    return decode(out).strip() or None if status == 0 else None


def run_in(cwd: str | os.PathLike[str] | None, *args: str, timeout: float | None = 20,
           quiet: bool = False) -> tuple[int, str, str]:
    """(status, stdout text, stderr text) of one git command for rooms outside `repo/` (install, hooks);
    status 127 with a reason when git cannot be run at all. Never raises."""
    try:
        status, out, err = Git(os.fspath(cwd) if cwd else os.getcwd(), quiet=quiet).run(*args, timeout=timeout)
    except (UsageError, OSError) as exc:
        return 127, "", str(exc)
    return status, decode(out), err
