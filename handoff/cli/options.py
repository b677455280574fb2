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
from handoff.limits import DEFAULT_MAX_BUNDLE_BYTES, DEFAULT_MAX_DIFF_BYTES, DEFAULT_PROMPT_BYTES

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


MAX_TEXT_BYTES = 1_000_000  # --task -, --context -, --context-file: one limit, an error past it, never a cut


def read_stdin(what: str, limit: int = MAX_TEXT_BYTES) -> str:
    """All of standard input as text for option `what`; UsageError when it is a terminal, closed, or larger
    than `limit` bytes. The one reader for every `-` option, so each behaves the same."""
    stream = sys.stdin
    try:
        if stream is None or stream.closed:
            raise UsageError(f"{what} reads standard input, but it is closed", "pipe the text in")
        if stream.isatty():
            raise UsageError(f"{what} reads standard input, but it is a terminal", "pipe the text in")
        buffer = getattr(stream, "buffer", None)  # bytes, so the limit is in bytes; a StringIO has none
        raw = buffer.read(limit + 1) if buffer is not None else stream.read().encode("utf-8")
    except (OSError, ValueError) as exc:
        raise UsageError(f"{what} could not read standard input ({exc})", "pipe the text in") from None
    if len(raw) > limit:
        raise UsageError(f"{what}: standard input is larger than {limit:,} bytes", "shorten it") from None
    return raw.decode("utf-8", errors="replace")


def read_text_file(what: str, name: str, limit: int = MAX_TEXT_BYTES) -> str:
    """A file the user named (relative to where they stood), with the same limit as standard input."""
    from handoff.repo import user_path

    try:
        with user_path(name).open("rb") as handle:
            raw = handle.read(limit + 1)
    except OSError as exc:
        raise UsageError(f"cannot read {what} {name}: {exc.strerror}", "check the path") from None
    if len(raw) > limit:
        raise UsageError(f"{what} {name} is larger than {limit:,} bytes", "shorten it")
    return raw.decode("utf-8", errors="replace")


def read_texts(task: str | None, context: str | None, context_file: str | None) -> tuple[str | None, str | None]:
    """(task, context) as the user meant them: `--task -` or `--context -` read standard input (one of
    them: there is one stdin), `--context-file PATH` reads a file."""
    if context is not None and context_file is not None:
        raise UsageError("--context and --context-file both given", "pass one of them")
    if task == "-" and context == "-":
        raise UsageError("--task - and --context - both read standard input", "put the context in --context-file")
    if task == "-":
        task = read_stdin("--task -")
    return task, read_context(context, context_file)


def read_context(context: str | None, context_file: str | None) -> str | None:
    """`--context TEXT`, `--context -` (stdin) or `--context-file PATH` (relative to where the user stood)."""
    if context is not None and context_file is not None:
        raise UsageError("--context and --context-file both given", "pass one of them")
    if context == "-":
        return read_stdin("--context -")
    if context_file is not None:
        return read_text_file("--context-file", context_file)
    return context


def content_options(func: F) -> F:
    """What goes into a handoff; shared by `create` and `scan` so both see the same bytes."""
    for decorator in reversed([
        click.option("--task", "-t", "task", default=None, metavar="TEXT|-",
                     help="What Devin should do (`-` reads stdin)."),
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
        click.option("--max-prompt-bytes", "max_prompt_bytes", type=click.IntRange(min=10_000),
                     default=DEFAULT_PROMPT_BYTES, show_default=True,
                     help="Size budget for the whole prompt: task, context, repository facts and patch."),
        click.option("--bundle/--no-bundle", "bundle", default=None,
                     help="Attach a git bundle of the exact state (on by default when the patch cannot carry it)."),
        click.option("--max-bundle-bytes", "max_bundle_bytes", type=click.IntRange(min=1),
                     default=DEFAULT_MAX_BUNDLE_BYTES, show_default=True,
                     help="Size budget for the bundle; the largest changed files past it are left out."),
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
