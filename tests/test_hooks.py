"""Agent hooks end to end: `python -m handoff hook …` as a real process, real repos, the JSON each agent sends."""

from __future__ import annotations

import json
import os
import resource
import shlex
import time
from pathlib import Path

import pytest
from helpers import git, make_repo, run_cli, write

from handoff.agent_hooks import shell as hooks

# Fake, real-shaped: AWS's documented example key id.
AWS_KEY = "AKIAIOSFODNN7EXAMPLE"  # pragma: allowlist secret
FAKE_DEVIN_KEY = "cog_" + "s3cr3tvalue" * 3
HOOK_BUDGET_SECONDS = 2.0  # CPU per hook run: each hook does ~1 s of work at most
HOOK_WALL_LIMIT_SECONDS = 20.0  # a hang, not a slow machine


@pytest.fixture
def clean_repo(tmp_path: Path) -> Path:
    root = make_repo(tmp_path / "widgets", {"src/app.py": "def main():\n    return 1\n"})
    write(root, {"src/app.py": "def main():\n    return 2\n"})
    return root


@pytest.fixture
def secret_repo(tmp_path: Path) -> Path:
    root = make_repo(tmp_path / "leaky", {"src/app.py": "def main():\n    return 1\n"})
    write(root, {"src/settings.py": f'REGION = "eu"\nAWS_ACCESS_KEY_ID = "{AWS_KEY}"\n'})
    return root


def run_hook(event: str, payload: object, cwd: Path, env: dict[str, str] | None = None,
             raw: str | None = None, args: tuple[str, ...] = ()):
    """The hook as the agent runs it. Its cost is measured as CPU time (the process and the git it runs), which
    holds on a loaded machine where wall time does not; wall time only has to stay clear of a hang."""
    stdin = raw if raw is not None else json.dumps(payload)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    result = run_cli("hook", event, *args, cwd=cwd, env=env, input=stdin)
    elapsed = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert cpu < HOOK_BUDGET_SECONDS, f"hook {event} used {cpu:.2f} s of CPU"
    assert elapsed < HOOK_WALL_LIMIT_SECONDS, f"hook {event} took {elapsed:.2f} s"
    return result


def claude_payload(command: str, cwd: Path) -> dict:
    return {"session_id": "s1", "transcript_path": "/tmp/t.jsonl", "cwd": str(cwd), "permission_mode": "default",
            "hook_event_name": "PreToolUse", "tool_name": "Bash", "tool_use_id": "toolu_1",
            "tool_input": {"command": command, "description": "hand off"}}


def cursor_payload(command: str, cwd: Path) -> dict:
    """beforeShellExecution's stdin as Cursor documents it (common fields, then command and cwd)."""
    return {"conversation_id": "c1", "generation_id": "g1", "model": "claude-4-sonnet",
            "hook_event_name": "beforeShellExecution", "cursor_version": "2.1.46",
            "workspace_roots": [str(cwd)], "user_email": "dev@example.com", "transcript_path": None,
            "command": command, "cwd": str(cwd), "sandbox": False}


# -- PreToolUse (Claude Code / Codex) ----------------------------------------------------------------

def test_pre_tool_use_allows_a_clean_handoff_silently(clean_repo: Path):
    result = run_hook("pre-tool-use", claude_payload('devin-handoff create --task "fix it" --detach', clean_repo),
                      clean_repo)
    assert result.code == 0, result.stderr
    assert result.stdout == ""


def assert_agent_text(text: str) -> None:
    """The text a model reads: the masked finding, stop and tell the user, or redact; no way past the gate."""
    assert "src/settings.py:2" in text and "AWS" in text
    assert "tell the user" in text and "--redact" in text
    for bypass in ("allowlist", "baseline", "--no-verify"):
        assert bypass not in text
    assert AWS_KEY not in text


def assert_person_text(text: str) -> None:
    assert "src/settings.py:2" in text
    assert "pragma: allowlist secret" in text and ".secrets.baseline" in text and "--redact" in text
    assert AWS_KEY not in text


def test_pre_tool_use_denies_a_handoff_carrying_a_secret(secret_repo: Path):
    command = f'cd {shlex.quote(str(secret_repo))} && FOO=1 devin-handoff create --task "fix the config" 2>&1'
    result = run_hook("pre-tool-use", claude_payload(command, secret_repo.parent), secret_repo.parent)
    assert result.code == 0, result.stderr
    reply = result.json()
    assert set(reply) == {"hookSpecificOutput"}  # no systemMessage: some hosts hand it to the model too
    output = reply["hookSpecificOutput"]
    assert output["hookEventName"] == "PreToolUse"
    assert output["permissionDecision"] == "deny"
    assert_agent_text(output["permissionDecisionReason"])
    assert_person_text(result.stderr)
    assert AWS_KEY not in result.stdout + result.stderr


def test_pre_tool_use_git_handoff_and_codex_argv_form(secret_repo: Path):
    payload = claude_payload("", secret_repo)
    payload["tool_input"]["command"] = ["bash", "-lc", "git handoff create -t 'ship it'"]
    result = run_hook("pre-tool-use", payload, secret_repo)
    assert result.json()["hookSpecificOutput"]["permissionDecision"] == "deny"
    assert AWS_KEY not in result.stdout


def test_pre_tool_use_allows_redact_and_stdin_context(secret_repo: Path):
    for command in ('devin-handoff create --task x --redact', 'echo notes | devin-handoff create -t x --context -'):
        result = run_hook("pre-tool-use", claude_payload(command, secret_repo), secret_repo)
        assert (result.code, result.stdout) == (0, ""), command


def test_pre_tool_use_gates_the_context_file(clean_repo: Path):
    write(clean_repo.parent, {"notes.md": f"the key is {AWS_KEY}\n"})
    result = run_hook("pre-tool-use",
                      claude_payload("devin-handoff create -t x --context-file ../notes.md", clean_repo), clean_repo)
    reason = result.json()["hookSpecificOutput"]["permissionDecisionReason"]
    assert "context:1" in reason and AWS_KEY not in reason


def test_pre_tool_use_ignores_unrelated_commands_fast(secret_repo: Path):
    for command in ("ls -la", "git status", "echo handoff", "pytest -q"):
        result = run_hook("pre-tool-use", claude_payload(command, secret_repo), secret_repo)
        assert (result.code, result.stdout) == (0, ""), command


@pytest.mark.parametrize("stdin", ["", "not json", "[1, 2]"])
def test_hooks_tolerate_bad_stdin(stdin: str, tmp_path: Path):
    for event in ("pre-tool-use", "session-start"):
        result = run_hook(event, None, tmp_path, raw=stdin)
        assert (result.code, result.stdout) == (0, ""), (event, result.stderr)


def test_pre_tool_use_tolerates_odd_tool_input(tmp_path: Path):
    for tool_input in ("odd", {"command": 42}, {"command": None}, {}):
        result = run_hook("pre-tool-use", {"cwd": "/no/such/dir", "tool_input": tool_input}, tmp_path)
        assert (result.code, result.stdout) == (0, ""), (tool_input, result.stderr)


def test_unknown_event_exits_zero(tmp_path: Path):
    result = run_hook("post-something", {}, tmp_path)
    assert result.code == 0 and result.stdout == ""


# -- Cursor beforeShellExecution ---------------------------------------------------------------------

def test_cursor_never_allows_on_the_users_behalf(clean_repo: Path):
    """`allow` would skip Cursor's approval prompt; a hook with nothing to say gives no decision."""
    for command in ("npm test", "rm -rf build", 'devin-handoff create --task "fix it"', "git handoff list"):
        result = run_hook("cursor-before-shell", cursor_payload(command, clean_repo), clean_repo)
        assert result.code == 0
        assert result.json() == {}, command
        assert "allow" not in result.stdout


def test_cursor_denies_a_secret_with_one_text_for_the_agent_and_one_for_the_user(secret_repo: Path):
    result = run_hook("cursor-before-shell", cursor_payload("devin-handoff create -t 'go'", secret_repo), secret_repo)
    reply = result.json()
    assert reply["permission"] == "deny"
    assert_agent_text(reply["agent_message"])
    assert_person_text(reply["user_message"])
    assert AWS_KEY not in result.stdout


def test_cursor_payload_without_cwd_uses_the_workspace_root(secret_repo: Path, tmp_path: Path):
    payload = cursor_payload("devin-handoff create -t go", secret_repo)
    payload["cwd"] = ""  # seen in the wild: an empty cwd
    result = run_hook("cursor-before-shell", payload, tmp_path)
    assert result.json()["permission"] == "deny"


@pytest.mark.parametrize("stdin", ["{broken", "", "[]"])
def test_cursor_bad_stdin_gives_no_decision(stdin: str, tmp_path: Path):
    result = run_hook("cursor-before-shell", None, tmp_path, raw=stdin)
    assert result.code == 0 and result.json() == {}


def test_a_hook_failure_of_ours_gives_no_decision(secret_repo: Path, tmp_path: Path):
    """A crash inside the guard must neither allow nor block: Cursor's own approval decides."""
    broken = tmp_path / "broken"
    (broken / "detect_secrets").mkdir(parents=True)
    (broken / "detect_secrets" / "__init__.py").write_text("raise RuntimeError('broken install')\n")
    env = {"PYTHONPATH": str(broken)}
    result = run_hook("cursor-before-shell", cursor_payload("devin-handoff create -t go", secret_repo), secret_repo,
                      env=env)
    assert (result.code, result.json()) == (0, {})
    assert "skipped" in result.stderr
    result = run_hook("pre-tool-use", claude_payload("devin-handoff create -t go", secret_repo), secret_repo, env=env)
    assert (result.code, result.stdout) == (0, "")


# -- SessionStart --------------------------------------------------------------------------------------

def _journal(state: Path, root: Path, **fields) -> None:
    os.environ["XDG_STATE_HOME"] = str(state)  # conftest isolates it; record where the subprocess will look
    from handoff import journal

    journal.record_session(journal.JournalEntry(url=f"https://app.devin.ai/sessions/{fields['session_id'][6:]}",
                                                client_tag="handoff-000000000000", repo_root=str(root),
                                                repo_slug="acme/widgets", api_version="v3", **fields))


def test_session_start_shows_this_repos_news_and_never_the_key(clean_repo: Path, tmp_path: Path):
    state = tmp_path / "state"
    other = make_repo(tmp_path / "other")
    question = "Which database should the migration target? " + "details " * 80
    _journal(state, clean_repo, session_id="devin-aaa111", title="Fix CI", status="exit",
             status_detail="finished", outcome="finished", pr_urls=("https://github.com/acme/widgets/pull/7",))
    _journal(state, clean_repo, session_id="devin-bbb222", title="Migrate db", status="running",
             status_detail="waiting_for_user", last_devin_message=question)
    _journal(state, clean_repo, session_id="devin-ccc333", title="Refactor", status="error")
    _journal(state, other, session_id="devin-ddd444", title="Elsewhere", status="running")
    payload = {"session_id": "s1", "cwd": str(clean_repo / "src"), "hook_event_name": "SessionStart",
               "source": "startup"}
    result = run_hook("session-start", payload, clean_repo,
                      env={"XDG_STATE_HOME": str(state), "DEVIN_API_KEY": FAKE_DEVIN_KEY})
    assert result.code == 0, result.stderr
    output = result.json()["hookSpecificOutput"]
    assert output["hookEventName"] == "SessionStart"
    text = output["additionalContext"]
    assert "DEVIN_API_KEY is set" in text
    assert "devin-aaa111" in text and "finished" in text and "/pull/7" in text
    assert "devin-bbb222" in text and "waiting for you" in text and "Which database" in text
    assert "devin-ccc333" in text and "failed" in text
    assert "devin-ddd444" not in text  # another repo's session
    assert len(text.splitlines()) <= 10
    assert len(question) > 300 and "details " * 60 not in text  # Devin's message is cut
    assert FAKE_DEVIN_KEY not in result.stdout + result.stderr
    assert "s3cr3tvalue" not in result.stdout + result.stderr


def test_session_start_without_key_or_repo(tmp_path: Path):
    result = run_hook("session-start", {"cwd": str(tmp_path), "hook_event_name": "SessionStart"}, tmp_path)
    text = result.json()["hookSpecificOutput"]["additionalContext"]
    assert "DEVIN_API_KEY is not set" in text and len(text.splitlines()) == 1


# -- git pre-push --------------------------------------------------------------------------------------

def test_pre_push_stops_outgoing_secret_and_lets_clean_commits_go(tmp_path: Path):
    root = make_repo(tmp_path / "pushy", {"a.txt": "one\n"})
    write(root, {"b.txt": "two\n"})
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "clean")
    head = git(root, "rev-parse", "HEAD").strip()
    remote = git(root, "rev-parse", "origin/main").strip()
    clean = run_hook("pre-push", None, root, raw=f"refs/heads/main {head} refs/heads/main {remote}\n",
                     args=("origin", "https://github.com/acme/widgets.git"))
    assert (clean.code, clean.stderr) == (0, "")
    write(root, {"conf.py": f'KEY = "{AWS_KEY}"\n'})
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "leak")
    head = git(root, "rev-parse", "HEAD").strip()
    leak = run_hook("pre-push", None, root, raw=f"refs/heads/main {head} refs/heads/main {remote}\n",
                    args=("origin", "https://github.com/acme/widgets.git"))
    assert leak.code == 1
    assert "conf.py:1" in leak.stderr and AWS_KEY not in leak.stderr
    # A new branch (remote oid all zeros): only commits the remote lacks are scanned.
    zero = "0" * 40
    new_branch = run_hook("pre-push", None, root, raw=f"refs/heads/topic {head} refs/heads/topic {zero}\n",
                          args=("origin", "https://github.com/acme/widgets.git"))
    assert new_branch.code == 1 and "conf.py:1" in new_branch.stderr and "b.txt" not in new_branch.stderr
    deletion = run_hook("pre-push", None, root, raw=f"(delete) {zero} refs/heads/old {remote}\n",
                        args=("origin", "https://github.com/acme/widgets.git"))
    assert (deletion.code, deletion.stderr) == (0, "")


# -- command-line parsing (in process) ------------------------------------------------------------------

def test_find_handoff_calls_reads_shell_forms(tmp_path: Path):
    sub = tmp_path / "sub"
    sub.mkdir()
    calls = hooks.find_handoff_calls(
        f"cd {sub} && A=1 env B=2 devin-handoff create --task 'a && b' > out.log 2>&1; git -C {tmp_path} handoff "
        "create -t y\npython -m handoff scan", str(tmp_path))
    assert [(c.subcommand, c.args, c.cwd) for c in calls] == [
        ("create", ("--task", "a && b"), str(sub)),
        ("create", ("-t", "y"), str(tmp_path)),
        ("scan", (), str(sub)),  # `cd` holds for the rest of the script
    ]
    assert hooks.find_handoff_calls("git status && echo done", str(tmp_path)) == []
    with pytest.raises(hooks.Unparsable):
        hooks.find_handoff_calls("devin-handoff create --task 'unclosed", str(tmp_path))
