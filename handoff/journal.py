"""Local journal: the sessions this machine handed off, and the handoffs not yet confirmed sent (the outbox).

Files live under `$XDG_STATE_HOME/devin-handoff/` (default `~/.local/state/devin-handoff/`), one JSON
file per session or outbox entry, written atomically (a `.tmp-*` file renamed into place) with mode 0600
in 0700 directories. The API key is never written; request bodies have already passed the secret gate.

The outbox is write-ahead: a handoff is saved here before its create request is sent, and removed only
once its session is in the journal. Each entry carries its in-flight window (until when an earlier create
may still land), and a per-handoff lock file (`outbox/.locks/`, `fcntl.flock`) lets one process at a time
send it. A damaged file is reported once, with its path, and moved aside as `*.corrupt`.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from handoff.errors import ConfigError, mask_secrets
from handoff.notices import notice

TMP_PREFIX = ".tmp-"
CORRUPT_SUFFIX = ".corrupt"
STALE_TMP_SECONDS = 3600.0  # a temp file this old was left by a process that died mid-write


class StateError(ConfigError):
    """The state directory cannot be written (unwritable, full): exit 4, naming the path."""

    def __init__(self, path: Path, exc: OSError, what: str = "cannot write the state directory") -> None:
        reason = exc.strerror or str(exc)
        code = errno.errorcode.get(exc.errno or 0)
        super().__init__(f"{what} {path}: {reason}" + (f" ({code})" if code else ""),
                         "free some space or fix its permissions, or point XDG_STATE_HOME at a writable directory")
        self.path = path


# -- files ------------------------------------------------------------------------------------------

def state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "devin-handoff"


def _ensure_dir(path: Path) -> Path:
    """Create `path` (and our parents up to the state dir) 0700; existing ones are tightened to 0700."""
    root = state_dir()
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    for directory in (path, *path.parents):
        with contextlib.suppress(OSError):
            if directory.stat().st_mode & 0o077:
                directory.chmod(0o700)
        if directory == root or root not in directory.parents:
            break
    return path


def _write_bytes(path: Path, handle: IO[bytes], data: bytes, *, durable: bool = True) -> None:
    """The one place bytes reach a state file (`path`: where they end up; a test injects ENOSPC here).
    `durable`: on the disk before the rename (a write-ahead entry must survive a crash, not only a kill)."""
    handle.write(data)
    handle.flush()
    if durable:
        os.fsync(handle.fileno())


def _write_json(path: Path, data: dict[str, Any], *, durable: bool = True) -> None:
    """Atomic write, 0600 from the first byte (mkstemp creates files 0600); StateError when it cannot be done."""
    import tempfile  # only when something is written: it pulls in `random` and `shutil`

    encoded = json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8")
    try:
        _ensure_dir(path.parent)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=TMP_PREFIX, suffix=".json")
    except OSError as exc:
        raise StateError(path.parent, exc) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            _write_bytes(path, handle, encoded, durable=durable)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise StateError(path.parent, exc) from None
        raise


def check_writable(directory: Path | None = None) -> Path:
    """Prove the outbox can be written (create, write, remove a temp file) before anything is sent."""
    import tempfile

    directory = directory or _outbox_dir()
    try:
        _ensure_dir(directory)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=TMP_PREFIX, suffix=".probe")
        try:
            with os.fdopen(fd, "wb") as handle:
                _write_bytes(Path(tmp), handle, b"{}", durable=False)
        finally:
            os.unlink(tmp)
    except OSError as exc:
        raise StateError(directory, exc) from None
    return directory


def _move_aside(path: Path, why: str) -> None:
    aside = path.with_name(path.name + CORRUPT_SUFFIX)
    try:
        os.replace(path, aside)
    except FileNotFoundError:
        return  # another process moved it first (and reported it)
    except OSError as exc:
        notice(f"damaged state file {path} ({why}); could not move it aside: {exc.strerror or exc}")
        return
    notice(f"damaged state file {path} ({why}); moved aside to {aside.name}")


def _read_json(path: Path) -> dict[str, Any] | None:
    """A state file's object; None when it vanished, or when it is damaged (then it is moved aside)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None  # removed by another process since it was listed: not damage
    except OSError as exc:
        notice(f"cannot read state file {path}: {exc.strerror or exc}")
        return None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        _move_aside(path, "not valid JSON: truncated or overwritten")
        return None
    if not isinstance(data, dict):
        _move_aside(path, f"a JSON {type(data).__name__}, not an object")
        return None
    return data


def _entry_files(directory: Path) -> Iterator[Path]:
    """`*.json` entries of a directory: temp files are never entries (stale ones are cleaned up)."""
    if not directory.is_dir():
        return
    for path in directory.glob("*.json"):
        if path.name.startswith(TMP_PREFIX):
            _remove_if_stale(path)
        elif not path.name.startswith("."):
            yield path


def _remove_if_stale(path: Path) -> None:
    with contextlib.suppress(OSError):
        if time.time() - path.stat().st_mtime > STALE_TMP_SECONDS:
            path.unlink()


def _safe_name(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in text)[:120]


# -- field types: whatever a file holds, an entry gets the types it declares --------------------------

def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def _as_time(value: Any, default: float = 0.0) -> float:
    """Epoch seconds from a number, a numeric string or an ISO 8601 date; `default` otherwise."""
    if isinstance(value, bool):
        return default
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else default
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            number = float(value)
            return number if math.isfinite(number) else default
        with contextlib.suppress(ValueError):
            return datetime.fromisoformat(value.strip().replace("Z", "+00:00")).timestamp()
    return default


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
        """An entry from a file's object, each field coerced to its type; ValueError without an id or URL."""
        values: dict[str, Any] = {}
        for spec in fields(cls):
            if spec.name not in data:
                continue
            value = data[spec.name]
            if spec.name in ("created_at", "updated_at"):
                values[spec.name] = _as_time(value)
            elif spec.name == "pr_urls":
                values[spec.name] = tuple(str(u) for u in value if isinstance(u, str)) if isinstance(value, list) \
                    else ()
            else:
                text = _as_text(value)
                if text is not None or spec.default is None:
                    values[spec.name] = text
        for required in ("session_id", "url"):
            if not values.get(required):
                raise ValueError(f"no {required}")
        values.setdefault("client_tag", "")
        return cls(**values)


def _sessions_dir() -> Path:
    return state_dir() / "sessions"


def _session_path(session_id: str) -> Path:
    return _sessions_dir() / f"{_safe_name(session_id)}.json"


def record_session(entry: JournalEntry, *, durable: bool = False) -> None:
    """Journal a session; StateError when the state directory cannot be written. Not fsynced by default: it
    survives any death of the process; only a machine crash within seconds could lose it, and `list` still
    finds the session through the API by its handoff tag."""
    _write_json(_session_path(entry.session_id), entry.to_json(), durable=durable)


def _entry_at(path: Path) -> JournalEntry | None:
    data = _read_json(path)
    if data is None:
        return None
    try:
        return JournalEntry.from_json(data)
    except ValueError as exc:
        _move_aside(path, f"not a session entry: {exc}")
        return None


def get_session(session_id: str) -> JournalEntry | None:
    return _entry_at(_session_path(session_id))


def update_session(session_id: str, **changes: Any) -> JournalEntry | None:
    """Update a journalled session's fields (status, cursor, PRs, …); sessions not in the journal are ignored.

    The journal is a local copy here: a write that fails (full disk) is reported, not raised."""
    entry = get_session(session_id)
    if entry is None:
        return None
    if "last_devin_message" in changes and changes["last_devin_message"] is not None:
        changes["last_devin_message"] = mask_secrets(changes["last_devin_message"])[:2000]
    if "pr_urls" in changes:
        changes["pr_urls"] = tuple(changes["pr_urls"])
    updated = replace(entry, **changes, updated_at=time.time())
    try:
        record_session(updated)
    except StateError as exc:
        notice(f"the journal entry of {session_id} was not updated: {exc.message}")
        return entry
    return updated


def load_sessions(repo_root: str | None = None) -> list[JournalEntry]:
    """Journalled sessions, newest first; only those of `repo_root` when given."""
    entries = []
    for path in _entry_files(_sessions_dir()):
        entry = _entry_at(path)
        if entry is not None and (repo_root is None or entry.repo_root == repo_root):
            entries.append(entry)
    return sorted(entries, key=lambda e: e.created_at, reverse=True)


# -- outbox: handoffs not yet confirmed sent ---------------------------------------------------------

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
    in_flight_until: float = 0.0  # epoch seconds: until then an earlier create may still land
    attempts: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"client_tag": self.client_tag, "body": self.body, "meta": self.meta, "api_url": self.api_url,
                "api_version": self.api_version, "saved_at": self.saved_at, "reason": mask_secrets(self.reason),
                "in_flight_until": self.in_flight_until, "attempts": self.attempts}


def _outbox_dir() -> Path:
    return state_dir() / "outbox"


def outbox_path(client_tag: str) -> Path:
    return _outbox_dir() / f"{_safe_name(client_tag)}.json"


def save_outbox(client_tag: str, body: dict[str, Any], meta: dict[str, Any], *, api_url: str,
                api_version: str, reason: str, in_flight_until: float = 0.0, attempts: int = 0,
                saved_at: float | None = None) -> OutboxItem:
    """Write (or rewrite) a handoff's outbox entry; StateError when it cannot be written."""
    item = OutboxItem(client_tag=client_tag, body=body, meta=meta, api_url=api_url, api_version=api_version,
                      saved_at=time.time() if saved_at is None else saved_at, reason=reason,
                      path=outbox_path(client_tag), in_flight_until=in_flight_until, attempts=attempts)
    write_outbox(item)
    return item


def write_outbox(item: OutboxItem) -> None:
    _write_json(item.path, item.to_json())


def _item_at(path: Path) -> OutboxItem | None:
    data = _read_json(path)
    if data is None:
        return None
    body, tag = data.get("body"), _as_text(data.get("client_tag"))
    if not isinstance(body, dict) or not isinstance(body.get("prompt"), str) or not tag:
        _move_aside(path, "not an outbox entry: no client_tag or no body with a prompt")
        return None
    meta = data.get("meta") if isinstance(data.get("meta"), dict) else {}
    attempts = data.get("attempts")
    return OutboxItem(client_tag=tag, body=body, meta=meta, api_url=_as_text(data.get("api_url")) or "",
                      api_version=_as_text(data.get("api_version")) or "", saved_at=_as_time(data.get("saved_at")),
                      reason=_as_text(data.get("reason")) or "", path=path,
                      in_flight_until=_as_time(data.get("in_flight_until")),
                      attempts=attempts if isinstance(attempts, int) and not isinstance(attempts, bool) else 0)


def get_outbox(client_tag: str) -> OutboxItem | None:
    return _item_at(outbox_path(client_tag))


def load_outbox() -> list[OutboxItem]:
    """Saved handoffs, oldest first."""
    items = [item for item in map(_item_at, _entry_files(_outbox_dir())) if item is not None]
    return sorted(items, key=lambda item: item.saved_at)


def remove_outbox(client_tag: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        outbox_path(client_tag).unlink()


# -- per-handoff lock: one process sends a handoff at a time ------------------------------------------

class HandoffLock:
    """An exclusive, non-blocking `flock` on the handoff's lock file; the kernel drops it if we die."""

    def __init__(self, client_tag: str) -> None:
        self.path = _outbox_dir() / ".locks" / f"{_safe_name(client_tag)}.lock"
        self._fd: int | None = None

    def acquire(self) -> bool:
        """True when this process now holds the lock; False when another one does."""
        import fcntl

        try:
            _ensure_dir(self.path.parent)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StateError(self.path.parent, exc) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self, *, done: bool = False) -> None:
        """Drop the lock; `done` (the handoff left the outbox) also removes the lock file."""
        if self._fd is None:
            return
        if done:
            with contextlib.suppress(OSError):
                self.path.unlink()  # a process that opened it before sees the entry gone once it locks
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> HandoffLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
