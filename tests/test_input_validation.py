"""Bad input is refused first, with a one-line reason and DESIGN.md's exit code, before any request: the API
key (whitespace around it is forgiven, inside it is not; never echoed or stored), the API URL, and standard
input for `--task -` / `--context -` (one reader, one limit, an error past it; closed stdin is a usage error)."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import GIT_ENV, make_repo, run_cli_here, write

from handoff.cli.options import MAX_TEXT_BYTES
from handoff.config import check_api_url
from handoff.errors import UsageError
from handoff.simulator import Simulator


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(step_seconds=600) as running:
        yield running


def _secret_part() -> str:
    return secrets.token_hex(12)


def _key(body: str) -> str:
    return "cog_" + body  # built at test time: no key-shaped literal in the repo


def _env(sim: Simulator, key: str, **extra: str) -> dict[str, str]:
    return {"DEVIN_API_URL": sim.base_url, "DEVIN_API_KEY": key, "DEVIN_ORG_ID": sim.org_id, **extra}


def _state_files_text() -> str:
    root = Path(os.environ["XDG_STATE_HOME"])
    return "".join(p.read_text(errors="replace") for p in root.rglob("*") if p.is_file())


def _new_session(sim: Simulator, key: str) -> str:
    done = run_cli_here("create", "--task", "validation target", "--detach", "--json", "--allow-partial", cwd="/",
                        env=_env(sim, key))
    assert done.code == 0, done
    return json.loads(done.stdout.splitlines()[-1])["session_id"]


# -- the API key ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("around", ["{}\r", "{}\r\n", "  {}  ", "\t{}\n"])
def test_whitespace_around_the_key_is_stripped(sim: Simulator, around: str) -> None:
    key = _key(_secret_part())
    session_id = _new_session(sim, key)
    env = {**_env(sim, around.format(key)), "DEVIN_ORG_ID": around.format(sim.org_id),
           "DEVIN_API_URL": around.format(sim.base_url)}  # the whole .env came from Windows
    done = run_cli_here("status", session_id, "--json", env=env)
    assert done.code == 0, done
    assert done.json()["session_id"] == session_id


@pytest.mark.parametrize(("shape", "reason"), [
    ("{a} {b}", "contains whitespace inside it"),
    ("{a}\r{b}", "contains whitespace inside it"),   # a CR inside: Python counts it as whitespace
    ("{a}\x1b{b}", "contains a control character"),
    ("{a}\u00e9{b}", "contains a non-ASCII character"),
    ("{a}\u200b{b}", "contains a non-ASCII character"),
])
def test_a_key_a_header_cannot_carry_is_refused_at_once_and_never_echoed(sim: Simulator, tmp_path: Path,
                                                                          shape: str, reason: str) -> None:
    first, second = _secret_part(), _secret_part()
    key = _key(shape.format(a=first, b=second))
    repo = make_repo(tmp_path / "r", {"a.txt": "one\n"})
    write(repo, {"a.txt": "two\n"})
    requests_before = len(sim.requests)
    for args in (("create", "--task", "fix it", "--detach"), ("status", "devin-" + "e" * 32),
                 ("tail", "devin-" + "e" * 32)):
        started = time.monotonic()
        done = run_cli_here(*args, cwd=repo, env=_env(sim, key))
        assert done.code == 4, (args, done)
        assert time.monotonic() - started < 5  # refused at once, not after retries
        lines = done.stderr.strip().splitlines()
        assert lines[-1].startswith(f"devin-handoff: DEVIN_API_KEY {reason}"), done.stderr
        assert "Traceback" not in done.stderr and "internal error" not in done.stderr
        for part in (first, second, first[:8], second[:8]):
            assert part not in done.stderr and part not in done.stdout
    assert len(sim.requests) == requests_before, "a request went out with a bad key"
    state = _state_files_text()
    assert first not in state and second not in state  # nothing stored: no outbox entry carries it


# -- the API URL ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("url", "words"), [
    ("api.devin.ai", "must be an https URL (it has no scheme://host)"),
    ("ftp://api.devin.ai", "must be an https URL (it has ftp://)"),
    ("http://[::1", "is not a valid URL"),
    ("https://api.devin.ai:99999", "is not a valid URL"),
    ("https://api.devin.ai/?org=1", "must not have a ?query or #fragment"),
    ("https://api.devin.ai#top", "must not have a ?query or #fragment"),
    ("https://someone:{pw}@api.devin.ai", "must not carry a user or password"),
    ("http://api.devin.ai", "uses http:// to api.devin.ai"),
])
def test_a_bad_api_url_is_a_usage_error_at_once(url: str, words: str) -> None:
    password = _secret_part()
    url = url.format(pw=password)
    for args, env, source in ((("status", "devin-" + "f" * 32), {"DEVIN_API_URL": url}, "DEVIN_API_URL"),
                              (("list", "--api-url", url), {}, "--api-url")):
        started = time.monotonic()
        done = run_cli_here(*args, env={"DEVIN_API_KEY": _key(_secret_part()), "DEVIN_ORG_ID": "org-x", **env})
        assert done.code == 2, (url, done)
        assert time.monotonic() - started < 5
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert f"devin-handoff: {source} {words}" in done.stderr, done.stderr
        assert password not in done.stderr


@pytest.mark.parametrize(("url", "expected"), [
    ("https://api.devin.ai/", "https://api.devin.ai"),
    ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
    ("http://localhost:5/", "http://localhost:5"),
    ("http://[::1]:9000", "http://[::1]:9000"),
    (" https://proxy.example.com/devin/ ", "https://proxy.example.com/devin"),
])
def test_good_api_urls_pass(url: str, expected: str) -> None:
    assert check_api_url(url, "DEVIN_API_URL") == expected


def test_a_bad_git_config_api_url_is_named(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"a.txt": "one\n"})
    subprocess.run(["git", "config", "handoff.apiUrl", "ftp://x"], cwd=repo, check=True, env={**os.environ, **GIT_ENV})
    done = run_cli_here("list", cwd=repo, env={"DEVIN_API_KEY": _key(_secret_part())})
    assert done.code == 2 and "git config handoff.apiUrl must be an https URL" in done.stderr, done
    with pytest.raises(UsageError):
        check_api_url("file:///etc/passwd", "x")


def test_git_config_settings_apply_and_only_a_create_reads_the_user_id(tmp_path: Path, monkeypatch) -> None:
    from handoff.app.settings import load_settings
    from handoff.config import resolve_settings

    repo = make_repo(tmp_path / "r", {"a.txt": "one\n"})
    for key, value in (("handoff.orgId", "org-git"), ("handoff.userId", "user-first"), ("handoff.userId", "user-git")):
        subprocess.run(["git", "config", "--add", key, value], cwd=repo, check=True, env={**os.environ, **GIT_ENV})
    for name in ("DEVIN_ORG_ID", "DEVIN_USER_ID", "DEVIN_API_URL"):
        monkeypatch.delenv(name, raising=False)
    creating = load_settings(cwd=str(repo))
    assert (creating.org_id, creating.user_id) == ("org-git", "user-git")   # the last value wins, as in git
    reading = load_settings(cwd=str(repo), creates_sessions=False)
    assert (reading.org_id, reading.user_id) == ("org-git", None)
    monkeypatch.setenv("DEVIN_USER_ID", " user-env ")
    assert load_settings(cwd=str(repo), creates_sessions=False).user_id == "user-env"

    def no_git() -> dict[str, str]:
        raise AssertionError("git config read although flags and the environment settle every value")

    monkeypatch.setenv("DEVIN_API_URL", "https://api.devin.ai")
    monkeypatch.setenv("DEVIN_ORG_ID", "org-env")
    monkeypatch.delenv("DEVIN_USER_ID")
    assert resolve_settings(no_git, creates_sessions=False).user_id is None


# -- standard input -----------------------------------------------------------------------------------------

def test_task_dash_reads_stdin_and_never_sends_a_dash(tmp_path: Path) -> None:
    done = run_cli_here("create", "--task", "-", "--dry-run", "--json", cwd=tmp_path,
                        input="Fix the parser\nIt drops the last token.\n")
    assert done.code == 0, done
    body = done.json()
    assert body["title"] == "Fix the parser"
    assert "```text\nFix the parser\nIt drops the last token.\n```" in body["prompt"]


@pytest.mark.parametrize("option", ["--task", "--context"])
def test_stdin_past_the_limit_is_an_error_not_a_cut(tmp_path: Path, option: str) -> None:
    args = ["create", "--dry-run", "--json", option, "-"] + (["--task", "t"] if option == "--context" else [])
    exact = run_cli_here(*args, cwd=tmp_path, input="x" * 50_000)
    assert exact.code == 0, exact
    over = run_cli_here(*args, cwd=tmp_path, input="y" * (MAX_TEXT_BYTES + 1))
    assert over.code == 2, over
    assert f"{option} -: standard input is larger than {MAX_TEXT_BYTES:,} bytes" in over.stderr


def test_context_file_has_the_same_limit(tmp_path: Path) -> None:
    big = tmp_path / "log.txt"
    big.write_bytes(b"z" * (MAX_TEXT_BYTES + 1))
    done = run_cli_here("create", "--dry-run", "--task", "t", "--context-file", str(big), cwd=tmp_path)
    assert done.code == 2 and f"is larger than {MAX_TEXT_BYTES:,} bytes" in done.stderr, done


def test_task_and_context_cannot_both_read_stdin_and_an_empty_task_is_refused(tmp_path: Path) -> None:
    both = run_cli_here("create", "--dry-run", "--task", "-", "--context", "-", cwd=tmp_path, input="x")
    assert both.code == 2 and "both read standard input" in both.stderr
    empty = run_cli_here("create", "--dry-run", "--task", "-", cwd=tmp_path, input="  \n")
    assert empty.code == 2 and "empty" in empty.stderr


def _run_with_closed(fd: int, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEVIN_")}
    return subprocess.run([sys.executable, "-m", "handoff", *args], cwd=cwd, env={**env, **GIT_ENV},
                          capture_output=True, text=True, timeout=60, check=False,
                          preexec_fn=lambda: os.close(fd))


@pytest.mark.parametrize("args", [("create", "--dry-run", "--task", "-"),
                                  ("create", "--dry-run", "--task", "t", "--context", "-"),
                                  ("mcp",)])
def test_closed_stdin_is_a_usage_error(tmp_path: Path, args: tuple[str, ...]) -> None:
    done = _run_with_closed(0, *args, cwd=tmp_path)
    assert done.returncode == 2, done
    assert "standard input" in done.stderr and "closed" in done.stderr
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr


def test_closed_stdout_under_json_is_no_crash(tmp_path: Path) -> None:
    done = _run_with_closed(1, "create", "--dry-run", "--json", "--task", "t", "--allow-partial", cwd=tmp_path)
    assert done.returncode == 0, done
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr
