"""`devin-handoff install|uninstall TARGET`: write agent integration files, idempotently and reversibly.

Every target is planned first (read, parse, merge in memory) and written only when the whole plan is
sound, so a bad config file stops the run before anything changes. Writing is idempotent (a second
run changes nothing), every changed pre-existing file is backed up once per run under the state
directory (`$XDG_STATE_HOME/devin-handoff/backups/<timestamp>/<its absolute path>`, never beside
it: a backup in the working tree would be uploaded by the next handoff), and uninstall removes only
the entries install adds. Project-scope files are committed and shared, so they start the portable
`devin-handoff` from PATH; user-scope files may name this machine's absolute path. The API key is
never written: MCP configs carry environment references (`${DEVIN_API_KEY:-}`,
`${env:DEVIN_API_KEY}`, Codex `env_vars`).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from handoff.errors import ConfigError, UsageError
from handoff.integrations.config_merge import (
    edit_json,
    edit_toml_table,
    merge_claude_hooks,
    merge_flat_hooks,
    read_text,
    remove_mcp_server,
    set_marked_block,
    set_mcp_server,
)
from handoff.integrations.resources import data_dir
from handoff.lazy_regex import lazy_compile

TARGETS = ("claude-code", "codex", "cursor", "git")
TARGET_ALIASES = {"claude": "claude-code", "claude_code": "claude-code"}
DEFAULT_SCOPE = {"claude-code": "user", "codex": "project", "cursor": "project", "git": "user"}

MCP_NAME = "devin-handoff"             # server name in Claude Code and Cursor configs
CODEX_TABLE = ("mcp_servers", "devin_handoff")
SKILL_NAME = "devin-handoff"
PORTABLE_CLI = ("devin-handoff",)      # what shared (project-scope) files run: whatever is on each user's PATH
# `git handoff` aliases we wrote: `!devin-handoff`, `!/abs/path/devin-handoff`, `!/abs/python -m handoff`
_OUR_GIT_ALIAS = lazy_compile(r"^!\s*(\S*/)?devin-handoff\s*$|^!\s*\S+\s+-m\s+handoff\s*$")


# -- the plan ------------------------------------------------------------------------------------------

@dataclass
class FileEdit:
    """One file's before and after; `after=None` deletes it."""

    path: Path
    what: str
    before: str | None
    after: str | None
    backup: bool = True          # back up `before` when it changes (off for files wholly ours)

    @property
    def action(self) -> str:
        if self.before == self.after:
            return "unchanged"
        if self.after is None:
            return "delete"
        return "create" if self.before is None else "update"


@dataclass
class GitStep:
    """A `git config` change; `args=None` when nothing needs doing."""

    what: str
    args: list[str] | None
    cwd: Path | None = None
    action: str = "unchanged"


@dataclass
class Plan:
    target: str
    scope: str
    operation: str               # "install" | "uninstall"
    edits: list[FileEdit] = field(default_factory=list)
    git: list[GitStep] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)       # always shown
    next_steps: list[str] = field(default_factory=list)  # shown only when something changed
    bases: tuple[Path, ...] = ()  # project root and HOME: emptied directories are pruned up to these

    @property
    def changed(self) -> bool:
        return any(e.action != "unchanged" for e in self.edits) or any(g.args for g in self.git)


@dataclass(frozen=True)
class Places:
    """Where things go: the user's home, the project root, and how to start the CLI."""

    home: Path
    root: Path
    cli: tuple[str, ...]

    @property
    def codex_home(self) -> Path:
        custom = os.environ.get("CODEX_HOME")
        return Path(custom).expanduser() if custom else self.home / ".codex"

    def launcher(self, scope: str) -> tuple[str, ...]:
        """How a config of this scope starts the CLI: portable in shared project files, absolute for the user."""
        return PORTABLE_CLI if scope == "project" else self.cli


# -- locating things -----------------------------------------------------------------------------------

def home_dir() -> Path:
    home = os.environ.get("HOME") or os.path.expanduser("~")
    if not home or home == "~":
        raise ConfigError("HOME is not set", "set HOME, or use --project")
    return Path(home)


def project_root(cwd: Path | None = None) -> Path:
    """The git top level of `cwd`, or `cwd` itself outside a repository."""
    from handoff import repo

    here = Path(cwd or os.getcwd())
    top = repo.git_toplevel(str(here))
    return Path(top) if top else here


def cli_command() -> tuple[str, ...]:
    """How an agent host should start this CLI: the absolute `devin-handoff` on PATH, else ourselves.

    GUI hosts may start with a minimal PATH, so configs get an absolute path, never a bare name.
    """
    found = shutil.which("devin-handoff")
    if found:
        return (str(Path(found).absolute()),)
    argv0 = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if argv0 is not None and argv0.name in ("devin-handoff", "git-handoff") and argv0.exists():
        sibling = argv0.resolve().with_name("devin-handoff")
        return (str(sibling if sibling.exists() else argv0.resolve()),)
    return (sys.executable, "-m", "handoff")   # run as `python -m handoff` (a checkout, or tests)


def normalize_target(target: str) -> str:
    name = TARGET_ALIASES.get(target.lower(), target.lower())
    if name not in TARGETS:
        raise UsageError(f"unknown target '{target}'", f"choose one of {', '.join(TARGETS)}")
    return name


# -- planning one file ---------------------------------------------------------------------------------

def json_edit(path: Path, what: str, change: Callable[[dict[str, Any]], None]) -> FileEdit:
    """An edit of a JSON object file (deleted, unbacked-up, when only our entries were in it)."""
    before = read_text(path)
    after = edit_json(path, before, change)
    return FileEdit(path, what, before, after, backup=after is not None)


def toml_edit(path: Path, what: str, name: tuple[str, ...], values: dict[str, Any] | None) -> FileEdit:
    before = read_text(path)
    after = edit_toml_table(path, before, name, values)
    return FileEdit(path, what, before, after, backup=after is not None)


def shipped_text(*parts: str) -> str:
    """A file shipped with devin-handoff (`integrations/…`, `hooks/…`)."""
    path = data_dir(parts[0]).joinpath(*parts[1:])
    text = read_text(path)
    if text is None:
        raise ConfigError(f"integration file {'/'.join(parts)} is missing from this installation",
                          "reinstall devin-handoff")
    return text


def shipped_json(*parts: str) -> dict[str, Any]:
    return json.loads(shipped_text(*parts))


# -- targets -------------------------------------------------------------------------------------------

def _skill_edit(directory: Path, remove: bool) -> FileEdit:
    path = directory / SKILL_NAME / "SKILL.md"
    ours = shipped_text("integrations", "skills", SKILL_NAME, "SKILL.md")
    before = read_text(path)
    if remove:
        return FileEdit(path, "skill devin-handoff", before, None, backup=before != ours)
    return FileEdit(path, "skill devin-handoff", before, ours)


def _with_launcher(entry: dict[str, Any], launcher: tuple[str, ...]) -> dict[str, Any]:
    return {**entry, "command": launcher[0], "args": [*launcher[1:], *entry["args"]]}


def _claude_mcp_entry(places: Places, scope: str) -> dict[str, Any]:
    entry = shipped_json("integrations", "claude-code", ".mcp.json")["mcpServers"][MCP_NAME]
    return _with_launcher(entry, places.launcher(scope))


def plan_claude_code(places: Places, scope: str, remove: bool) -> Plan:
    plan = Plan("claude-code", scope, "uninstall" if remove else "install")
    if scope == "project":
        skills, mcp_file, settings = (places.root / ".claude" / "skills", places.root / ".mcp.json",
                                      places.root / ".claude" / "settings.json")
    else:
        skills, mcp_file, settings = (places.home / ".claude" / "skills", places.home / ".claude.json",
                                      places.home / ".claude" / "settings.json")
    plan.edits.append(_skill_edit(skills, remove))
    mcp_change = remove_mcp_server(mcp_file, MCP_NAME) if remove else \
        set_mcp_server(mcp_file, MCP_NAME, _claude_mcp_entry(places, scope))
    plan.edits.append(json_edit(mcp_file, f"MCP server {MCP_NAME}", mcp_change))
    hooks = shipped_json("hooks", "hooks.json")["hooks"]
    plan.edits.append(json_edit(settings, "hooks SessionStart, PreToolUse",
                                merge_claude_hooks(settings, hooks, remove=remove)))
    if not remove:
        plan.next_steps.append("restart Claude Code to load the skill, MCP server and hooks"
                          + ("; approve the project MCP server when asked" if scope == "project" else ""))
        plan.next_steps.append("if you also installed the devin-handoff plugin, its hooks run too: keep one of the two")
    return plan


def _codex_values(places: Places, scope: str) -> dict[str, Any]:
    entry = dict(shipped_json("integrations", "codex", ".mcp.json")["mcpServers"][CODEX_TABLE[1]])
    entry.pop("type", None)
    return _with_launcher(entry, places.launcher(scope))


def plan_codex(places: Places, scope: str, remove: bool) -> Plan:
    plan = Plan("codex", scope, "uninstall" if remove else "install")
    base = places.root if scope == "project" else places.home
    config = (places.root / ".codex" if scope == "project" else places.codex_home) / "config.toml"
    plan.edits.append(_skill_edit(base / ".agents" / "skills", remove))
    plan.edits.append(toml_edit(config, f"MCP server [{'.'.join(CODEX_TABLE)}]", CODEX_TABLE,
                                      None if remove else _codex_values(places, scope)))
    if scope == "project":
        agents = places.root / "AGENTS.md"
        before = read_text(agents)
        block = shipped_text("integrations", "AGENTS.md")
        after = set_marked_block(agents, before, None if remove else block)
        plan.edits.append(FileEdit(agents, "AGENTS.md devin-handoff section", before, after,
                                   backup=after is not None or before != block))
        if not remove:
            plan.next_steps.append("Codex reads .codex/config.toml only in trusted projects; "
                              "`devin-handoff install codex --user` configures every project")
    return plan


def plan_cursor(places: Places, scope: str, remove: bool) -> Plan:
    plan = Plan("cursor", scope, "uninstall" if remove else "install")
    base = places.root / ".cursor" if scope == "project" else places.home / ".cursor"
    if scope == "project":
        rule = base / "rules" / "devin-handoff.mdc"
        ours = shipped_text("integrations", "cursor", "rules", "devin-handoff.mdc")
        before = read_text(rule)
        plan.edits.append(FileEdit(rule, "rule devin-handoff (agent-requested)", before, None if remove else ours,
                                   backup=before != ours))
    else:  # Cursor has no user-level rule files; its user skills folder serves the same purpose
        plan.edits.append(_skill_edit(base / "skills", remove))
    mcp_file = base / "mcp.json"
    entry = _with_launcher(shipped_json("integrations", "cursor", "mcp.json")["mcpServers"][MCP_NAME],
                           places.launcher(scope))
    plan.edits.append(json_edit(mcp_file, f"MCP server {MCP_NAME}", remove_mcp_server(mcp_file, MCP_NAME)
                                if remove else set_mcp_server(mcp_file, MCP_NAME, entry)))
    hooks_file = base / "hooks.json"
    hooks = _cursor_hooks(places.launcher(scope))
    plan.edits.append(json_edit(hooks_file, "hook beforeShellExecution",
                                merge_flat_hooks(hooks_file, hooks, remove=remove)))
    if not remove:
        plan.next_steps.append("reload the Cursor window to load the MCP server and hook")
    return plan


def _cursor_hooks(cli: tuple[str, ...]) -> dict[str, list[Any]]:
    """The shipped hook started with `cli` (absolute in user scope: Cursor's hook processes may not see the
    login shell's PATH)."""
    hooks = shipped_json("integrations", "cursor", "hooks.json")["hooks"]
    launcher = shlex.join(cli)
    for handlers in hooks.values():
        for handler in handlers:
            handler["command"] = re.sub(r"^devin-handoff(?=\s)", lambda _: launcher, handler["command"])
    return hooks


def _git(args: list[str], cwd: Path | None) -> tuple[int, str, str]:
    """(status, stdout, stderr) of one git command, through the repo stage's door."""
    from handoff import repo

    status, out, err = repo.run_git(cwd, *args, timeout=10)
    if status == 127:
        raise ConfigError(f"cannot run git: {err.strip()}", "install git")
    return status, out, err


def git_alias_value(places: Places) -> str:
    """`!` + how to start this CLI, absolute: the alias must work when devin-handoff is not on PATH."""
    return "!" + shlex.join(places.cli)


def is_our_git_alias(value: str | None) -> bool:
    return bool(value) and bool(_OUR_GIT_ALIAS.match(value or ""))


def plan_git(places: Places, scope: str, remove: bool) -> Plan:
    plan = Plan("git", scope, "uninstall" if remove else "install")
    where = ["--local"] if scope == "project" else ["--global"]
    cwd = places.root if scope == "project" else None
    if scope == "project" and _git(["rev-parse", "--git-dir"], cwd)[0] != 0:
        raise UsageError(f"{places.root} is not a git repository", "run it inside your checkout, or use --user")
    current = _git(["config", *where, "--get", "alias.handoff"], cwd)[1].strip() or None
    label = f"git config {where[0]} alias.handoff"
    if remove:
        if is_our_git_alias(current):
            plan.git.append(GitStep(label, ["config", *where, "--unset", "alias.handoff"], cwd, "unset"))
        elif current:
            plan.notes.append(f"alias.handoff is '{current}', not ours: left as it is")
        return plan
    on_path = shutil.which("git-handoff")
    if on_path:
        plan.notes.append(f"`git handoff` already runs devin-handoff: git-handoff is on PATH ({on_path})")
        plan.git.append(GitStep(label, None))
        return plan
    wanted = git_alias_value(places)
    if current == wanted:
        plan.git.append(GitStep(label, None))
    elif current and not is_our_git_alias(current):
        raise ConfigError(f"alias.handoff is already set to '{current}'",
                          f"remove it with `git config {where[0]} --unset alias.handoff` first; nothing was changed")
    else:  # not set, or an older alias of ours (e.g. `!devin-handoff`, which needs PATH)
        plan.git.append(GitStep(label, ["config", *where, "alias.handoff", wanted], cwd,
                                "update" if current else "set"))
    plan.notes.append("`git handoff -h` prints the help (git itself answers `--help` with a man page)")
    return plan


PLANNERS: dict[str, Callable[[Places, str, bool], Plan]] = {
    "claude-code": plan_claude_code, "codex": plan_codex, "cursor": plan_cursor, "git": plan_git,
}


def make_plan(target: str, scope: str | None = None, *, remove: bool = False, places: Places | None = None) -> Plan:
    """Everything `install`/`uninstall TARGET` would do, read and checked but not yet written."""
    target = normalize_target(target)
    scope = scope or DEFAULT_SCOPE[target]
    if places is None:
        places = Places(home=home_dir(), root=project_root(), cli=cli_command())
    plan = PLANNERS[target](places, scope, remove)
    plan.bases = (places.root, places.home)
    if scope == "project" and target != "git" and not remove and shutil.which(PORTABLE_CLI[0]) is None:
        plan.notes.append(f"project files run `{PORTABLE_CLI[0]}` from PATH (they are shared), and it is not on "
                          "PATH here: install it with `pipx install .` or `uv tool install .`, or use --user")
    if scope == "project" and not (places.root / ".git").exists() and target != "git":
        plan.notes.append(f"not in a git repository: project files go to {places.root}")
    _refuse_key(plan)
    return plan


def _refuse_key(plan: Plan) -> None:
    """The key's value must never land in a file we write (an existing file that has it is not ours to judge)."""
    key = os.environ.get("DEVIN_API_KEY", "")
    if len(key) < 8:
        return
    for edit in plan.edits:
        if edit.after and key in edit.after and not (edit.before and key in edit.before):
            raise ConfigError(f"refusing to write DEVIN_API_KEY's value into {edit.path}")


# -- applying ------------------------------------------------------------------------------------------

def backup_root() -> Path:
    """Where backups go: the state directory, never the working tree a handoff uploads."""
    from handoff.journal import state_dir

    return state_dir() / "backups"


def _backup_path(path: Path, stamp: str) -> Path:
    """`backups/<stamp>/<absolute path of the file>`, a new stamp directory when one run's is taken."""
    relative = Path(*path.resolve().parts[1:])
    candidate = backup_root() / stamp / relative
    counter = 1
    while candidate.exists():
        candidate = backup_root() / f"{stamp}-{counter}" / relative
        counter += 1
    return candidate


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o7777 if path.exists() else None
    tmp = path.with_name(f".{path.name}.devin-handoff-tmp")
    tmp.write_text(text, encoding="utf-8")
    if mode is not None:
        os.chmod(tmp, mode)
    os.replace(tmp, path)


def _prune_empty_dirs(directory: Path, stop: Path | None) -> None:
    """Remove directories left empty by a delete, up to (not including) `stop` (the project root or HOME)."""
    while stop is not None and directory != stop and stop in directory.parents:
        try:
            directory.rmdir()
        except OSError:
            return  # not empty, or not ours to remove
        directory = directory.parent


def apply_plan(plan: Plan) -> list[dict[str, Any]]:
    """Write the plan; returns one record per file or git setting (with the backup made, if any).

    Directories emptied by a delete are removed up to the project root or HOME that holds the file."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    records: list[dict[str, Any]] = []
    for edit in plan.edits:
        backup = None
        action = edit.action
        try:
            if action != "unchanged" and edit.before is not None and edit.backup:
                backup = _backup_path(edit.path, stamp)
                backup.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                shutil.copy2(edit.path, backup)
            if action in ("create", "update"):
                _write_atomic(edit.path, edit.after or "")
            elif action == "delete":
                edit.path.unlink(missing_ok=True)
                _prune_empty_dirs(edit.path.parent, _base_of(edit.path, plan.bases))
        except OSError as exc:
            raise ConfigError(f"cannot write {edit.path}: {exc.strerror}",
                              "fix its permissions; files listed before it were changed") from None
        records.append(change_record(edit, backup))
    for step in plan.git:
        if step.args:
            status, _, err = _git(step.args, step.cwd)
            if status != 0:
                raise ConfigError(f"`git {' '.join(step.args)}` failed: {err.strip()}")
        records.append({"command": step.what, "what": "git alias", "action": step.action, "backup": None})
    return records


def _base_of(path: Path, bases: tuple[Path, ...]) -> Path | None:
    """The deepest of `bases` that holds `path`: pruning empty directories stops there."""
    holding = [base for base in bases if base in path.parents]
    return max(holding, key=lambda base: len(base.parts)) if holding else None


def change_record(edit: FileEdit, backup: Path | None = None) -> dict[str, Any]:
    return {"path": str(edit.path), "what": edit.what, "action": edit.action,
            "backup": str(backup) if backup else None}


def plan_records(plan: Plan) -> list[dict[str, Any]]:
    """What a dry run reports: the same records, nothing written."""
    records = [change_record(edit) for edit in plan.edits]
    records += [{"command": s.what, "what": "git alias", "action": s.action, "backup": None} for s in plan.git]
    return records
