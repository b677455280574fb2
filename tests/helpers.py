"""Test helpers: real git repos in temp dirs, the CLI run as a real subprocess or in this process."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.com",
    "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0",
}


def git(cwd: Path | str, *args: str, check: bool = True) -> str:
    env = {**os.environ, **GIT_ENV}
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {done.stderr}")
    return done.stdout


def write(root: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


def make_repo(path: Path, files: dict[str, str | bytes] | None = None,
              remote: str | None = "https://github.com/acme/widgets.git", push: bool = True) -> Path:
    """A repo with one commit of `files`; with `remote`, a bare local 'origin' whose URL is rewritten
    to look like `remote` for the slug while fetch/push go to the bare repo."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "commit.gpgsign", "false")
    write(path, files or {"README.md": "hello\n"})
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    if remote:
        bare = path.parent / (path.name + "-origin.git")
        git(path.parent, "init", "-q", "--bare", str(bare))
        git(path, "remote", "add", "origin", remote)
        git(path, "config", f"url.{bare}.insteadOf", remote)
        if push:
            git(path, "push", "-q", "-u", "origin", "main")
    return path


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    def json(self):
        return json.loads(self.stdout)

    def json_lines(self) -> list:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]


def run_cli(*args: str, cwd: Path | str | None = None, env: dict[str, str] | None = None,
            input: str | None = None, timeout: float = 60) -> Result:
    """Run `python -m handoff ARGS` as a real process; DEVIN_* variables come only from `env`."""
    # bytecode is kept, as for an installed package: without it every run compiles the package again
    base = {k: v for k, v in os.environ.items() if not k.startswith("DEVIN_") and k != "PYTHONDONTWRITEBYTECODE"}
    full_env = {**base, **GIT_ENV, "NO_COLOR": "1", **(env or {})}
    done = subprocess.run([sys.executable, "-m", "handoff", *args], cwd=cwd, env=full_env, input=input,
                          capture_output=True, text=True, timeout=timeout, check=False)
    return Result(done.returncode, done.stdout, done.stderr)


def run_cli_here(*args: str, cwd: Path | str | None = None, env: dict[str, str] | None = None,
                 input: str | None = None) -> Result:
    """Run the CLI's `main` in this process, for tests where a separate process is not the point: the same
    parsing, exit codes, stdout and stderr, and time from `handoff.runtime.DEFAULT` (a fake clock when the
    test installs one, so retries and follow-ups run for real without waiting). Not thread-safe."""
    from handoff.cli import main

    saved_env, saved_cwd, saved_stdin = dict(os.environ), os.getcwd(), sys.stdin
    stdout, stderr = io.StringIO(), io.StringIO()
    for name in [k for k in os.environ if k.startswith("DEVIN_")]:
        del os.environ[name]
    os.environ.update({**GIT_ENV, "NO_COLOR": "1", **(env or {})})
    sys.stdin = io.StringIO(input or "")
    code = 0
    try:
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                main(list(args))
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        os.chdir(saved_cwd)
        sys.stdin = saved_stdin
        os.environ.clear()
        os.environ.update(saved_env)
    return Result(code, stdout.getvalue(), stderr.getvalue())
