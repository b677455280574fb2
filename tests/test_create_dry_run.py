"""`create --dry-run` and `scan` end to end: real repos, no key, no network. The main paths (the exact body, the
summary on stderr, a blocking secret, no key, the git alias) run the CLI as a real process; the other cases run its
`main` in this process (same parsing, output and exit codes)."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest
from helpers import git, make_repo, run_cli, run_cli_here, write

from handoff.tags import HANDOFF_TAG

# Fake, real-shaped: AWS's documented example key id.
AWS_KEY = "AKIAIOSFODNN7EXAMPLE"  # pragma: allowlist secret


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = make_repo(tmp_path / "widgets", {"src/app.py": "def main():\n    return 1\n", "README.md": "hi\n"})
    write(root, {"src/app.py": "def main():\n    return 2\n", "notes/new file.txt": "untracked ü\n"})
    return root


def test_dry_run_json_is_the_exact_v3_body(repo: Path):
    result = run_cli("create", "--task", "Fix the flaky test\nin detail", "--tag", "ci", "--dry-run", "--json",
                     cwd=repo)
    assert result.code == 0, result.stderr
    body = result.json()
    assert body["title"] == "Fix the flaky test"
    assert body["tags"][0] == HANDOFF_TAG and re.fullmatch(r"handoff-[0-9a-f]{12}", body["tags"][1])
    assert body["tags"][2:] == ["ci"]
    assert "repos" not in body  # undocumented semantics: the repository is named in the prompt's facts
    assert "idempotent" not in body
    prompt = body["prompt"]
    assert prompt.startswith("## Task\n\n```text\nFix the flaky test\nin detail\n```")
    assert "-    return 1\n+    return 2\n" in prompt
    assert "+untracked ü" in prompt  # untracked files travel as new-file diffs
    facts = json.loads(re.search(r"```json\n(.*?)\n```", prompt, re.S).group(1))
    assert facts["repository"] == "acme/widgets" and facts["branch"] == "main"
    assert facts["base_commit"] == git(repo, "rev-parse", "HEAD").strip()
    assert {f["path"] for f in facts["files"]} == {"src/app.py", "notes/new file.txt"}


def test_dry_run_with_an_apk_key_builds_the_v1_body(repo: Path):
    result = run_cli_here("create", "--task", "t", "--dry-run", "--json", cwd=repo,
                     env={"DEVIN_API_KEY": "apk_user_" + "x" * 24})
    assert result.code == 0, result.stderr
    body = result.json()
    assert body["idempotent"] is True and "repos" not in body


def test_dry_run_human_summary_on_stderr(repo: Path):
    result = run_cli("create", "--task", "Fix it", "--dry-run", cwd=repo)
    assert result.code == 0, result.stderr
    assert result.stdout == ""
    assert "acme/widgets" in result.stderr and "src/app.py" in result.stderr
    assert "nothing was sent" in result.stderr


def test_secret_in_diff_blocks_with_exit_3_and_never_shows_the_value(repo: Path):
    write(repo, {"config/settings.py": f'AWS_ACCESS_KEY_ID = "{AWS_KEY}"\n'})
    result = run_cli("create", "--task", "Fix it", "--dry-run", cwd=repo)
    assert result.code == 3, result.stderr
    assert "config/settings.py:1" in result.stderr and "AWS" in result.stderr
    assert AWS_KEY not in result.stderr + result.stdout
    scanned = run_cli("scan", "--json", cwd=repo)
    assert scanned.code == 3
    report = scanned.json()
    assert report["blocked"] is True
    assert any(f["file"] == "config/settings.py" and f["line"] == 1 for f in report["findings"])
    assert AWS_KEY not in scanned.stdout + scanned.stderr


def test_secret_in_task_or_context_blocks(repo: Path):
    result = run_cli_here("create", "--task", f"use key {AWS_KEY} to deploy", "--dry-run", cwd=repo)
    assert result.code == 3 and "task:1" in result.stderr
    result = run_cli_here("create", "--task", "deploy", "--context", "-", "--dry-run", cwd=repo,
                     input=f"notes\nkey={AWS_KEY}\n")
    assert result.code == 3 and "context:2" in result.stderr


def test_redact_replaces_the_value_and_goes_on(repo: Path):
    write(repo, {"deploy.sh": f"export AWS_ACCESS_KEY_ID={AWS_KEY}\n"})
    result = run_cli_here("create", "--task", "t", "--dry-run", "--json", "--redact", cwd=repo)
    assert result.code == 0, result.stderr
    assert AWS_KEY not in result.stdout
    assert "[REDACTED" in result.json()["prompt"]
    assert "redacted" in result.stderr


def test_outside_a_repo_the_task_goes_alone(tmp_path: Path):
    result = run_cli_here("create", "--task", "Write a haiku", "--dry-run", "--json", cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert "not in a git repository" in result.stderr
    assert "outside a git repository" in result.json()["prompt"]


def test_bad_input_gets_a_reason_and_exit_2(repo: Path):
    no_task = run_cli_here("create", "--dry-run", cwd=repo)
    assert no_task.code == 2 and "task" in no_task.stderr and "Traceback" not in no_task.stderr
    both = run_cli_here("create", "--task", "t", "--context", "a", "--context-file", "b", "--dry-run", cwd=repo)
    assert both.code == 2 and "Traceback" not in both.stderr
    missing = run_cli_here("create", "--task", "t", "--context-file", "nope.txt", "--dry-run", cwd=repo)
    assert missing.code == 2 and "nope.txt" in missing.stderr


def test_create_without_a_key_is_a_config_error(repo: Path):
    result = run_cli("create", "--task", "t", cwd=repo)
    assert result.code == 4 and "DEVIN_API_KEY" in result.stderr


def test_credentials_in_the_remote_url_never_leave(tmp_path: Path):
    token = "ghp_" + "A1b2C3d4" * 4 + "zz99"  # pragma: allowlist secret
    root = make_repo(tmp_path / "r", remote=f"https://user:{token}@github.com/acme/secretive.git")
    write(root, {"a.txt": "change\n"})
    result = run_cli_here("create", "--task", "t", "--dry-run", "--json", cwd=root)
    assert result.code == 0, result.stderr
    assert token not in result.stdout + result.stderr
    assert '"repository": "acme/secretive"' in result.json()["prompt"]


def test_git_alias_from_a_subdirectory_honours_git_prefix(repo: Path):
    write(repo, {"src/ctx.md": "context from a file\n"})
    alias = f"!{sys.executable} -m handoff"
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("DEVIN_API_KEY", None)
    import subprocess

    done = subprocess.run(["git", "-c", f"alias.handoff={alias}", "handoff", "create", "--task", "t",
                           "--context-file", "ctx.md", "--dry-run", "--json"], cwd=repo / "src", env=env,
                          capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "context from a file" in json.loads(done.stdout)["prompt"]
