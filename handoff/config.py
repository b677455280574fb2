"""Settings from flags, then the environment, then git config (`handoff.*`).

The API key comes from flags or the environment only: never from a file in the repo.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass

from handoff.errors import ConfigError

DEFAULT_API_URL = "https://api.devin.ai"
APP_URL = "https://app.devin.ai"


@dataclass(frozen=True)
class Settings:
    api_key: str | None
    org_id: str | None
    user_id: str | None
    api_url: str

    @property
    def api_version(self) -> str:
        """`v3` for `cog_` keys, `v1` for `apk_` keys (and, for lack of a better guess, anything else)."""
        return "v3" if (self.api_key or "").startswith("cog_") else "v1"

    def require_key(self) -> str:
        if not self.api_key:
            raise ConfigError("DEVIN_API_KEY is not set",
                              "export DEVIN_API_KEY=cog_… (v3) or apk_… (v1); `devin-handoff demo` needs none")
        if not self.api_key.startswith(("cog_", "apk_")):
            raise ConfigError("DEVIN_API_KEY does not look like a Devin key",
                              "expected a key starting with cog_ or apk_")
        return self.api_key


def git_config(cwd: str | None = None) -> dict[str, str]:
    """All `handoff.*` values from git config, keys lower-cased without the prefix (one git call)."""
    try:
        done = subprocess.run(["git", "config", "--get-regexp", r"^handoff\."], cwd=cwd,
                              capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return {}
    values: dict[str, str] = {}
    for line in done.stdout.splitlines():
        name, _, value = line.partition(" ")
        values[name.removeprefix("handoff.").lower()] = value.strip()
    return values


def load_settings(api_url: str | None = None, org_id: str | None = None, user_id: str | None = None,
                  cwd: str | None = None) -> Settings:
    """Resolve settings: explicit flag > environment > git config > default."""

    configured: dict[str, str] | None = None

    def pick(flag: str | None, env: str, git_name: str) -> str | None:
        nonlocal configured
        if flag or os.environ.get(env):
            return flag or os.environ.get(env)
        if configured is None:
            configured = git_config(cwd)
        return configured.get(git_name.lower()) or None

    return Settings(
        api_key=os.environ.get("DEVIN_API_KEY") or None,
        org_id=pick(org_id, "DEVIN_ORG_ID", "orgId"),
        user_id=pick(user_id, "DEVIN_USER_ID", "userId"),
        api_url=(pick(api_url, "DEVIN_API_URL", "apiUrl") or DEFAULT_API_URL).rstrip("/"),
    )
