"""Settings from flags, then the environment, then git config (`handoff.*`), checked before any request.

The API key comes from flags or the environment only: never from a file in the repo. It is stripped of
surrounding whitespace (a Windows `.env` leaves a CR) and refused, without echoing any of it, when it holds
anything a header cannot carry. The API URL is refused at once (exit 2) unless it is https (http only on
loopback) with no credentials, query or fragment.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from handoff.errors import ConfigError, UsageError

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
        problem = key_problem(self.api_key)
        if problem:
            raise ConfigError(f"DEVIN_API_KEY {problem}", "copy the key again from Devin's settings")
        if not self.api_key.startswith(("cog_", "apk_")):
            raise ConfigError("DEVIN_API_KEY does not look like a Devin key",
                              "expected a key starting with cog_ or apk_")
        return self.api_key


def key_problem(key: str) -> str | None:
    """Why `key` (already stripped) cannot be sent as a bearer token; names the kind of character, never
    the character or its place (either would leak part of the key)."""
    if any(ch.isspace() for ch in key):
        return "contains whitespace inside it"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in key):
        return "contains a control character"
    if not key.isascii():
        return "contains a non-ASCII character"
    return None


def clean_key(raw: str | None) -> str | None:
    """The key without surrounding whitespace (a trailing CR from a Windows `.env`), None when empty."""
    key = (raw or "").strip()
    return key or None


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    import ipaddress  # only when an http:// URL is checked

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_api_url(url: str, source: str) -> str:
    """`url` without a trailing slash when it is a usable API base URL; else UsageError naming `source`."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number or out of range
    except ValueError as exc:
        raise UsageError(f"{source} is not a valid URL ({exc})", "e.g. https://api.devin.ai") from None
    hint = "e.g. https://api.devin.ai (http only for 127.0.0.1 or localhost)"
    if parts.scheme not in ("https", "http") or not host:
        got = f"{parts.scheme}://" if parts.scheme and host else "no scheme://host"
        raise UsageError(f"{source} must be an https URL (it has {got})", hint)
    if parts.username is not None or parts.password is not None:
        raise UsageError(f"{source} must not carry a user or password (the key goes in DEVIN_API_KEY)",
                         "remove the user:password@ part")
    if parts.query or parts.fragment:
        raise UsageError(f"{source} must not have a ?query or #fragment", "pass the API's base URL only")
    if parts.scheme == "http" and not _is_loopback(host):
        raise UsageError(f"{source} uses http:// to {host}: the key would travel in clear text", hint)
    return url.strip().rstrip("/")


def resolve_settings(read_git_config: Callable[[], Mapping[str, str]], api_url: str | None = None,
                     org_id: str | None = None, user_id: str | None = None, *,
                     creates_sessions: bool = True) -> Settings:
    """Resolve settings: explicit flag > environment > git config > default. `read_git_config` gives the
    `handoff.*` values (keys lower-cased, prefix dropped); it is called only when a flag and the environment
    leave a value open (see handoff/app/settings.py, which reads them through the repo stage). The user id
    only shapes a create, so a command that creates no session (`creates_sessions=False`) leaves it to the
    flag and the environment and does not start git for it."""

    configured: Mapping[str, str] | None = None

    def pick(flag: str | None, env: str, git_name: str, from_git: bool = True) -> str | None:
        nonlocal configured
        if flag or os.environ.get(env):
            return (flag or os.environ.get(env) or "").strip() or None  # a Windows .env leaves a CR
        if not from_git:
            return None
        if configured is None:
            configured = read_git_config()
        return configured.get(git_name.lower()) or None

    chosen_url = pick(api_url, "DEVIN_API_URL", "apiUrl")
    source = ("--api-url" if api_url else "DEVIN_API_URL" if os.environ.get("DEVIN_API_URL")
              else "git config handoff.apiUrl")
    return Settings(
        api_key=clean_key(os.environ.get("DEVIN_API_KEY")),
        org_id=pick(org_id, "DEVIN_ORG_ID", "orgId"),
        user_id=pick(user_id, "DEVIN_USER_ID", "userId", from_git=creates_sessions),
        api_url=check_api_url(chosen_url, source) if chosen_url else DEFAULT_API_URL,
    )
