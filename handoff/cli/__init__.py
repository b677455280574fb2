"""The `devin-handoff` / `git handoff` command line: parse, dispatch, turn errors into exit codes.

Commands live in `handoff/cli/commands/`, one module per verb, imported only when invoked, so
`--help` and every command pay only for the imports they use. `main` is the one place where an
error becomes a one-line message and a documented exit code.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from handoff import __version__
from handoff.errors import EXIT_INTERRUPTED, EXIT_USAGE, HandoffError, mask_secrets

# command name -> (module in handoff/cli/commands/, attribute, one-line help shown by `--help` without importing it)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "create": ("create", "create", "Hand a task and this checkout's state to a new Devin session."),
    "scan": ("scan", "scan", "Run the secret gate on what `create` would send; no network."),
    "tail": ("tail", "tail", "Follow a session: messages, status changes, PR links."),
    "poll": ("tail", "tail", "Alias of `tail`."),
    "status": ("status", "status", "One look at a session: status, detail, PR, last message."),
    "send": ("send", "send", "Reply to a session (resumes a suspended one)."),
    "list": ("list", "list_sessions", "Handoff sessions: local journal joined with the API."),
    "archive": ("archive", "archive", "Archive a session (v3 keys)."),
    "retry": ("retry", "retry", "Send a handoff that was saved because the create call failed."),
    "doctor": ("doctor", "doctor", "Check git, key kind, org id and API reachability."),
    "demo": ("demo", "demo", "Run the whole flow against a local simulator; no key needed."),
    "pickup": ("pickup", "pickup", "Check out the session's PR head in a local branch."),
    "install": ("install", "install", "Write the integration files for an agent or git."),
    "uninstall": ("install", "uninstall", "Remove what `install` wrote."),
    "mcp": ("mcp", "mcp", "Run the MCP server over stdio."),
    "hook": ("hook", "hook", "Entry point for agent hooks."),
    "simulator": ("simulator", "simulator", "Run the Devin API simulator on 127.0.0.1."),
}
COMMANDS_PACKAGE = "handoff.cli.commands"


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module_name, attribute, _ = entry
        try:
            module = importlib.import_module(f"{COMMANDS_PACKAGE}.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith(COMMANDS_PACKAGE):
                return None  # not built yet in this checkout
            raise
        command = getattr(module, attribute)
        if cmd_name == "poll":
            command = click.Command("poll", params=command.params, callback=command.callback,
                                    help=command.help, context_settings=command.context_settings)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, help_text) for name, (_, _, help_text) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="devin-handoff")
def cli() -> None:
    """Hand the task you are working on, with the exact state of your git checkout,
    to a cloud Devin session, then follow it until Devin stops.

    \b
    Exit codes: 0 done, 1 session ended badly, 2 usage, 3 secrets found (nothing sent),
    4 auth/config, 5 API unreachable (handoff saved for `retry`), 130 interrupted.
    """
    _show_retry_waits()


def _show_retry_waits() -> None:
    """Each retry wait of this command's API calls becomes one line on stderr (`API busy (503), retrying in
    4 s…`); the runtime is put back when the command ends (in-process callers keep theirs)."""
    from dataclasses import replace

    from handoff import runtime

    previous = runtime.DEFAULT
    runtime.DEFAULT = replace(previous, on_wait=_say_wait)
    click.get_current_context().call_on_close(lambda: setattr(runtime, "DEFAULT", previous))


def _say_wait(wait: object) -> None:
    click.echo(f"devin-handoff: {mask_secrets(wait.line())}", err=True)  # type: ignore[attr-defined]


def _debug() -> bool:
    return bool(os.environ.get("DEVIN_HANDOFF_DEBUG"))


def _sink_for_closed_streams() -> None:
    """A stdout or stderr closed by the caller (`>&-`) is None in Python: give it a sink, so a command still
    runs (a created session is journaled and its URL shown wherever output remains) instead of crashing."""
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115 - lives as long as the process


def _show_notice(text: str) -> None:
    click.echo(f"devin-handoff: warning: {mask_secrets(text)}", err=True)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; every error a user can cause ends here as one line and a documented exit code."""
    _sink_for_closed_streams()
    from handoff.notices import on_notice

    on_notice(_show_notice)
    try:
        code = cli.main(args=argv, prog_name="devin-handoff", standalone_mode=False)
    except HandoffError as exc:
        click.echo(f"devin-handoff: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("devin-handoff: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except KeyboardInterrupt:
        click.echo("devin-handoff: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_USAGE if isinstance(exc, click.UsageError) else exc.exit_code)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as exc:  # a bug of ours, not the user's: short message unless debugging
        if _debug():
            raise
        click.echo(f"devin-handoff: internal error: {mask_secrets(f'{type(exc).__name__}: {exc}')} "
                   "(set DEVIN_HANDOFF_DEBUG=1 for a traceback)", err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
