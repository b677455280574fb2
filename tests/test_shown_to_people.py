"""What a real `create` shows a person, and that file names can neither drive the terminal nor leak a secret."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import make_repo, run_cli_here, write

from handoff.app.findings import safe_names
from handoff.simulator import Simulator

# Fake, real-shaped: AWS's documented example key id.
AWS_KEY = "AKIAIOSFODNN7EXAMPLE"  # pragma: allowlist secret
ESCAPE_NAME = "evil\x1b[2J\x1b[31mred\nfake line.txt"


@pytest.fixture
def sim():
    with Simulator(step_seconds=0.03) as simulator:
        yield simulator


def v3_env(sim: Simulator) -> dict[str, str]:
    return {"DEVIN_API_URL": sim.base_url, "DEVIN_API_KEY": "cog_" + "t" * 16, "DEVIN_ORG_ID": "org-sim"}


def test_a_real_create_says_what_it_sends(sim: Simulator, tmp_path: Path):
    repo = make_repo(tmp_path / "widgets", {"app.py": "x = 1\n"})
    write(repo, {"app.py": "x = 2\n", "new.txt": "hello\n"})
    result = run_cli_here("create", "--task", "Fix x", "--detach", cwd=repo, env=v3_env(sim))
    assert result.code == 0, result.stderr
    (line,) = [text for text in result.stderr.splitlines() if text.startswith("sending:")]
    assert "acme/widgets main at base" in line and "2 changed file(s)" in line and "KB" in line
    assert line.index("sending:") < result.stderr.index("Devin session created")
    assert "cog_t" not in result.stderr


def test_a_real_create_outside_a_repository_says_only_the_task_goes(sim: Simulator, tmp_path: Path):
    result = run_cli_here("create", "--task", "Write a haiku", "--detach", "--allow-partial", cwd=tmp_path,
                          env=v3_env(sim))
    assert result.code == 0, result.stderr
    assert "sending: the task only (no git repository)" in result.stderr


def test_file_names_reach_the_terminal_escaped(tmp_path: Path):
    repo = make_repo(tmp_path / "widgets", {"app.py": "x = 1\n"})
    write(repo, {ESCAPE_NAME: "hi\n"})
    result = run_cli_here("create", "--task", "t", "--dry-run", cwd=repo)
    assert result.code == 0, result.stderr
    assert "\x1b" not in result.stderr
    assert not [line for line in result.stderr.splitlines() if line.startswith("fake line")]  # no forged line
    assert "evil\\e[2J\\e[31mred\\nfake line.txt" in result.stderr


def test_a_secret_in_a_file_name_is_masked_wherever_the_name_is_shown(tmp_path: Path):
    repo = make_repo(tmp_path / "widgets", {"app.py": "x = 1\n"})
    write(repo, {f"keys/{AWS_KEY}.txt": "nothing here\n"})
    scan = run_cli_here("scan", cwd=repo)
    create = run_cli_here("create", "--task", "t", "--dry-run", cwd=repo)
    assert scan.code == 3 and create.code == 3
    for text in (scan.stdout + scan.stderr, create.stdout + create.stderr):
        assert AWS_KEY not in text
        assert "keys/[REDACTED AWS Access Key].txt" in text


def test_safe_names_leaves_ordinary_names_alone_and_escapes_bidi_overrides():
    names = ["src/app.py", "docs/ü-ñ 空白.md", "a\u202etxt.exe", "tab\there"]
    shown = safe_names(names)
    assert shown["src/app.py"] == "src/app.py" and shown["docs/ü-ñ 空白.md"] == "docs/ü-ñ 空白.md"
    assert shown["a\u202etxt.exe"] == "a\\u202etxt.exe" and shown["tab\there"] == "tab\\there"


def test_doctor_without_a_key_says_where_to_get_one(tmp_path: Path):
    result = run_cli_here("doctor", cwd=tmp_path)
    assert result.code == 4
    assert "Settings > Service users" in result.stdout and "cog_" in result.stdout


def test_a_hook_lists_at_most_fifteen_findings_and_counts_the_rest():
    from handoff.app.findings import MAX_LISTED_FINDINGS, listed_findings
    from handoff.gate import Finding

    findings = [Finding(source=f"f{n}.env", line=n, kind="Secret Keyword", preview="…(9 chars)") for n in range(17)]
    lines = listed_findings(findings, more="`devin-handoff scan` lists all")
    assert lines[:2] == ["  f0.env:0: Secret Keyword  …(9 chars)", "  f1.env:1: Secret Keyword  …(9 chars)"]
    assert len(lines) == MAX_LISTED_FINDINGS + 1 and lines[-1] == "  … and 2 more (`devin-handoff scan` lists all)"
    assert listed_findings(findings[:3]) == lines[:3]
