"""Use case: the settings a command runs with (flags > environment > git config `handoff.*` > defaults).

The rules live in handoff/config.py; this joins them to the repo stage, the one door to git.
"""

from __future__ import annotations

from handoff.config import Settings, resolve_settings


def handoff_git_config(cwd: str | None) -> dict[str, str]:
    """`handoff.*` values from git config, keys lower-cased without the prefix (one git call)."""
    from handoff import repo

    found = repo.git_config(cwd, r"^handoff\.")
    return {key.removeprefix("handoff.").lower(): value.strip() for key, value in found.items()}


def load_settings(api_url: str | None = None, org_id: str | None = None, user_id: str | None = None,
                  cwd: str | None = None, *, creates_sessions: bool = True) -> Settings:
    """`creates_sessions=False` for commands that only read or message sessions (see `resolve_settings`)."""
    return resolve_settings(lambda: handoff_git_config(cwd), api_url=api_url, org_id=org_id, user_id=user_id,
                            creates_sessions=creates_sessions)
