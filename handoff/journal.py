"""Local journal: the sessions this machine handed off, and handoffs whose create call failed (the outbox).

Files live under `$XDG_STATE_HOME/devin-handoff/` (default `~/.local/state/devin-handoff/`), one JSON
file per session or outbox entry, written atomically with mode 0600 in a 0700 directory. The API key
is never written; request bodies have already passed the secret gate.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from handoff.errors import mask_secrets


def state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "devin-handoff"


def _ensure_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(OSError):
        path.chmod(0o700)
    return path


def _write_json(path: Path, data: dict[str, Any]) -> None:
    """Atomic write, 0600 from the first byte (mkstemp creates files 0600)."""
    import tempfile  # only when something is written: it pulls in `random` and `shutil`

    _ensure_dir(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, ensure_ascii=False, indent=1)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # a damaged or vanished entry is skipped, never fatal
    return data if isinstance(data, dict) else None


def _safe_name(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in text)[:120]


@dataclass(frozen=True)
class JournalEntry:
    session_id: str
    url: str
    client_tag: str
    title: str = ""
    api_version: str = ""
    api_url: str = ""
    repo_slug: str | None = None
    repo_root: str | None = None
    branch: str | None = None
    base: str | None = None
    created_at: float = field(default_factory=time.time)
    status: str | None = None
    status_detail: str | None = None
    outcome: str | None = None
    pr_urls: tuple[str, ...] = ()
    last_devin_message: str | None = None
    cursor: str | None = None
    json_cursor: str | None = None  # `tail --json` reads apart from `tail`: each keeps its own position
    updated_at: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["pr_urls"] = list(self.pr_urls)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JournalEntry:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["pr_urls"] = tuple(values.get("pr_urls") or ())
        return cls(**values)


def _sessions_dir() -> Path:
    return state_dir() / "sessions"


def record_session(entry: JournalEntry) -> None:
    _write_json(_sessions_dir() / f"{_safe_name(entry.session_id)}.json", entry.to_json())


def get_session(session_id: str) -> JournalEntry | None:
    data = _read_json(_sessions_dir() / f"{_safe_name(session_id)}.json")
    try:
        return JournalEntry.from_json(data) if data else None
    except TypeError:
        return None


def update_session(session_id: str, **changes: Any) -> JournalEntry | None:
    """Update a journalled session's fields (status, cursor, PRs, …); sessions not in the journal are ignored."""
    entry = get_session(session_id)
    if entry is None:
        return None
    if "last_devin_message" in changes and changes["last_devin_message"] is not None:
        changes["last_devin_message"] = mask_secrets(changes["last_devin_message"])[:2000]
    if "pr_urls" in changes:
        changes["pr_urls"] = tuple(changes["pr_urls"])
    updated = replace(entry, **changes, updated_at=time.time())
    record_session(updated)
    return updated


def load_sessions(repo_root: str | None = None) -> list[JournalEntry]:
    """Journalled sessions, newest first; only those of `repo_root` when given."""
    directory = _sessions_dir()
    if not directory.is_dir():
        return []
    entries = []
    for path in directory.glob("*.json"):
        data = _read_json(path)
        if not data:
            continue
        try:
            entry = JournalEntry.from_json(data)
        except TypeError:
            continue
        if repo_root is None or entry.repo_root == repo_root:
            entries.append(entry)
    return sorted(entries, key=lambda e: e.created_at, reverse=True)


# -- outbox: handoffs that could not be sent -------------------------------------------------------

@dataclass(frozen=True)
class OutboxItem:
    client_tag: str
    body: dict[str, Any]          # the exact create body (already gated)
    meta: dict[str, Any]          # repo facts for the journal once sent (slug, root, branch, base, title)
    api_url: str
    api_version: str
    saved_at: float
    reason: str
    path: Path


def _outbox_dir() -> Path:
    return state_dir() / "outbox"


def save_outbox(client_tag: str, body: dict[str, Any], meta: dict[str, Any], *, api_url: str,
                api_version: str, reason: str) -> Path:
    path = _outbox_dir() / f"{_safe_name(client_tag)}.json"
    _write_json(path, {"client_tag": client_tag, "body": body, "meta": meta, "api_url": api_url,
                       "api_version": api_version, "saved_at": time.time(), "reason": mask_secrets(reason)})
    return path


def load_outbox() -> list[OutboxItem]:
    """Saved handoffs, oldest first."""
    directory = _outbox_dir()
    if not directory.is_dir():
        return []
    items = []
    for path in directory.glob("*.json"):
        data = _read_json(path)
        if not data or not isinstance(data.get("body"), dict) or not data.get("client_tag"):
            continue
        items.append(OutboxItem(client_tag=str(data["client_tag"]), body=data["body"], meta=data.get("meta") or {},
                                api_url=str(data.get("api_url") or ""), api_version=str(data.get("api_version") or ""),
                                saved_at=float(data.get("saved_at") or 0), reason=str(data.get("reason") or ""),
                                path=path))
    return sorted(items, key=lambda item: item.saved_at)


def remove_outbox(client_tag: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        (_outbox_dir() / f"{_safe_name(client_tag)}.json").unlink()
