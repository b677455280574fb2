"""`devin-handoff install|uninstall`: real files in a temp HOME and a temp git project, the CLI's `main` in this
process with that HOME, PATH and git config (what install writes is the point, not the process: test_agent_tools
runs install as a process and the real agent tools read what it wrote)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

from helpers import Result, git, make_repo, run_cli_here

from handoff.errors import ConfigError
from handoff.integrations import install as installer
from handoff.integrations.config_merge import is_our_handler

REPO = Path(__file__).resolve().parent.parent
FAKE_KEY = "cog_" + "NeverWriteThisValue0123456789"  # pragma: allowlist secret
TARGET_SCOPES = [("claude-code", "--user"), ("claude-code", "--project"), ("codex", "--project"),
                 ("codex", "--user"), ("cursor", "--project"), ("cursor", "--user"), ("git", "--user"),
                 ("git", "--project")]


@dataclass
class World:
    home: Path
    project: Path
    bin: Path
    env: dict[str, str]

    @property
    def cli(self) -> str:
        return str(self.bin / "devin-handoff")

    def run(self, *args: str, cwd: Path | None = None, **extra: str) -> Result:
        return run_cli_here(*args, cwd=cwd or self.project, env={**self.env, **extra})

    def snapshot(self) -> dict[str, bytes]:
        files = {}
        for base in (self.home, self.project):
            for path in sorted(base.rglob("*")):
                if path.is_file() and ".git" not in path.relative_to(base).parts[:1]:
                    files[str(path)] = path.read_bytes()
        files["gitconfig --local"] = git(self.project, "config", "--local", "--list").encode()
        return files


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    for name in ("CODEX_HOME", "GIT_CONFIG_GLOBAL", "CLAUDE_CONFIG_DIR"):
        monkeypatch.delenv(name, raising=False)
    home, bin_dir = tmp_path / "home", tmp_path / "bin"
    home.mkdir()
    bin_dir.mkdir()
    fake = bin_dir / "devin-handoff"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    project = make_repo(tmp_path / "proj", remote=None)
    git_dir = os.path.dirname(shutil.which("git") or "/usr/bin/git")
    env = {"HOME": str(home), "PATH": f"{bin_dir}{os.pathsep}{git_dir}", "XDG_CONFIG_HOME": str(home / ".config"),
           "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"), "DEVIN_API_KEY": FAKE_KEY}
    return World(home, project, bin_dir, env)


def shipped(*parts: str) -> str:
    return (REPO / Path(*parts)).read_text()


def backups(world: World) -> list[Path]:
    """The backups install made: under the state directory, never beside the file (a handoff would upload it)."""
    stray = [p for base in (world.home, world.project) for p in base.rglob("*.bak*")]
    assert not stray, f"a backup landed in the home or the working tree: {stray}"
    root = installer.backup_root()
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


# -- every target: idempotent, dry run, key never written, uninstall clean ------------------------------

@pytest.mark.parametrize(("target", "scope"), TARGET_SCOPES)
def test_install_twice_changes_nothing_and_uninstall_leaves_nothing(world: World, target: str, scope: str) -> None:
    empty = world.snapshot()
    dry = world.run("install", target, scope, "--dry-run", "--json")
    assert dry.code == 0, dry.stderr
    assert world.snapshot() == empty, "--dry-run wrote something"
    assert dry.json()["dry_run"] is True and dry.json()["changed"] is True

    first = world.run("install", target, scope, "--json")
    assert first.code == 0, first.stderr
    assert first.json()["changed"] is True
    assert [c["action"] for c in first.json()["changes"]] == [c["action"] for c in dry.json()["changes"]]
    installed = world.snapshot()
    assert installed != empty

    second = world.run("install", target, scope, "--json")
    assert second.code == 0, second.stderr
    assert second.json()["changed"] is False
    assert {c["action"] for c in second.json()["changes"]} == {"unchanged"}
    assert world.snapshot() == installed, "second install changed bytes"
    assert not backups(world), "files created by install need no backup"
    assert all(FAKE_KEY.encode() not in content for content in installed.values())

    removed = world.run("uninstall", target, scope, "--json")
    assert removed.code == 0, removed.stderr
    gitconfig = world.home / ".gitconfig"
    if gitconfig.exists() and not gitconfig.read_text().strip():
        gitconfig.unlink()  # `git config --unset` leaves an empty file behind; that is git's doing
    assert world.snapshot() == empty, "uninstall left something behind"


def test_unknown_target_is_a_usage_error(world: World) -> None:
    result = world.run("install", "emacs")
    assert result.code == 2
    assert "unknown target 'emacs'" in result.stderr and len(result.stderr.strip().splitlines()) == 1


# -- Claude Code -----------------------------------------------------------------------------------------

def test_claude_code_user_merges_into_existing_configs_and_uninstall_restores_them(world: World) -> None:
    claude_json = world.home / ".claude.json"
    settings = world.home / ".claude" / "settings.json"
    original_state = {"numStartups": 7, "mcpServers": {"other": {"command": "other-server"}}}
    original_settings = {
        "model": "opus",
        "hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "my-guard"}]}],
                  "Stop": [{"hooks": [{"type": "command", "command": "notify"}]}]},
    }
    claude_json.write_text(json.dumps(original_state, indent=4))
    settings.parent.mkdir()
    settings.write_text(json.dumps(original_settings))

    result = world.run("install", "claude-code", "--json")
    assert result.code == 0, result.stderr
    state = json.loads(claude_json.read_text())
    assert state["numStartups"] == 7 and state["mcpServers"]["other"] == {"command": "other-server"}
    server = state["mcpServers"]["devin-handoff"]
    assert server["command"] == world.cli and server["args"] == ["mcp"]
    assert server["env"]["DEVIN_API_KEY"].startswith("${DEVIN_API_KEY")
    assert claude_json.read_text().startswith('{\n    "numStartups"'), "indentation of the user's file kept"

    merged = json.loads(settings.read_text())
    ours = json.loads(shipped("hooks", "hooks.json"))["hooks"]
    assert merged["model"] == "opus" and merged["hooks"]["Stop"] == original_settings["hooks"]["Stop"]
    assert merged["hooks"]["PreToolUse"][0] == original_settings["hooks"]["PreToolUse"][0]
    assert merged["hooks"]["PreToolUse"][1:] == ours["PreToolUse"]
    assert merged["hooks"]["SessionStart"] == ours["SessionStart"]
    skill = world.home / ".claude" / "skills" / "devin-handoff" / "SKILL.md"
    assert skill.read_text() == shipped("integrations", "skills", "devin-handoff", "SKILL.md")

    made = backups(world)
    assert len(made) == 2, made
    assert {json.loads(p.read_text()) == original_state or json.loads(p.read_text()) == original_settings
            for p in made} == {True}

    again = world.run("install", "claude-code")
    assert again.code == 0 and backups(world) == made

    removed = world.run("uninstall", "claude-code", "--json")
    assert removed.code == 0, removed.stderr
    assert json.loads(claude_json.read_text()) == original_state
    assert json.loads(settings.read_text()) == original_settings
    assert not skill.exists() and not skill.parent.exists()


def test_claude_code_project_writes_mcp_json_and_project_settings(world: World) -> None:
    sub = world.project / "src" / "deep"
    sub.mkdir(parents=True)
    result = world.run("install", "claude-code", "--project", cwd=sub)  # project root = git top level
    assert result.code == 0, result.stderr
    mcp = json.loads((world.project / ".mcp.json").read_text())
    assert mcp["mcpServers"]["devin-handoff"]["command"] == "devin-handoff"  # shared file: portable, from PATH
    assert str(world.bin) not in (world.project / ".mcp.json").read_text()
    assert (world.project / ".claude" / "settings.json").is_file()
    assert (world.project / ".claude" / "skills" / "devin-handoff" / "SKILL.md").is_file()
    assert not (sub / ".mcp.json").exists() and not (world.home / ".claude.json").exists()


def test_uninstall_without_install_creates_nothing(world: World) -> None:
    before = world.snapshot()
    for target in ("claude-code", "codex", "cursor", "git"):
        result = world.run("uninstall", target, "--json")
        assert result.code == 0, result.stderr
        assert result.json()["changed"] is False
    assert world.snapshot() == before


# -- bad existing configs: one line, exit 4, nothing written ----------------------------------------------

@pytest.mark.parametrize(("relative", "content", "target", "needle"), [
    (".claude.json", '{"mcpServers": {', "claude-code", "not valid JSON"),
    (".claude/settings.json", '{"hooks": []}', "claude-code", "hooks is not a JSON object"),
    (".codex/config.toml", "model = [unclosed\n", "codex", "not valid TOML"),
    (".cursor/mcp.json", "[1, 2]", "cursor", "does not hold a JSON object"),
])
def test_invalid_existing_config_stops_before_writing_anything(world: World, relative: str, content: str,
                                                               target: str, needle: str) -> None:
    bad = world.home / relative
    bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_text(content)
    before = world.snapshot()
    result = world.run("install", target, "--user")
    assert result.code == 4
    assert needle in result.stderr and str(bad) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert world.snapshot() == before


# -- Codex -------------------------------------------------------------------------------------------------

CODEX_CONFIG = """\
model = "o3"  # keep this comment

[mcp_servers.other]
command = "other"
args = ["--x"]

# trusted projects
[projects."/tmp/somewhere"]
trust_level = "trusted"
"""


def test_codex_table_is_merged_textually_and_removed_byte_for_byte(world: World) -> None:
    config = world.home / ".codex" / "config.toml"
    config.parent.mkdir()
    config.write_text(CODEX_CONFIG)
    result = world.run("install", "codex", "--user")
    assert result.code == 0, result.stderr
    text = config.read_text()
    assert text.startswith(CODEX_CONFIG), "other lines are kept as they were"
    data = tomllib.loads(text)
    assert data["model"] == "o3" and data["mcp_servers"]["other"]["args"] == ["--x"]
    table = data["mcp_servers"]["devin_handoff"]
    assert table["command"] == world.cli and table["args"] == ["mcp"]
    assert table["env_vars"] == ["DEVIN_API_KEY", "DEVIN_ORG_ID", "DEVIN_USER_ID", "DEVIN_API_URL"]
    assert "env" not in table
    assert (world.home / ".agents" / "skills" / "devin-handoff" / "SKILL.md").is_file()
    assert not (world.project / "AGENTS.md").exists(), "the AGENTS.md section is a project thing"

    removed = world.run("uninstall", "codex", "--user")
    assert removed.code == 0, removed.stderr
    assert config.read_text() == CODEX_CONFIG


def test_codex_replaces_an_outdated_table_in_place(world: World) -> None:
    config = world.project / ".codex" / "config.toml"
    config.parent.mkdir()
    config.write_text('[mcp_servers.devin_handoff]\ncommand = "/old/devin-handoff"\nargs = ["mcp"]\n\n'
                      '[mcp_servers.devin_handoff.env]\nX = "1"\n\n[features]\nweb_search = true\n')
    result = world.run("install", "codex")
    assert result.code == 0, result.stderr
    data = tomllib.loads(config.read_text())
    assert data["mcp_servers"]["devin_handoff"]["command"] == "devin-handoff"
    assert "env" not in data["mcp_servers"]["devin_handoff"]
    assert data["features"] == {"web_search": True}
    assert config.read_text().index("[mcp_servers.devin_handoff]") < config.read_text().index("[features]")
    assert len(backups(world)) == 1


def test_codex_inline_definition_is_refused(world: World) -> None:
    config = world.project / ".codex" / "config.toml"
    config.parent.mkdir()
    config.write_text('mcp_servers = { devin_handoff = { command = "x" } }\n')
    result = world.run("install", "codex")
    assert result.code == 4 and "cannot rewrite" in result.stderr
    assert config.read_text() == 'mcp_servers = { devin_handoff = { command = "x" } }\n'


def test_agents_md_section_is_appended_once_and_removed_exactly(world: World) -> None:
    agents = world.project / "AGENTS.md"
    agents.write_text("# House rules\n\nRun `make test`.\n")
    assert world.run("install", "codex").code == 0
    text = agents.read_text()
    assert text.startswith("# House rules\n\nRun `make test`.\n\n<!-- devin-handoff:start -->")
    assert text.count("<!-- devin-handoff:start -->") == 1 and text.rstrip().endswith("<!-- devin-handoff:end -->")
    agents.write_text(text + "\n## Later notes\n")  # the user adds below our section
    assert world.run("install", "codex").code == 0
    assert agents.read_text().count("<!-- devin-handoff:start -->") == 1
    assert world.run("uninstall", "codex").code == 0
    assert agents.read_text() == "# House rules\n\nRun `make test`.\n\n## Later notes\n"


def test_agents_md_with_a_broken_marker_is_refused(world: World) -> None:
    agents = world.project / "AGENTS.md"
    agents.write_text("<!-- devin-handoff:start -->\nhalf\n")
    result = world.run("install", "codex")
    assert result.code == 4 and "AGENTS.md" in result.stderr
    assert agents.read_text() == "<!-- devin-handoff:start -->\nhalf\n"


# -- Cursor ------------------------------------------------------------------------------------------------

def test_cursor_project_keeps_other_servers_and_hooks(world: World) -> None:
    cursor = world.project / ".cursor"
    cursor.mkdir()
    other_mcp = {"mcpServers": {"db": {"command": "db-mcp", "env": {"TOKEN": "${env:DB_TOKEN}"}}}}
    other_hooks = {"version": 1, "hooks": {"beforeShellExecution": [{"command": "./audit.sh"}],
                                           "afterFileEdit": [{"command": "fmt"}]}}
    (cursor / "mcp.json").write_text(json.dumps(other_mcp))
    (cursor / "hooks.json").write_text(json.dumps(other_hooks))

    result = world.run("install", "cursor")
    assert result.code == 0, result.stderr
    mcp = json.loads((cursor / "mcp.json").read_text())
    assert mcp["mcpServers"]["db"] == other_mcp["mcpServers"]["db"]
    ours = mcp["mcpServers"]["devin-handoff"]
    assert ours["command"] == "devin-handoff" and ours["env"]["DEVIN_API_KEY"] == "${env:DEVIN_API_KEY}"
    hooks = json.loads((cursor / "hooks.json").read_text())["hooks"]
    assert hooks["afterFileEdit"] == [{"command": "fmt"}]
    assert hooks["beforeShellExecution"][0] == {"command": "./audit.sh"}
    assert hooks["beforeShellExecution"][1]["command"] == "devin-handoff hook cursor-before-shell"
    rule = cursor / "rules" / "devin-handoff.mdc"
    assert rule.read_text() == shipped("integrations", "cursor", "rules", "devin-handoff.mdc")

    assert world.run("uninstall", "cursor").code == 0
    assert json.loads((cursor / "mcp.json").read_text()) == other_mcp
    assert json.loads((cursor / "hooks.json").read_text()) == other_hooks
    assert not rule.exists()


def test_cursor_user_scope_uses_the_user_skills_folder(world: World) -> None:
    assert world.run("install", "cursor", "--user").code == 0
    assert (world.home / ".cursor" / "skills" / "devin-handoff" / "SKILL.md").is_file()
    assert (world.home / ".cursor" / "mcp.json").is_file() and (world.home / ".cursor" / "hooks.json").is_file()
    assert not (world.project / ".cursor").exists()


# -- git ---------------------------------------------------------------------------------------------------

def test_git_alias_reaches_the_cli(world: World) -> None:
    assert world.run("install", "git").code == 0
    assert git(world.project, "config", "--file", str(world.home / ".gitconfig"), "alias.handoff").strip() \
        == f"!{world.cli}"
    assert world.run("install", "git", "--project").code == 0
    assert git(world.project, "config", "--local", "alias.handoff").strip() == f"!{world.cli}"


def test_git_alias_runs_the_cli_when_it_is_not_on_path(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """The alias names this Python (or the absolute script), so `git handoff` works without PATH's help."""
    from handoff import __version__

    monkeypatch.setenv("HOME", str(world.home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", world.env["GIT_CONFIG_GLOBAL"])
    monkeypatch.setenv("PATH", world.env["PATH"].split(os.pathsep)[-1])  # git only
    places = installer.Places(home=world.home, root=world.project, cli=(sys.executable, "-m", "handoff"))
    installer.apply_plan(installer.make_plan("git", "user", places=places))
    env = {**world.env, "PATH": os.environ["PATH"], "PYTHONPATH": str(REPO)}
    done = subprocess.run(["git", "handoff", "--version"], cwd=world.project, env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert __version__ in done.stdout + done.stderr


def test_git_replaces_and_removes_our_older_path_dependent_alias(world: World) -> None:
    git(world.project, "config", "--file", str(world.home / ".gitconfig"), "alias.handoff", "!devin-handoff")
    result = world.run("install", "git", "--json")
    assert result.code == 0 and result.json()["changes"][0]["action"] == "update"
    assert git(world.project, "config", "--file", str(world.home / ".gitconfig"), "alias.handoff").strip() \
        == f"!{world.cli}"
    assert world.run("uninstall", "git").code == 0
    assert "handoff" not in (world.home / ".gitconfig").read_text()


def test_git_does_nothing_when_git_handoff_is_on_path(world: World) -> None:
    shutil.copy(world.bin / "devin-handoff", world.bin / "git-handoff")
    result = world.run("install", "git", "--json")
    assert result.code == 0 and result.json()["changed"] is False
    assert "git-handoff is on PATH" in result.stderr
    assert not (world.home / ".gitconfig").exists()


def test_git_never_overwrites_someone_elses_alias(world: World) -> None:
    git(world.project, "config", "--local", "alias.handoff", "!echo mine")
    result = world.run("install", "git", "--project")
    assert result.code == 4 and "already set" in result.stderr
    assert world.run("uninstall", "git", "--project").code == 0
    assert git(world.project, "config", "--local", "alias.handoff").strip() == "!echo mine"


def test_git_project_scope_outside_a_repo_is_a_usage_error(world: World, tmp_path: Path) -> None:
    outside = tmp_path / "plain"
    outside.mkdir()
    result = world.run("install", "git", "--project", cwd=outside)
    assert result.code == 2 and "not a git repository" in result.stderr


# -- in-process edges ----------------------------------------------------------------------------------

def test_without_the_cli_on_path_configs_run_this_python(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", world.env["PATH"].split(os.pathsep)[-1])
    monkeypatch.setattr(sys, "argv", ["/somewhere/pytest"])
    assert installer.cli_command() == (sys.executable, "-m", "handoff")
    places = installer.Places(home=world.home, root=world.project, cli=installer.cli_command())
    plan = installer.make_plan("cursor", "user", places=places)
    hooks = json.loads(next(e.after for e in plan.edits if e.path.name == "hooks.json") or "{}")
    command = hooks["hooks"]["beforeShellExecution"][0]["command"]
    assert command.endswith("-m handoff hook cursor-before-shell")
    assert is_our_handler({"command": command}), "uninstall must recognise it"


def test_a_key_about_to_be_written_is_refused(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEVIN_API_KEY", FAKE_KEY)
    places = installer.Places(home=world.home, root=world.project, cli=(f"/opt/{FAKE_KEY}/devin-handoff",))
    with pytest.raises(ConfigError, match="refusing"):
        installer.make_plan("cursor", "user", places=places)


# -- config_merge units ------------------------------------------------------------------------------

def test_toml_table_in_the_middle_is_removed_with_its_subtables_only(tmp_path: Path) -> None:
    from handoff.integrations.config_merge import CODEX_COMMENT, edit_toml_table

    kept_head = 'model = "o3"\n\n'
    kept_tail = '# next\n[features]\nx = true\n'
    ours = (f'{CODEX_COMMENT}\n[mcp_servers."devin_handoff"]  # a comment\ncommand = "a"\n\n'
            '[mcp_servers.devin_handoff.env]\nA = "1"\n\n')
    text = kept_head + ours + kept_tail
    assert edit_toml_table(tmp_path / "c.toml", text, ("mcp_servers", "devin_handoff"), None) == kept_head + kept_tail
    assert edit_toml_table(tmp_path / "c.toml", kept_head + kept_tail, ("mcp_servers", "devin_handoff"),
                           None) == kept_head + kept_tail


def test_claude_hooks_already_installed_elsewhere_in_the_list_are_left_alone(tmp_path: Path) -> None:
    from handoff.integrations.config_merge import edit_json, merge_claude_hooks

    ours = json.loads(shipped("hooks", "hooks.json"))["hooks"]
    user_group = {"matcher": "Bash", "hooks": [{"type": "command", "command": "mine"}]}
    text = json.dumps({"hooks": {**ours, "PreToolUse": [*ours["PreToolUse"], user_group]}})
    path = tmp_path / "settings.json"
    assert edit_json(path, text, merge_claude_hooks(path, ours)) == text
    removed = json.loads(edit_json(path, text, merge_claude_hooks(path, ours, remove=True)) or "{}")
    assert removed == {"hooks": {"PreToolUse": [user_group]}}


def test_project_scope_outside_a_repo_says_where_files_go(world: World, tmp_path: Path) -> None:
    outside = tmp_path / "plain"
    outside.mkdir()
    result = world.run("install", "cursor", cwd=outside)
    assert result.code == 0 and "not in a git repository" in result.stderr
    assert (outside / ".cursor" / "mcp.json").is_file()


# -- shared project files, backups ------------------------------------------------------------------------

@pytest.mark.parametrize("target", ["claude-code", "codex", "cursor"])
def test_project_files_are_portable_and_user_files_absolute(world: World, target: str) -> None:
    """Project files are committed and shared: no path of this machine in them. User files may name it."""
    assert world.run("install", target, "--project").code == 0
    shared = {path: path.read_text() for path in world.project.rglob("*")
              if path.is_file() and ".git" not in path.relative_to(world.project).parts[:1]}
    assert shared, target
    for path, text in shared.items():
        assert str(world.bin) not in text and str(world.home) not in text, path
    assert world.run("install", target, "--user").code == 0
    user_text = "".join(p.read_text() for p in world.home.rglob("*") if p.is_file() and p.suffix in (".json", ".toml"))
    assert world.cli in user_text, target


def test_project_install_says_when_the_portable_command_is_not_on_path(world: World) -> None:
    (world.bin / "devin-handoff").unlink()
    result = world.run("install", "cursor", "--project")
    assert result.code == 0 and "not on PATH here" in result.stderr


def test_backups_go_to_the_state_directory_not_the_working_tree(world: World) -> None:
    cursor = world.project / ".cursor"
    cursor.mkdir()
    (cursor / "mcp.json").write_text('{"mcpServers": {"db": {"command": "db-mcp"}}}\n')
    result = world.run("install", "cursor", "--json")
    assert result.code == 0, result.stderr
    (made,) = backups(world)
    assert made.read_text() == '{"mcpServers": {"db": {"command": "db-mcp"}}}\n'
    assert str(made).startswith(str(installer.backup_root())) and made.parts[-3:] == (
        world.project.name, ".cursor", "mcp.json")
    assert git(world.project, "status", "--porcelain", "--untracked-files=all").count(".bak") == 0
    reported = [c["backup"] for c in result.json()["changes"] if c["backup"]]
    assert reported == [str(made)]
