"""`install` and `uninstall`: write (or remove) the integration files for an agent or git."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from handoff.cli.options import json_option
from handoff.cli.render import Output

_SCOPE_HELP = """
\b
Targets and what they write (default scope in brackets):
  claude-code [--user]   skill .claude/skills/devin-handoff, MCP server in ~/.claude.json
                         (--project: .mcp.json), hooks in .claude/settings.json
  codex       [--project] skill .agents/skills/devin-handoff, [mcp_servers.devin_handoff] in
                         .codex/config.toml, a marked section in AGENTS.md (--user: ~/.agents,
                         ~/.codex/config.toml, no AGENTS.md)
  cursor      [--project] rule .cursor/rules/devin-handoff.mdc, .cursor/mcp.json, .cursor/hooks.json
                         (--user: ~/.cursor/skills, ~/.cursor/mcp.json, ~/.cursor/hooks.json)
  git         [--user]   `git handoff` alias to this CLI's absolute path (--global; --project: --local),
                         unless git-handoff is on PATH

\b
--project means the git top level of the current directory (or the directory itself outside a repo).
Project files are shared, so they run `devin-handoff` from PATH; --user files name its absolute path.
Changed files are backed up under $XDG_STATE_HOME/devin-handoff/backups/ (never in the project);
running twice changes nothing. The API key is never written: configs refer to DEVIN_API_KEY in the
environment.
"""


def _scope_options(func: Any) -> Any:
    func = click.option("--user", "scope", flag_value="user", help="Install for every project (home directory).")(func)
    func = click.option("--project", "scope", flag_value="project",
                        help="Install into this project (its git top level).")(func)
    func = click.option("--dry-run", is_flag=True, help="Show what would change; write nothing.")(func)
    return json_option(func)


def _shown(path_text: str) -> str:
    """Paths for people: relative to the current directory when inside it, `~/…` when under HOME."""
    path = Path(path_text)
    for base, prefix in ((Path.cwd(), ""), (Path(os.environ.get("HOME") or "~").expanduser(), "~/")):
        try:
            return prefix + str(path.relative_to(base))
        except ValueError:
            continue
    return path_text


_VERBS = {"create": "created", "update": "updated", "delete": "removed", "unchanged": "unchanged",
          "set": "set", "unset": "unset"}
_WOULD = {"create": "would create", "update": "would update", "delete": "would remove", "unchanged": "unchanged",
          "set": "would set", "unset": "would unset"}


def _run(target: str, scope: str | None, dry_run: bool, json_mode: bool, remove: bool) -> int:
    from handoff.integrations import install as installer

    out = Output(json_mode)
    plan = installer.make_plan(target, scope, remove=remove)
    records = installer.plan_records(plan) if dry_run else installer.apply_plan(plan)
    verbs = _WOULD if dry_run else _VERBS
    for record in records:
        where = _shown(record["path"]) if "path" in record else record["command"]
        backup = f"  (backup: {_shown(record['backup'])})" if record.get("backup") else ""
        out.say(f"{verbs[record['action']]:<13} {where}  [{record['what']}]{backup}",
                None if record["action"] == "unchanged" else "green")
    notes = plan.notes + (plan.next_steps if plan.changed else [])
    for note in notes:
        out.say(f"note: {note}", "dim")
    if not plan.changed:
        out.say(f"devin-handoff {plan.operation} {plan.target} ({plan.scope}): nothing to change")
    elif dry_run:
        out.say("dry run: nothing was written", "dim")
    if json_mode:
        out.json({"target": plan.target, "scope": plan.scope, "operation": plan.operation, "dry_run": dry_run,
                  "changed": plan.changed, "changes": records, "notes": notes})
    return 0


@click.command(epilog=_SCOPE_HELP)
@click.argument("target", metavar="claude-code|codex|cursor|git")
@_scope_options
def install(target: str, scope: str | None, dry_run: bool, json_mode: bool) -> int:
    """Write the integration files for an agent (skill, MCP server, hooks) or the `git handoff` alias.

    Existing configs are merged, never replaced: other servers, hooks and entries stay as they are.
    """
    return _run(target, scope, dry_run, json_mode, remove=False)


@click.command(epilog=_SCOPE_HELP)
@click.argument("target", metavar="claude-code|codex|cursor|git")
@_scope_options
def uninstall(target: str, scope: str | None, dry_run: bool, json_mode: bool) -> int:
    """Remove what `install` wrote for TARGET (same scope), keeping every other entry."""
    return _run(target, scope, dry_run, json_mode, remove=True)
