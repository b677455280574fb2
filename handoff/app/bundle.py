"""The bundle use case (issue #12): build -> gate -> upload -> reference.

When the text patch cannot carry the whole state (binary, non-UTF-8 or too large files, files past the text
budget, unpushed commits), or when asked (`--bundle`), the checkout's exact state goes as a git bundle
(`handoff/repo/bundle.py`) attached to the session. Everything the bundle carries passes the secret gate
first, piece by piece (commit messages and diffs, the snapshot's whole diff, binary files by type and by the
strings inside them); a finding blocks even with `--redact`, because git objects cannot be redacted.

The upload happens at send time, once per bundle however many sessions share it (`create --each`); its URL
replaces the placeholder in the prompt's `ATTACHMENT:` line and goes into v3 `attachment_urls`. A handoff whose
upload or create fails is kept in the outbox with a copy of its bundle, which `retry` uploads first.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from handoff.errors import SavedBundleGone
from handoff.gate import SENSITIVE_FILE, Finding, ScanReport, binary_key_kind, gate, is_sensitive_path
from handoff.limits import DEFAULT_MAX_BUNDLE_BYTES
from handoff.prompt import BundleFacts, awaits_bundle_url, with_bundle_url

if TYPE_CHECKING:
    from handoff.devin.client import DevinClient
    from handoff.devin.models import Attachment
    from handoff.repo import RepoContext
    from handoff.repo.bundle import Bundle, Piece

BUNDLE_MODES = ("auto", "on", "off")
UPLOAD_NAME = "handoff.bundle"
SAVED_BUNDLE_KEY = "bundle_file"     # outbox meta: the bundle a saved handoff still has to upload
_TEXT_BATCH = 4_000_000
MAX_WHOLE_HISTORY_COMMITS = 1_000   # without a base, a bundle holds the whole history: by default only a short one

@dataclass(frozen=True)
class BundleChoice:
    mode: str = "off"                      # "auto" (when the patch cannot carry the state) | "on" | "off"
    max_bytes: int = DEFAULT_MAX_BUNDLE_BYTES


@dataclass
class PreparedBundle:
    """A built and gated bundle, shared by every session of one handoff (uploaded at most once)."""

    bundle: Bundle
    reason: str                 # why it is sent
    report: ScanReport          # the gate over everything it carries
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _attachment: Attachment | None = field(default=None, repr=False)

    @property
    def blocked(self) -> bool:
        return bool(self.report.findings)

    @property
    def path(self) -> str:
        return self.bundle.path

    def facts(self) -> BundleFacts:
        b = self.bundle
        return BundleFacts(size=b.size, base=b.base, ref=b.ref, snapshot=b.snapshot, tree=b.tree, head=b.head,
                           commits=b.commits, left_out=b.left_out)

    def summary(self) -> dict[str, Any]:
        b = self.bundle
        return {"bytes": b.size, "base": b.base, "snapshot": b.snapshot, "tree": b.tree, "reason": self.reason,
                "commits": [{"sha": c.sha, "subject": c.subject} for c in b.commits], "left_out": list(b.left_out)}

    def attachment_for(self, client: DevinClient) -> Attachment:
        """Upload the bundle the first time a session needs it; later callers get the same attachment."""
        with self._lock:
            if self._attachment is None:
                self._attachment = client.upload_attachment(self.path, UPLOAD_NAME)
            return self._attachment

    def save_copy(self, dest: str) -> str:
        """Write the bundle to `dest` (for `--save-bundle`); the path written."""
        shutil.copyfile(self.path, dest)
        return dest


# -- choose and build --------------------------------------------------------------------------------

def reason_to_bundle(repo: RepoContext | None, choice: BundleChoice) -> str | None:
    """Why this handoff needs a bundle; None when the text patch carries the whole state (or bundles are off)."""
    if choice.mode == "off" or repo is None or repo.head is None:
        return None
    if choice.mode == "on":
        return "asked for with --bundle"
    reasons = []
    left_out = [f for f in repo.files if not f.included]
    if left_out:
        kinds = sorted({f.omitted_reason or "left out" for f in left_out})
        reasons.append(f"{len(left_out)} file(s) the text patch does not carry ({', '.join(kinds)})")
    if repo.unpushed_total:
        reasons.append(f"{repo.unpushed_total} unpushed commit(s), carried with their history and messages")
    if repo.base is None:
        if repo.unpushed_total > MAX_WHOLE_HISTORY_COMMITS:
            return None   # a whole long history is no default upload (nor a quick gate): --bundle asks for it
        reasons.append("the remote has no commit of this history")
    return "; ".join(reasons) or None


def prepare_bundle(repo: RepoContext, choice: BundleChoice, reason: str) -> tuple[PreparedBundle | None, str | None]:
    """Build the bundle and gate everything in it: (the bundle, None) or (None, why it is not sent)."""
    from handoff.repo.bundle import TooLarge, build_bundle

    folder = _new_folder()
    pieces_report: list[ScanReport] = []

    def read(pieces: Iterator[Piece]) -> None:
        pieces_report.append(gate_pieces(pieces, repo.root))

    try:
        bundle = build_bundle(repo.root, os.path.join(folder, UPLOAD_NAME), base=repo.base, head=repo.head,
                              set_aside=_nested_repositories(repo), max_bytes=choice.max_bytes, read_material=read)
    except TooLarge as exc:
        return None, (f"no bundle: the unpushed commits alone make {exc.size} bytes, past --max-bundle-bytes "
                      f"{choice.max_bytes}; push them or raise the limit")
    return PreparedBundle(bundle=bundle, reason=reason, report=pieces_report[0]), None


def _nested_repositories(repo: RepoContext) -> list[str] | None:
    """The nested repositories the inspection found (None: it did not look, without untracked files)."""
    if not repo.include_untracked:
        return None
    return [item.path for item in repo.skipped if item.kind == "nested repository"]


def _new_folder() -> str:
    # named like the repo stage's scratch folders (with our pid), so one a kill -9 leaves is swept by the next run
    folder = tempfile.mkdtemp(prefix=f"devin-handoff-{os.getpid()}-bundle-")
    atexit.register(shutil.rmtree, folder, True)   # a bundle never outlives the command unless saved
    return folder


# -- the gate over what the bundle carries ---------------------------------------------------------------

def gate_pieces(pieces: Iterator[Piece], repo_root: str | None) -> ScanReport:
    """Gate every piece (diffs as patches, messages and binary strings as texts) plus keystores by type."""
    findings: list[Finding] = []
    allowed = scanned = 0
    batch: dict[str, str] = {}

    def scan(patch: str, texts: dict[str, str], where: str | None) -> None:
        nonlocal allowed, scanned
        report = gate(patch, texts, repo_root=repo_root).report
        findings.extend(dataclasses.replace(f, source=f"bundle {where}: {f.source}") if where else
                        dataclasses.replace(f, source=f"bundle {f.source}") for f in report.findings)
        allowed += report.allowed
        scanned += report.scanned_bytes

    for piece in pieces:
        if piece.kind == "patch":
            scan(piece.text, {}, piece.source)
            continue
        if piece.path is not None:
            kind = keystore_kind(piece.path, piece.head)
            if kind:
                findings.append(Finding(source=f"bundle: {piece.path}", line=0, kind=SENSITIVE_FILE,
                                        preview=f"{kind} (binary)"))
        batch[piece.source] = piece.text
        if sum(len(text) for text in batch.values()) >= _TEXT_BATCH:
            scan("", batch, None)
            batch = {}
    if batch:
        scan("", batch, None)
    return ScanReport(findings=tuple(findings), allowed=allowed, scanned_bytes=scanned)


def keystore_kind(path: str, head: bytes) -> str | None:
    """What kind of key or keystore a binary file is by its first bytes; None when it is none, or when the gate
    already flags it by name (the bundle's diff names it)."""
    return None if is_sensitive_path(path) else binary_key_kind(head)


# -- send and retry ------------------------------------------------------------------------------------

def attach(body: dict[str, Any], bundle: PreparedBundle, client: DevinClient) -> dict[str, Any]:
    """Upload the bundle (once) and reference it in the body, the documented way for the key's version."""
    attachment = bundle.attachment_for(client)
    return with_bundle_url(body, attachment.url, client.version)


def keep_for_retry(bundle: PreparedBundle, client_tag: str) -> str:
    """A copy of the bundle beside the outbox entry of `client_tag` (private, 0600); its path."""
    from handoff import journal

    folder = journal.state_dir() / "outbox"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    dest = folder / f"{client_tag}.bundle"
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out, open(bundle.path, "rb") as src:
        shutil.copyfileobj(src, out)
    return str(dest)


def attach_saved(body: dict[str, Any], meta: dict[str, Any], client: DevinClient) -> dict[str, Any]:
    """A saved handoff whose bundle was not uploaded yet: upload the kept copy and reference it."""
    if not awaits_bundle_url(body):
        return body
    path = meta.get(SAVED_BUNDLE_KEY)
    if not path or not os.path.isfile(path):
        raise SavedBundleGone("the saved handoff's bundle is gone, so it cannot be sent as it was",
                              "run `devin-handoff create` again from the checkout")
    attachment = client.upload_attachment(path, UPLOAD_NAME)
    return with_bundle_url(body, attachment.url, client.version)


def forget_saved(meta: dict[str, Any]) -> None:
    """Remove a sent handoff's kept bundle."""
    path = meta.get(SAVED_BUNDLE_KEY)
    if path:
        with contextlib.suppress(OSError):
            os.remove(path)
