"""Click options the commands share, and reading what the user passed (context text, files, stdin).

The agent hooks parse a handoff command line with these same options (`create_options`), so a
hook sees exactly what the CLI would send.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from handoff.errors import UsageError
from handoff.repo import DEFAULT_MAX_DIFF_BYTES

F = TypeVar("F", bound=Callable[..., Any])


def api_options(func: F) -> F:
    """--api-url / --org-id / --user-id, as in the shell plugin agents already know."""
    func = click.option("--user-id", "user_id", default=None, metavar="ID",
                        help="Create the session as this user (v3; env DEVIN_USER_ID).")(func)
    func = click.option("--org-id", "org_id", default=None, metavar="ORG",
                        help="Organization id for cog_ keys (env DEVIN_ORG_ID; else resolved via /v3/self).")(func)
    func = click.option("--api-url", "api_url", default=None, metavar="URL",
                        help="API base URL (env DEVIN_API_URL; default https://api.devin.ai).")(func)
    return func


def json_option(func: F) -> F:
    return click.option("--json", "json_mode", is_flag=True,
                        help="Print JSON on stdout (JSON Lines when following); human text goes to stderr.")(func)


MAX_CONTEXT_BYTES = 1_000_000


def read_context(context: str | None, context_file: str | None) -> str | None:
    """`--context TEXT`, `--context -` (stdin) or `--context-file PATH` (relative to where the user stood)."""
    if context is not None and context_file is not None:
        raise UsageError("--context and --context-file both given", "pass one of them")
    if context == "-":
        if sys.stdin is None or sys.stdin.isatty():
            raise UsageError("--context - reads standard input, but it is a terminal", "pipe the context in")
        return sys.stdin.read(MAX_CONTEXT_BYTES)
    if context_file is not None:
        from handoff.repo import user_path

        path = user_path(context_file)
        try:
            return path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise UsageError(f"cannot read --context-file {context_file}: {exc.strerror}",
                             "check the path") from None
    return context


def content_options(func: F) -> F:
    """What goes into a handoff; shared by `create` and `scan` so both see the same bytes."""
    for decorator in reversed([
        click.option("--task", "-t", "task", default=None, help="What Devin should do."),
        click.option("--context", "-c", "context", default=None, metavar="TEXT|-",
                     help="What you learned so far (`-` reads stdin)."),
        click.option("--context-file", "context_file", default=None, metavar="PATH",
                     help="Read the context from a file."),
        click.option("--tag", "tags", multiple=True, metavar="TAG", help="Extra session tag (repeatable)."),
        click.option("--redact", is_flag=True,
                     help="Replace found secrets with [REDACTED <type>] and go on, instead of blocking."),
        click.option("--no-untracked", "no_untracked", is_flag=True, help="Leave untracked files out."),
        click.option("--max-diff-bytes", "max_diff_bytes", type=click.IntRange(min=0),
                     default=DEFAULT_MAX_DIFF_BYTES, show_default=True,
                     help="Size budget for the patch; files that do not fit are listed as left out."),
    ]):
        func = decorator(func)
    return func


def create_options(func: F) -> F:
    """Every option of `create`: what goes into the handoff, then how it is sent and followed."""
    for decorator in reversed([
        content_options,
        click.option("--dry-run", is_flag=True, help="Show what would be sent; no key and no network needed."),
        click.option("--detach", is_flag=True, help="Print the session and return without following it."),
        click.option("--push", is_flag=True, help="Push the current branch first, so Devin can start from it."),
        click.option("--interval", type=click.FloatRange(min=1), default=10.0, show_default=True,
                     help="Longest wait between polls while following."),
        click.option("--archive", is_flag=True, help="Archive the session when Devin stops (v3)."),
        click.option("--each", "each", default=None, metavar="FILE|-",
                     help="Fan out: one session per task in FILE (one per line, or JSON Lines {task, context, "
                          "tags})."),
        api_options,
        json_option,
    ]):
        func = decorator(func)
    return func


def parse_create_args(args: list[str]) -> dict[str, Any] | None:
    """`create ARGS` parsed as the CLI would parse them; None when click would reject them."""

    @click.command("create")
    @create_options
    def parser(**_: Any) -> None:  # pragma: no cover - never invoked, only parsed
        return None

    try:
        with parser.make_context("create", list(args), resilient_parsing=True) as ctx:
            return dict(ctx.params)
    except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
        return None
