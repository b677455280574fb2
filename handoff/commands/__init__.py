"""CLI commands, one module per group of verbs; shared click options live here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

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
