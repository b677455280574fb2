"""The handoff use case: prepare (inspect → gate → build) and launch (outbox → create → journal).

The CLI, the MCP server and the agent hooks all prepare a handoff through `prepare`, so the
bytes the gate passes over are exactly the bytes that are posted. A launch never duplicates a
create: each handoff carries a unique client tag, the Devin client resolves ambiguous failures by
looking the tag up, and `retry` looks it up again before sending. Nothing here prints: results
come back as data, progress as events.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from handoff import journal
from handoff.config import Settings
from handoff.devin.dialect import body_for_version
from handoff.devin.errors import AmbiguousCreate, ApiError, AuthError
from handoff.devin.models import Session
from handoff.errors import HandoffError, SavedBundleGone, SecretsBlocked
from handoff.gate import GateResult, gate
from handoff.notices import notice
from handoff.prompt import (
    DEFAULT_PROMPT_BYTES,
    HandoffRequest,
    awaits_bundle_url,
    build_request,
    bundle_room,
    new_client_tag,
    patch_room,
    render_facts,
)
from handoff.repo import (
    DEFAULT_MAX_BUNDLE_BYTES,
    DEFAULT_MAX_DIFF_BYTES,
    Problem,
    RepoContext,
    reproducibility_problems,
)
from handoff.runtime import Runtime

if TYPE_CHECKING:
    from handoff.app.bundle import PreparedBundle
    from handoff.devin.client import DevinClient

FACTS_SOURCE = "repository facts"
# What to do about a blocked handoff, for a person; each face adds how its user asks for redaction.
FIX_FINDINGS = "remove the values, mark false positives with `pragma: allowlist secret` or .secrets.baseline"
# The same for a coding agent (a hook's deny reason, an MCP tool error). It never names a way past
# the gate: an agent told about allowlist comments once added one and the real key went out.
AGENT_STOP = ("Do not edit, annotate, move or delete anything to get past this check. "
              "Stop and tell the user what was found; they decide whether it is a real secret")


@dataclass(frozen=True)
class HandoffOptions:
    include_untracked: bool = True
    max_diff_bytes: int = DEFAULT_MAX_DIFF_BYTES
    redact: bool = False
    tags: tuple[str, ...] = ()
    api_version: str = "v3"
    user_id: str | None = None
    offline: bool = False          # never ask the remote what it has (`git ls-remote`)
    allow_partial: bool = False    # send even when Devin cannot rebuild the state (the prompt says what is missing)
    max_prompt_bytes: int = DEFAULT_PROMPT_BYTES
    bundle: str = "off"            # git bundle of the exact state: "auto" | "on" | "off" (handoff/app/bundle.py)
    max_bundle_bytes: int = DEFAULT_MAX_BUNDLE_BYTES


@dataclass(frozen=True)
class PreparedHandoff:
    repo: RepoContext | None       # None outside a git repository
    gate: GateResult
    request: HandoffRequest
    bundle: PreparedBundle | None = None   # the exact state as a git bundle, gated; uploaded at send time

    @property
    def blocked(self) -> bool:
        return self.gate.report.blocked

    @property
    def problems(self) -> tuple[Problem, ...]:
        """Why Devin could not rebuild the user's state from this handoff; () when it can. A bundle that holds
        the whole history (no base it needs from the remote) carries what the remote lacks."""
        problems = reproducibility_problems(self.repo)
        if self.bundle is not None and not self.bundle.blocked and self.bundle.bundle.base is None:
            problems = tuple(p for p in problems if p.code != "base-not-on-remote")
        return problems

    def journal_meta(self) -> dict[str, Any]:
        """The repo facts the journal keeps beside a session (or an outbox entry) of this handoff."""
        repo = self.repo
        return {
            "title": self.request.title,
            "repo_slug": repo.slug if repo else None,
            "repo_root": repo.root if repo else None,
            "branch": repo.branch if repo else None,
            "base": repo.base if repo else None,
        }


def inspect_repo(path: str | None, options: HandoffOptions, patch_room: int | None = None) -> RepoContext | None:
    """The checkout's state, its patch within --max-diff-bytes and `patch_room` (what the prompt budget leaves)."""
    from handoff import repo as repo_inspector  # GitPython is imported only when a handoff is prepared

    budget = options.max_diff_bytes if patch_room is None else min(options.max_diff_bytes, patch_room)
    return repo_inspector.inspect(path, include_untracked=options.include_untracked, max_diff_bytes=budget,
                                  offline=options.offline)


def refuse_unreproducible(prepared: PreparedHandoff, options: HandoffOptions) -> None:
    """UsageError (exit 2) with the fix when Devin could not rebuild the state, unless --allow-partial."""
    from handoff.errors import UsageError

    problems = prepared.problems
    if problems and not options.allow_partial:
        raise UsageError("Devin could not start from your state: " + "; ".join(p.message for p in problems),
                         problems[0].fix)


_BUILD = object()   # prepare(bundle=…) default: build the bundle the options ask for


def prepare_bundle(repo: RepoContext | None, options: HandoffOptions) -> tuple[PreparedBundle | None, str | None]:
    """The bundle this handoff carries, built and gated (None when not wanted), and a note on why not."""
    from handoff.app import bundle as bundles

    choice = bundles.BundleChoice(mode=options.bundle, max_bytes=options.max_bundle_bytes)
    reason = bundles.reason_to_bundle(repo, choice)
    if reason is None or repo is None:
        return None, None
    return bundles.prepare_bundle(repo, choice, reason)


def patch_room_for(texts: Iterable[tuple[str, str | None]], options: HandoffOptions) -> int:
    """How much of the prompt budget the patch may take beside each (task, context) and the bundle's section:
    the least over all of them, since one inspection serves every task of a fan-out."""
    room = min((patch_room(task, context, options.max_prompt_bytes) for task, context in texts),
               default=options.max_prompt_bytes)
    return max(room - bundle_room(options.bundle != "off"), 0)


def prepare(task: str, context: str | None, options: HandoffOptions, *, path: str | None = None,
            repo: RepoContext | None = None, inspected: bool = False,
            client_tag: str | None = None, bundle: Any = _BUILD) -> PreparedHandoff:
    """Inspect the repo (unless `inspected`), gate everything that would leave, build the create body.

    `bundle`: a PreparedBundle shared with other handoffs (fan-out), None for none; by default built here."""
    if not inspected:
        repo = inspect_repo(path, options, patch_room_for([(task, context)], options))
    if bundle is _BUILD:
        bundle, note = prepare_bundle(repo, options)
        if note and repo is not None:
            repo = dataclasses.replace(repo, warnings=(*repo.warnings, note))
    if bundle is not None and repo is not None:
        repo = dataclasses.replace(repo, warnings=(*repo.warnings, f"a git bundle carries the exact state "
                                                   f"({bundle.bundle.size} bytes): {bundle.reason}"))
    if bundle is not None and repo is not None and bundle.bundle.left_out:
        repo = dataclasses.replace(repo, warnings=(*repo.warnings, "left out of the bundle (size budget): "
                                                   + ", ".join(bundle.bundle.left_out)))
    client_tag = client_tag or new_client_tag()
    facts = render_facts(repo, client_tag=client_tag)
    texts = {"task": task, FACTS_SOURCE: facts}
    if context:
        texts["context"] = context
    if options.tags:
        texts["tags"] = "\n".join(options.tags)
    result = gate(repo.patch if repo else "", texts, repo_root=repo.root if repo else None,
                  redact=options.redact)
    if result.report.redacted and repo is not None:
        repo = dataclasses.replace(repo, patch=result.patch)
    request = build_request(
        result.texts["task"], result.texts.get("context"), repo=repo, facts_text=result.texts[FACTS_SOURCE],
        patch=result.patch, client_tag=client_tag, api_version=options.api_version,
        tags=tuple(result.texts.get("tags", "").splitlines()),
        user_id=options.user_id, max_prompt_bytes=options.max_prompt_bytes,
        bundle=bundle.facts() if bundle is not None else None,
    )
    if bundle is not None and bundle.blocked:   # git objects cannot be redacted: a finding blocks
        report = result.report
        result = dataclasses.replace(result, report=dataclasses.replace(
            report, findings=(*report.findings, *bundle.report.findings), redacted=False,
            scanned_bytes=report.scanned_bytes + bundle.report.scanned_bytes))
    return PreparedHandoff(repo=repo, gate=result, request=request, bundle=bundle)


# Characters that must not reach a terminal raw from a file name: C0/C1 controls (escape sequences, a
# newline that fakes a line) and format characters (bidi overrides that reorder what is shown).
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\x1b": "\\e"}


def _escape_controls(name: str) -> str:
    import unicodedata

    shown = []
    for char in name:
        if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp"):
            code = ord(char)
            shown.append(_NAMED_ESCAPES.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"))
        else:
            shown.append(char)
    return "".join(shown)


def safe_names(names: Iterable[str]) -> dict[str, str]:
    """How each file name may be shown: a secret in it redacted by the gate, control characters escaped."""
    unique = list(dict.fromkeys(names))
    if not unique:
        return {}
    escaped = [_escape_controls(name) for name in unique]
    redacted = gate("", {"file names": "\n".join(escaped)}, repo_root=None, redact=True).texts["file names"]
    shown = redacted.split("\n")
    return dict(zip(unique, shown if len(shown) == len(unique) else escaped, strict=True))


def findings_lines(report: Any) -> list[str]:
    """One line per secret finding: place, type and masked preview — never the value (not even in a file name)."""
    names = safe_names(finding.source for finding in report.findings)
    return [f"  {names[finding.source]}:{finding.line}: {finding.kind}  {finding.preview}"
            for finding in report.findings]


def findings_json(report: Any) -> dict[str, Any]:
    return {
        "blocked": report.blocked,
        "redacted": report.redacted,
        "allowed": report.allowed,
        "scanned_bytes": report.scanned_bytes,
        "findings": [{"file": f.source, "line": f.line, "type": f.kind, "preview": f.preview}
                     for f in report.findings],
    }


def blocked_error(what: str = "nothing was sent", redact: str = "pass --redact", *,
                  for_agent: bool = False, bundle: str | None = None) -> SecretsBlocked:
    """The error a blocked handoff ends with (exit 3); the findings are shown by the face before it.

    `for_agent`: the hint a coding agent reads (stop, tell the user, or redact), without the
    allowlist advice that a person gets. `bundle`: how this face leaves the bundle out, when the findings
    are in it (git objects cannot be redacted, so --redact alone cannot clear them)."""
    if bundle:
        what = f"{what} (the git bundle carries secrets, and a bundle cannot be redacted)"
        redact = f"{bundle} to send the text patch alone ({redact} to redact it)"
    if for_agent:
        return SecretsBlocked(f"blocked by the secret gate; {what}",
                              f"{AGENT_STOP}; if the user agrees, {redact} to send [REDACTED] in place of each value")
    return SecretsBlocked(f"blocked by the secret gate; {what}", f"{FIX_FINDINGS}, or {redact}")


def human_fix(redact: str = "pass --redact") -> str:
    """How a person clears a blocked handoff (shown to the user only, never to the agent)."""
    return f"{FIX_FINDINGS}, or {redact}"


def bundle_blocked(prepared: PreparedHandoff) -> bool:
    return prepared.bundle is not None and prepared.bundle.blocked


def branch_to_push(path: str | None = None) -> RepoContext:
    """The checkout whose branch `--push` would push (before a handoff, so Devin can start from it)."""
    from handoff import repo as repo_inspector
    from handoff.errors import UsageError

    context = repo_inspector.inspect(path, include_untracked=False, max_diff_bytes=0, offline=True)
    if context is None:
        raise UsageError("--push needs a git repository", "run it inside your checkout")
    return context


def push(context: RepoContext) -> None:
    from handoff import repo as repo_inspector

    repo_inspector.push_branch(context)


# -- launch ----------------------------------------------------------------------------------------
#
# Write-ahead: the handoff is in the outbox (journal.py) before its create request goes out, with the
# window in which that request may still land; it leaves the outbox only once its session is journalled.
# So every interruption leaves a journal entry with the session URL, or an outbox entry that `retry`
# resolves by looking its tag up first. A per-handoff lock lets one process at a time send it.

# A create attempt (its retries within the client's budget, plus one read timeout) may land this long after it
# started; after a clean interruption, a request already sent may still be processed for about a read timeout.
IN_FLIGHT_SECONDS = 90.0
AFTER_INTERRUPT_SECONDS = 30.0
LOOKUP_EVERY = 5.0      # seconds between tag lookups while an earlier attempt may still land


def open_client(settings: Settings, *, retry_budget: float = 60.0, runtime: Runtime | None = None) -> DevinClient:
    from handoff.devin.client import DevinClient  # httpx only when a request is about to be made

    return DevinClient(settings, retry_budget=retry_budget, runtime=runtime)


def _record(session: Session, client_tag: str, settings: Settings, meta: dict[str, Any]) -> None:
    journal.record_session(journal.JournalEntry(
        session_id=session.session_id, url=session.url, client_tag=client_tag,
        title=str(meta.get("title") or session.title or ""), api_version=settings.api_version,
        api_url=settings.api_url, repo_slug=meta.get("repo_slug"), repo_root=meta.get("repo_root"),
        branch=meta.get("branch"), base=meta.get("base"), status=session.status,
        status_detail=session.status_detail,
    ))


def _settle(session: Session, item: journal.OutboxItem, settings: Settings) -> bool:
    """Journal the session, then drop its outbox entry; False (and a notice) when the journal cannot be written:
    the entry stays, and `retry` journals the session later (found by its tag, never sent again)."""
    try:
        _record(session, item.client_tag, settings, item.meta)
    except journal.StateError as exc:
        notice(f"session {session.url} was created but not journalled ({exc.message}); it stays in the "
               f"outbox: `devin-handoff retry {item.client_tag}` journals it without sending it again")
        return False
    journal.remove_outbox(item.client_tag)
    from handoff.app.bundle import SAVED_BUNDLE_KEY, forget_saved

    if item.meta.get(SAVED_BUNDLE_KEY):
        forget_saved(item.meta)
    return True


def _mark(item: journal.OutboxItem, *, reason: str | None = None, in_flight_for: float | None = None,
          wall: float) -> journal.OutboxItem:
    """Best effort: note why the handoff is still here and until when it may still land (the entry exists)."""
    changed = dataclasses.replace(item, reason=reason if reason is not None else item.reason,
                                  in_flight_until=wall + in_flight_for if in_flight_for is not None
                                  else item.in_flight_until)
    with contextlib.suppress(journal.StateError):
        journal.write_outbox(changed)
    return changed


def _in_flight_after(exc: ApiError) -> float:
    """How long a failed create may still land: a timed-out or ambiguous one for a read timeout, else not."""
    return AFTER_INTERRUPT_SECONDS if isinstance(exc, AmbiguousCreate) else 0.0


ClientFactory = Callable[[Settings], "DevinClient"]


def create_session(request: HandoffRequest, settings: Settings, meta: dict[str, Any], *,
                   client_factory: ClientFactory | None = None,
                   bundle: PreparedBundle | None = None) -> tuple[DevinClient, Session]:
    """Save the handoff (write-ahead), post it, journal the session. On an API failure the handoff stays in
    the outbox and the error is re-raised with a hint naming `devin-handoff retry`; StateError (exit 4,
    nothing sent: the entry is written before any request) when the state directory cannot be written.
    An interruption leaves the entry in place."""
    client = (client_factory or open_client)(settings)
    lock = journal.HandoffLock(request.client_tag)
    try:
        wall = client.runtime.wall()
        body = body_for_version(request.body, client.version, user_id=settings.user_id)
        lock.acquire()  # a fresh tag: nobody else holds it; `retry` run meanwhile skips it
        if bundle is not None:  # write-ahead covers the bundle too: `retry` uploads the kept copy
            from handoff.app.bundle import SAVED_BUNDLE_KEY, keep_for_retry

            meta = {**meta, SAVED_BUNDLE_KEY: keep_for_retry(bundle, request.client_tag)}
        item = journal.save_outbox(request.client_tag, body, meta, api_url=settings.api_url,
                                   api_version=client.version, reason="sending (not confirmed yet)",
                                   in_flight_until=wall + IN_FLIGHT_SECONDS, attempts=1, saved_at=wall)
        try:
            if bundle is not None:
                from handoff.app.bundle import attach

                body = attach(body, bundle, client)
            session = client.create(body, client_tag=request.client_tag)
        except ApiError as exc:
            _mark(item, reason=exc.message, in_flight_for=_in_flight_after(exc), wall=client.runtime.wall())
            exc.hint = (f"{exc.hint}; " if exc.hint else "") + \
                f"the handoff was saved: send it with `devin-handoff retry {request.client_tag}`"
            raise
        except BaseException:  # Ctrl-C, SIGTERM, SIGHUP: the request may still land
            _mark(item, reason="interrupted while sending", in_flight_for=AFTER_INTERRUPT_SECONDS,
                  wall=client.runtime.wall())
            raise
        lock.release(done=_settle(session, item, settings))
    except BaseException:
        lock.release()
        client.close()
        raise
    return client, session


def launch_state(client_tag: str) -> tuple[str, journal.JournalEntry | None]:
    """Where an interrupted launch left its handoff: ('journal', entry), ('outbox', None) or ('nothing', None)."""
    if journal.get_outbox(client_tag) is not None:
        return "outbox", None
    entry = next((e for e in journal.load_sessions() if e.client_tag == client_tag), None)
    return ("journal", entry) if entry is not None else ("nothing", None)


# -- retry -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RetrySent:
    handoff_id: str
    session: Session
    found: bool = False           # an earlier attempt had landed: adopted, not sent again
    journalled: bool = True

    def to_json(self) -> dict[str, Any]:
        return {"handoff_id": self.handoff_id, "found": self.found, "journalled": self.journalled,
                **self.session.to_json()}


@dataclass(frozen=True)
class RetryFailed:
    handoff_id: str
    error: HandoffError

    def to_json(self) -> dict[str, Any]:
        return {"handoff_id": self.handoff_id, "error": str(self.error)}


@dataclass(frozen=True)
class RetrySkipped:
    handoff_id: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"handoff_id": self.handoff_id, "reason": self.reason}


@dataclass(frozen=True)
class RetryWaiting:
    """An earlier attempt may still land: looked up again until `seconds` have passed, then sent if absent."""

    handoff_id: str
    seconds: float


RetryEvent = RetrySent | RetryFailed | RetrySkipped | RetryWaiting


@dataclass
class RetryResult:
    sent: list[RetrySent] = field(default_factory=list)
    failed: list[RetryFailed] = field(default_factory=list)
    skipped: list[RetrySkipped] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"sent": [s.to_json() for s in self.sent], "failed": [f.to_json() for f in self.failed],
                "skipped": [s.to_json() for s in self.skipped]}


def _lookup(client: DevinClient, client_tag: str) -> Session | None:
    found = client.list_sessions(tag=client_tag, limit=10)
    return found[0] if found else None


def _wait_for_earlier_attempt(client: DevinClient, item: journal.OutboxItem,
                              on_event: Callable[[RetryEvent], None]) -> Session | None:
    """While an earlier create may still land, look its tag up again now and then; never send meanwhile."""
    runtime = client.runtime
    wait = min(item.in_flight_until - runtime.wall(), IN_FLIGHT_SECONDS)  # a clock far behind waits once
    if wait <= 0:
        return None
    on_event(RetryWaiting(item.client_tag, wait))
    deadline = runtime.deadline(wait)
    for _ in range(int(IN_FLIGHT_SECONDS / LOOKUP_EVERY) + 2):  # bounded in count as well as in time
        runtime.sleep(max(0.0, min(LOOKUP_EVERY, deadline.remaining())))
        found = _lookup(client, item.client_tag)
        if found is not None or deadline.passed:
            return found
    return _lookup(client, item.client_tag)


def _find_or_send(client: DevinClient, item: journal.OutboxItem, settings: Settings,
                  on_event: Callable[[RetryEvent], None]) -> tuple[Session, bool]:
    """(session, found): the tag looked up first; sent only once no earlier attempt can still land. The entry
    keeps why it is still here; its window changes only with an attempt of ours (a failed lookup proves nothing)."""
    runtime = client.runtime
    try:
        found = _lookup(client, item.client_tag) or _wait_for_earlier_attempt(client, item, on_event)
    except ApiError as exc:
        _mark(item, reason=f"looking it up by tag failed: {exc.message}", wall=runtime.wall())
        raise
    if found is not None:
        return found, True
    # write-ahead again: this attempt's window is on disk before its request goes out
    item = dataclasses.replace(item, in_flight_until=runtime.wall() + IN_FLIGHT_SECONDS, attempts=item.attempts + 1,
                               reason="sending (not confirmed yet)")
    journal.write_outbox(item)
    body = body_for_version(item.body, client.version, user_id=settings.user_id)
    try:
        if awaits_bundle_url(body):
            from handoff.app.bundle import attach_saved

            body = attach_saved(body, item.meta, client)
        return client.create(body, client_tag=item.client_tag), False
    except ApiError as exc:
        _mark(item, reason=exc.message, in_flight_for=_in_flight_after(exc), wall=runtime.wall())
        raise
    except SavedBundleGone:
        raise   # found before anything was sent: no request may still land
    except BaseException:  # Ctrl-C, SIGTERM, SIGHUP: the request may still land
        _mark(item, reason="interrupted while sending", in_flight_for=AFTER_INTERRUPT_SECONDS, wall=runtime.wall())
        raise


def _retry_one(client: DevinClient, tag: str, settings: Settings, result: RetryResult,
               on_event: Callable[[RetryEvent], None]) -> None:
    lock = journal.HandoffLock(tag)
    if not lock.acquire():
        result.skipped.append(RetrySkipped(tag, "another devin-handoff process is sending it"))
        on_event(result.skipped[-1])
        return
    done = False
    try:
        item = journal.get_outbox(tag)  # read again under the lock: another process may have sent it
        if item is None:
            result.skipped.append(RetrySkipped(tag, "already sent by another devin-handoff process"))
            on_event(result.skipped[-1])
            return
        try:
            session, found = _find_or_send(client, item, settings, on_event)
        except AuthError:
            raise  # the key, not this handoff: the others would fail the same way
        except (ApiError, SavedBundleGone) as exc:   # this handoff only: the others are still tried
            result.failed.append(RetryFailed(tag, exc))
            on_event(result.failed[-1])
            return
        done = _settle(session, item, settings)
        result.sent.append(RetrySent(tag, session, found=found, journalled=done))
        on_event(result.sent[-1])
    finally:
        lock.release(done=done)


def retry_outbox(settings: Settings, handoff_id: str | None,
                 on_event: Callable[[RetryEvent], None] = lambda _: None) -> RetryResult:
    """Send saved handoffs (all, or the one whose tag is `handoff_id`), each under its lock, looked up by tag
    first, and never while an earlier attempt may still land."""
    items = journal.load_outbox()
    if handoff_id:
        items = [item for item in items if item.client_tag == handoff_id]
        if not items:
            raise HandoffError(f"no saved handoff {handoff_id}", "run `devin-handoff retry` to send all saved ones")
    result = RetryResult()
    if not items:
        return result
    journal.check_writable()
    with open_client(settings) as client:
        for item in items:
            _retry_one(client, item.client_tag, settings, result, on_event)
    return result
