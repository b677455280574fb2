"""The integrations as the agents' own tools read them: `claude plugin validate`, `claude mcp get`, `codex mcp`.

Each test runs the real agent CLI against files `devin-handoff install` wrote into a temp HOME, and
skips cleanly when that agent is not installed on this machine.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import make_repo, run_cli

REPO = Path(__file__).resolve().parent.parent
CLAUDE = shutil.which("claude")
CODEX = shutil.which("codex")
needs_claude = pytest.mark.skipif(CLAUDE is None, reason="Claude Code (`claude`) is not installed")
needs_codex = pytest.mark.skipif(CODEX is None, reason="Codex (`codex`) is not installed")


def agent_env(home: Path) -> dict[str, str]:
    """A clean user: this HOME only, no key, the agent's own config dirs inside HOME."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DEVIN_", "CLAUDE_", "CODEX_", "ANTHROPIC_", "OPENAI_"))}
    return {**env, "HOME": str(home), "CODEX_HOME": str(home / ".codex"), "XDG_CONFIG_HOME": str(home / ".config")}


def run_agent(*argv: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def home_and_project(tmp_path: Path) -> tuple[Path, Path]:
    home = tmp_path / "home"
    home.mkdir()
    return home, make_repo(tmp_path / "proj", remote=None)


@needs_claude
@pytest.mark.parametrize("path", [".", "integrations/claude-code"], ids=["marketplace", "plugin"])
def test_claude_plugin_validate_accepts_the_marketplace_and_the_plugin(path: str, tmp_path: Path):
    done = run_agent(CLAUDE, "plugin", "validate", path, "--strict", env=agent_env(tmp_path), cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Validation passed" in done.stdout + done.stderr


@needs_claude
def test_claude_code_connects_to_the_mcp_server_install_wrote(home_and_project: tuple[Path, Path]):
    home, project = home_and_project
    env = agent_env(home)
    assert run_cli("install", "claude-code", "--user", cwd=project, env=env).code == 0
    done = run_agent(CLAUDE, "mcp", "get", "devin-handoff", env=env, cwd=project)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "Connected" in output and "Scope: User config" in output  # Claude Code started it and talked MCP
    assert "DEVIN_API_KEY=${DEVIN_API_KEY:-}" in output


@needs_codex
def test_codex_reads_the_user_and_project_configs_install_wrote(home_and_project: tuple[Path, Path]):
    home, project = home_and_project
    env = agent_env(home)
    assert run_cli("install", "codex", "--user", cwd=project, env=env).code == 0
    done = run_agent(CODEX, "mcp", "get", "devin_handoff", "--json", env=env, cwd=project)
    assert done.returncode == 0, done.stderr
    user = json.loads(done.stdout)["transport"]
    assert os.path.isabs(user["command"]) and user["args"][-1] == "mcp"
    assert "DEVIN_API_KEY" in user["env_vars"] and user["env"] is None  # forwarded by name, never a value

    assert run_cli("uninstall", "codex", "--user", cwd=project, env=env).code == 0
    assert run_cli("install", "codex", "--project", cwd=project, env=env).code == 0
    # Codex reads a project's .codex/config.toml only once the user trusts the project.
    (home / ".codex").mkdir(exist_ok=True)
    (home / ".codex" / "config.toml").write_text(f'[projects."{project.resolve()}"]\ntrust_level = "trusted"\n')
    done = run_agent(CODEX, "mcp", "get", "devin_handoff", "--json", env=env, cwd=project)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["transport"]["command"] == "devin-handoff"  # the shared file stays portable

    assert run_cli("uninstall", "codex", "--project", cwd=project, env=env).code == 0
    done = run_agent(CODEX, "mcp", "list", env=env, cwd=project)
    assert "devin_handoff" not in done.stdout
