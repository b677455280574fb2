"""The shipped integration files: each checked against the shape its host documents (integrations.md)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

import handoff
from handoff.integrations.resources import data_dir

yaml = pytest.importorskip("yaml")

REPO = Path(__file__).resolve().parent.parent
INTEGRATIONS = REPO / "integrations"
KEBAB = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")
SKILL_SPEC_KEYS = {"name", "description", "license", "compatibility", "metadata", "allowed-tools"}
CANONICAL_SKILL = INTEGRATIONS / "skills" / "devin-handoff" / "SKILL.md"
ENV_NAMES = ["DEVIN_API_KEY", "DEVIN_ORG_ID", "DEVIN_USER_ID", "DEVIN_API_URL"]
CLAUDE_EVENTS = {"SessionStart", "PreToolUse"}
# codex-rs McpServerConfig (stdio) keys; Codex rejects unknown ones. `type` is dropped by the plugin loader.
CODEX_MCP_KEYS = {"type", "command", "args", "env", "env_vars", "cwd", "startup_timeout_sec", "tool_timeout_sec",
                  "enabled", "required", "enabled_tools", "disabled_tools"}


def load(path: Path) -> Any:
    return json.loads(path.read_text())


def frontmatter(path: Path) -> tuple[dict[str, Any], str, str]:
    """(parsed YAML, raw YAML text, body) of a Markdown file with `---` frontmatter."""
    match = re.match(r"^---\n(.*?)\n---\n(.*)$", path.read_text(), re.DOTALL)
    assert match, f"{path} has no frontmatter"
    data = yaml.safe_load(match.group(1))
    assert isinstance(data, dict)
    return data, match.group(1), match.group(2)


def hook_commands(hooks: dict[str, Any]) -> list[str]:
    return [h["command"] for groups in hooks.values() for group in groups for h in group["hooks"]]


# -- marketplaces and plugin manifests -------------------------------------------------------------------

def test_claude_marketplace_points_at_a_valid_plugin() -> None:
    market = load(REPO / ".claude-plugin" / "marketplace.json")
    assert KEBAB.match(market["name"]) and market["name"] not in {"claude-plugins-official", "anthropic"}
    assert market["owner"]["name"]
    assert market["plugins"], "at least one plugin"
    for entry in market["plugins"]:
        assert KEBAB.match(entry["name"])
        source = entry["source"]
        assert isinstance(source, str) and source.startswith("./") and ".." not in source
        root = REPO / source
        manifest = load(root / ".claude-plugin" / "plugin.json")
        assert manifest["name"] == entry["name"]
        assert os.listdir(root / ".claude-plugin") == ["plugin.json"], "only plugin.json inside .claude-plugin/"
        assert entry.get("version", manifest["version"]) == manifest["version"]


def test_claude_plugin_manifest_and_layout() -> None:
    root = INTEGRATIONS / "claude-code"
    manifest = load(root / ".claude-plugin" / "plugin.json")
    assert KEBAB.match(manifest["name"])
    assert manifest["version"] == handoff.__version__ and SEMVER.match(manifest["version"])
    assert "userConfig" not in manifest, "the key comes from the environment, never from plugin config"
    for key in ("skills", "commands", "agents", "hooks", "mcpServers"):
        value = manifest.get(key)
        assert value is None or (isinstance(value, str) and value.startswith("./")), key
    assert (root / "skills" / "devin-handoff" / "SKILL.md").is_file()
    assert (root / "hooks" / "hooks.json").is_file() and (root / ".mcp.json").is_file()
    setup, _, body = frontmatter(root / "commands" / "setup.md")
    assert setup["description"] and "devin-handoff doctor" in body


def test_codex_marketplace_and_plugin_manifest() -> None:
    market = load(REPO / ".agents" / "plugins" / "marketplace.json")
    assert market["name"] and market["interface"]["displayName"]
    for entry in market["plugins"]:
        assert entry["source"]["source"] == "local"
        path = entry["source"]["path"]
        assert path.startswith("./") and path.rstrip("/") != "."
        assert entry["policy"]["installation"] in {"AVAILABLE", "INSTALLED_BY_DEFAULT", "NOT_AVAILABLE"}
        assert entry["policy"]["authentication"] in {"ON_INSTALL", "ON_USE"}
        root = REPO / path
        manifest = load(root / ".codex-plugin" / "plugin.json")
        assert manifest["name"] == entry["name"] and KEBAB.match(manifest["name"])
        assert os.listdir(root / ".codex-plugin") == ["plugin.json"]
        assert SEMVER.match(manifest["version"]) and manifest["version"] == handoff.__version__
        assert "hooks" not in manifest, "the plugin-creator validator rejects a hooks key"
        assert (root / manifest["skills"] / "devin-handoff" / "SKILL.md").is_file()
        assert (root / manifest["mcpServers"]).is_file()
        assert len(manifest["interface"]["defaultPrompt"]) <= 3


# -- the skill ---------------------------------------------------------------------------------------------

def skill_copies() -> list[Path]:
    return sorted(INTEGRATIONS.rglob("SKILL.md"))


def test_every_skill_copy_is_identical_to_the_canonical_one() -> None:
    copies = skill_copies()
    assert len(copies) >= 3, copies  # canonical + Claude plugin + Codex plugin
    for copy in copies:
        assert copy.read_bytes() == CANONICAL_SKILL.read_bytes(), f"{copy} differs: re-copy it"


@pytest.mark.parametrize("path", skill_copies(), ids=lambda p: str(p.relative_to(INTEGRATIONS)))
def test_skill_follows_the_agent_skills_spec(path: Path) -> None:
    data, _raw, body = frontmatter(path)
    assert set(data) <= SKILL_SPEC_KEYS, set(data) - SKILL_SPEC_KEYS
    name = data["name"]
    assert name == path.parent.name
    assert 1 <= len(name) <= 64 and KEBAB.match(name)
    description = data["description"]
    assert isinstance(description, str) and 1 <= len(description) <= 1024
    assert "Use when" in description, "say when to use it"
    assert len(data.get("compatibility", "")) <= 500
    for needle in ("create", "--detach", "--json", "status", "tail", "send", "scan"):
        assert needle in body, needle
    for code in ("0", "1", "2", "3", "4", "5", "130"):
        assert re.search(rf"\|\s*{code}\s*\|", body), f"exit code {code} is explained"
    assert "--redact" in body and "never" in body.lower()


# -- hooks ------------------------------------------------------------------------------------------------

def test_plugin_hooks_are_a_copy_of_the_top_level_hooks() -> None:
    assert (INTEGRATIONS / "claude-code" / "hooks" / "hooks.json").read_bytes() == \
        (REPO / "hooks" / "hooks.json").read_bytes()


def test_claude_hooks_have_the_three_level_shape() -> None:
    doc = load(REPO / "hooks" / "hooks.json")
    assert set(doc) <= {"description", "hooks"}
    hooks = doc["hooks"]
    assert set(hooks) == CLAUDE_EVENTS
    for event, groups in hooks.items():
        assert isinstance(groups, list) and groups
        for group in groups:
            assert set(group) <= {"matcher", "hooks"} and isinstance(group.get("matcher", ""), str)
            for handler in group["hooks"]:
                assert handler["type"] == "command"
                assert isinstance(handler["command"], str) and "devin-handoff hook" in handler["command"]
                assert isinstance(handler["timeout"], int) and 0 < handler["timeout"] <= 60
                if event == "PreToolUse":
                    assert handler["if"] in {"Bash(devin-handoff *)", "Bash(git handoff *)"}
                    assert "hook pre-tool-use" in handler["command"]
                else:
                    assert "hook session-start" in handler["command"]
    guards = {h["if"] for g in hooks["PreToolUse"] for h in g["hooks"]}
    assert guards == {"Bash(devin-handoff *)", "Bash(git handoff *)"}
    assert hooks["PreToolUse"][0]["matcher"] == "Bash"
    assert set(hooks["SessionStart"][0]["matcher"].split("|")) <= {"startup", "resume", "clear", "compact"}


def _run_hook(command: str, path: str, stdin: str = "{}") -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", "-c", command], input=stdin, capture_output=True, text=True, timeout=10,
                          env={"PATH": path, "HOME": os.environ.get("HOME", "/tmp")}, check=False)


def test_hook_commands_degrade_when_the_cli_is_missing(tmp_path: Path) -> None:
    """No devin-handoff on PATH: every hook exits 0 quietly, so the agent's session goes on."""
    sh_dir = os.path.dirname(shutil.which("sh") or "/bin/sh")
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    for command in hook_commands(load(REPO / "hooks" / "hooks.json")["hooks"]):
        done = _run_hook(command, f"{empty}{os.pathsep}{sh_dir}")
        assert done.returncode == 0 and not done.stdout and not done.stderr, command


def test_hook_commands_call_the_cli_and_keep_its_blocking_exit_code(tmp_path: Path) -> None:
    """With the CLI present, the guard's exit code 2 (block) reaches the agent; session-start never fails."""
    sh_dir = os.path.dirname(shutil.which("sh") or "/bin/sh")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "devin-handoff"
    fake.write_text(f'#!/bin/sh\necho "$@" >> "{tmp_path}/calls"\ncat > /dev/null\nexit 2\n')
    fake.chmod(0o755)
    hooks = load(REPO / "hooks" / "hooks.json")["hooks"]
    start = _run_hook(hooks["SessionStart"][0]["hooks"][0]["command"], f"{bin_dir}{os.pathsep}{sh_dir}")
    guard = _run_hook(hooks["PreToolUse"][0]["hooks"][0]["command"], f"{bin_dir}{os.pathsep}{sh_dir}")
    assert start.returncode == 0
    assert guard.returncode == 2
    assert (tmp_path / "calls").read_text().splitlines() == ["hook session-start", "hook pre-tool-use"]


def test_cursor_hooks_shape() -> None:
    doc = load(INTEGRATIONS / "cursor" / "hooks.json")
    assert doc["version"] == 1 and set(doc) == {"version", "hooks"}
    assert set(doc["hooks"]) == {"beforeShellExecution"}
    for handlers in doc["hooks"].values():
        for handler in handlers:
            assert handler["command"] == "devin-handoff hook cursor-before-shell"


def test_git_pre_push_hook() -> None:
    path = REPO / "hooks" / "pre-push"
    assert os.access(path, os.X_OK)
    assert subprocess.run(["sh", "-n", str(path)], check=False).returncode == 0
    assert 'devin-handoff hook pre-push "$@"' in path.read_text()


# -- MCP configs: the CLI's `mcp` verb, the key only by reference ---------------------------------------

@pytest.mark.parametrize(("relative", "server", "reference"), [
    ("claude-code/.mcp.json", "devin-handoff", "${{{}:-}}"),
    ("cursor/mcp.json", "devin-handoff", "${{env:{}}}"),
])
def test_json_mcp_configs_reference_the_environment(relative: str, server: str, reference: str) -> None:
    doc = load(INTEGRATIONS / relative)
    assert list(doc) == ["mcpServers"]
    entry = doc["mcpServers"][server]
    assert entry["type"] == "stdio" and entry["command"] == "devin-handoff" and entry["args"] == ["mcp"]
    assert entry["env"] == {name: reference.format(name) for name in ENV_NAMES}


def test_codex_mcp_config_forwards_env_vars_only() -> None:
    entry = load(INTEGRATIONS / "codex" / ".mcp.json")["mcpServers"]["devin_handoff"]
    assert set(entry) <= CODEX_MCP_KEYS
    assert entry["command"] == "devin-handoff" and entry["args"] == ["mcp"]
    assert entry["env_vars"] == ENV_NAMES and "env" not in entry
    assert isinstance(entry["tool_timeout_sec"], int)


def test_codex_toml_table_written_by_install_parses() -> None:
    from handoff.integrations.config_merge import render_toml_table
    from handoff.integrations.install import CODEX_TABLE

    entry = dict(load(INTEGRATIONS / "codex" / ".mcp.json")["mcpServers"]["devin_handoff"])
    entry.pop("type")
    entry["command"] = 'C:\\Tools\\devin "handoff".exe'
    parsed = tomllib.loads("\n".join(render_toml_table(CODEX_TABLE, entry)))
    assert parsed["mcp_servers"]["devin_handoff"] == entry


# -- Cursor rule and AGENTS.md ---------------------------------------------------------------------------

def test_cursor_rule_is_agent_requested() -> None:
    path = INTEGRATIONS / "cursor" / "rules" / "devin-handoff.mdc"
    data, raw, body = frontmatter(path)
    assert list(data) == ["description", "globs", "alwaysApply"]
    assert data["alwaysApply"] is False, "a real boolean, not a string"
    assert data["globs"] is None and data["description"]
    assert re.search(r"^alwaysApply: false$", raw, re.MULTILINE)
    assert "--detach --json" in body and "3" in body


def test_agents_md_snippet_is_one_marked_block() -> None:
    text = (INTEGRATIONS / "AGENTS.md").read_text()
    assert text.startswith("<!-- devin-handoff:start -->\n")
    assert text.endswith("<!-- devin-handoff:end -->\n")
    assert text.count("<!-- devin-handoff:start -->") == 1 and text.count("<!-- devin-handoff:end -->") == 1
    assert not text.startswith("---"), "AGENTS.md takes no frontmatter"


# -- shipping ------------------------------------------------------------------------------------------

def test_data_dir_finds_the_files_in_a_wheel_or_an_editable_checkout() -> None:
    import handoff

    packaged = Path(handoff.__file__).resolve().parent / "_data"
    for name, checkout in (("integrations", INTEGRATIONS), ("hooks", REPO / "hooks")):
        found = data_dir(name)
        assert found == (packaged / name if (packaged / name).is_dir() else checkout)
        shipped = {p.relative_to(found): p.read_bytes() for p in found.rglob("*") if p.is_file()}
        source = {p.relative_to(checkout): p.read_bytes() for p in checkout.rglob("*") if p.is_file()}
        assert shipped == source


def test_the_wheel_ships_every_integration_file_and_finds_it(tmp_path: Path) -> None:
    pytest.importorskip("hatchling")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation",
                            "-q", "-w", str(tmp_path)], capture_output=True, text=True, timeout=120, check=False)
    assert built.returncode == 0, built.stderr
    wheel = next(tmp_path.glob("devin_handoff-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        archive.extractall(tmp_path / "site")
    for base, prefix in ((INTEGRATIONS, "integrations"), (REPO / "hooks", "hooks")):
        for path in base.rglob("*"):
            if path.is_file() and path.name != ".keep":
                assert f"handoff/_data/{prefix}/{path.relative_to(base).as_posix()}" in names, path
    for page in ("git-handoff.1", "devin-handoff.1"):  # installed as <prefix>/share/man/man1/<page>
        assert any(name.endswith(f".data/data/share/man/man1/{page}") for name in names), page
    probe = subprocess.run([sys.executable, "-c", "from handoff.integrations.resources import data_dir; "
                            "print(data_dir('integrations'))"], cwd=tmp_path, capture_output=True, text=True,
                           env={**os.environ, "PYTHONPATH": str(tmp_path / "site")}, timeout=30, check=False)
    assert probe.stdout.strip() == str(tmp_path / "site" / "handoff" / "_data" / "integrations"), probe.stderr


AGENT_FACING = ["integrations/skills/devin-handoff/SKILL.md", "integrations/AGENTS.md",
                "integrations/cursor/rules/devin-handoff.mdc", "integrations/claude-code/commands/setup.md"]


@pytest.mark.parametrize("relative", AGENT_FACING)
def test_texts_an_agent_reads_never_name_a_way_past_the_gate(relative: str) -> None:
    """An agent told "do not add an allowlist comment" has just learned that one works."""
    text = (REPO / relative).read_text().lower()
    for bypass in ("allowlist", "secrets.baseline", "baseline entr", "--no-verify"):
        assert bypass not in text, (relative, bypass)


def test_setup_command_sends_users_to_service_user_keys_not_the_legacy_page() -> None:
    text = (INTEGRATIONS / "claude-code" / "commands" / "setup.md").read_text()
    assert "settings/api-keys" not in text and "Service users" in text
