"""Typed errors, each carrying the exit code DESIGN.md documents, and key masking.

Every stage raises a subclass of HandoffError; the CLI turns it into one line on stderr
at a single place (`handoff.cli.main`). Messages pass through `mask_secrets` there, so
an API key that slipped into a message is never printed.
"""

from __future__ import annotations

import os

from handoff.lazy_regex import lazy_compile

EXIT_OK = 0
EXIT_SESSION_FAILED = 1
EXIT_USAGE = 2
EXIT_SECRETS = 3
EXIT_CONFIG = 4
EXIT_UNREACHABLE = 5
EXIT_INTERRUPTED = 130


class HandoffError(Exception):
    """A failure the user can act on: a one-line message, an optional hint, an exit code."""

    exit_code = EXIT_SESSION_FAILED

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return mask_secrets(self.message if not self.hint else f"{self.message} ({self.hint})")


class UsageError(HandoffError):
    exit_code = EXIT_USAGE


class SessionFailed(HandoffError):
    exit_code = EXIT_SESSION_FAILED


class SecretsBlocked(HandoffError):
    exit_code = EXIT_SECRETS


class ConfigError(HandoffError):
    """Key missing or rejected, org id missing, wrong key kind, optional extra not installed."""

    exit_code = EXIT_CONFIG


class ApiUnreachable(HandoffError):
    """The API could not be reached or kept failing."""

    exit_code = EXIT_UNREACHABLE



class SavedBundleGone(HandoffError):
    """The outbox copy of a handoff's bundle was removed: that handoff cannot be sent as it was (nothing sent)."""

    exit_code = EXIT_USAGE

# Devin keys (`apk_…`, `apk_user_…`, `cog_…`) and bearer tokens, wherever they appear.
_KEY_PATTERN = lazy_compile(r"\b(apk_user_|apk_|cog_)[A-Za-z0-9_\-]{4,}")
_BEARER_PATTERN = lazy_compile(r"(?i)(bearer\s+)[A-Za-z0-9_\-.=]+")
_URL_CREDENTIALS = lazy_compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/\s@]+@")


def mask_key(key: str | None) -> str:
    """A key's kind without its value: `cog_…` / `apk_…` / `(unset)`."""
    if not key:
        return "(unset)"
    for prefix in ("apk_user_", "apk_", "cog_"):
        if key.startswith(prefix):
            return f"{prefix}…"
    return "…"


def mask_secrets(text: str) -> str:
    """Remove API keys, bearer tokens and URL credentials from text meant for a person or a file."""
    key = os.environ.get("DEVIN_API_KEY", "").strip()  # as config.py reads it (a .env may leave a CR)
    if len(key) >= 8:
        text = text.replace(key, mask_key(key))
    text = _KEY_PATTERN.sub(lambda m: f"{m.group(1)}…", text)
    text = _BEARER_PATTERN.sub(r"\1…", text)
    return _URL_CREDENTIALS.sub(r"\1***@", text)
