"""What the session verbs (tail, status, send, list, archive) share: settings with a key, the client, ids."""

from __future__ import annotations

from typing import Any

from handoff.app.settings import load_settings
from handoff.config import Settings


def settings_with_key(api_url: str | None, org_id: str | None, user_id: str | None) -> Settings:
    settings = load_settings(api_url=api_url, org_id=org_id, user_id=user_id, creates_sessions=False)
    settings.require_key()
    return settings


def one_shot_client(settings: Settings) -> Any:
    from handoff.app.launch import open_client
    from handoff.app.sessions import ONE_SHOT_RETRY_BUDGET

    return open_client(settings, retry_budget=ONE_SHOT_RETRY_BUDGET)


def session_id(text: str) -> str:
    from handoff.devin.ids import normalize_session_id

    return normalize_session_id(text)
