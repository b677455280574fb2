"""Each command imports what it needs and nothing more (issue 9): a command that sends nothing loads no HTTP or
TLS machinery, one that scans nothing loads no secret gate, a clean change never starts detect-secrets, and git
is entered through GitPython's runner alone. Real processes: import state is what is under test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import GIT_ENV, make_repo, write

HEAVY = ("httpx", "httpcore", "ssl", "detect_secrets", "handoff.gate", "handoff.devin.client", "git.repo",
         "git.objects", "git", "mcp")
_HEAVY_PACKAGES = {name.split(".")[0] for name in HEAVY}

# Runs the CLI's main as `python -m handoff` does, then lists the modules it had loaded, whatever the exit.
_PROBE = (
    "import atexit, json, sys\n"
    "atexit.register(lambda: open(sys.argv[1], 'w').write(json.dumps(sorted(sys.modules))))\n"
    "from handoff.cli import main\n"
    "main(sys.argv[2:])\n"
)


def _loaded(tmp_path: Path, cwd: Path, *args: str, stdin: str = "", env: dict[str, str] | None = None) -> set[str]:
    record = tmp_path / "modules.json"
    base = {k: v for k, v in os.environ.items() if not k.startswith("DEVIN_")}
    done = subprocess.run([sys.executable, "-c", _PROBE, str(record), *args], cwd=cwd, input=stdin, text=True,
                          capture_output=True, env={**base, **GIT_ENV, "HOME": str(tmp_path / "home"),
                                                    "XDG_STATE_HOME": str(tmp_path / "state"), **(env or {})})
    assert record.exists(), done.stderr
    return {name for name in json.loads(record.read_text()) if name.split(".")[0] in _HEAVY_PACKAGES}


def _heavy(loaded: set[str]) -> set[str]:
    return {name for name in HEAVY if name in loaded}


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_repo(tmp_path_factory.mktemp("startup") / "r", {"app.py": "x = 1\n"})
    write(root, {"app.py": "x = 2\n", "notes.md": "new file\n"})
    return root


def test_help_and_a_hook_that_sees_no_handoff_load_nothing_heavy(tmp_path: Path, repo: Path) -> None:
    assert _heavy(_loaded(tmp_path, repo, "--help")) == set()
    payload = json.dumps({"tool_name": "Bash", "tool_input": {"command": "ls -la"}, "cwd": str(repo)})
    assert _heavy(_loaded(tmp_path, repo, "hook", "pre-tool-use", stdin=payload)) == set()


def test_install_needs_git_but_only_its_runner(tmp_path: Path, repo: Path) -> None:
    assert _heavy(_loaded(tmp_path, repo, "install", "codex", "--dry-run")) == {"git"}


def test_a_dry_run_of_a_clean_change_starts_no_http_and_no_detect_secrets(tmp_path: Path, repo: Path) -> None:
    loaded = _loaded(tmp_path, repo, "create", "--dry-run", "--task", "Rename x")
    assert _heavy(loaded) == {"git", "handoff.gate"}   # the facts quote commit ids: no entropy plugin for them


def test_reading_sessions_loads_no_git_and_no_gate(tmp_path: Path, repo: Path) -> None:
    from handoff.simulator import Simulator

    with Simulator() as sim:
        env = {"DEVIN_API_URL": sim.base_url, "DEVIN_API_KEY": "cog_" + "k" * 16, "DEVIN_ORG_ID": sim.org_id}
        loaded = _loaded(tmp_path, repo, "list", "--json", env=env)
        assert [call["call"] for call in sim.requests] == ["list"]   # it did read the API
    assert "httpx" in loaded and not {"git", "handoff.gate", "detect_secrets"} & loaded
