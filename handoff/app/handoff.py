"""The handoff use case: prepare (inspect → gate → build) and launch (outbox → create → journal).

The CLI, the MCP server and the agent hooks all prepare a handoff through `prepare`, so the
bytes the gate passes over are exactly the bytes that are posted. A launch never duplicates a
create: each handoff carries a unique client tag, the Devin client resolves ambiguous failures by
looking the tag up, and `retry` looks it up again before sending. Nothing here prints: results
come back as data, progress as events.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from handoff import journal
from handoff.config import Settings
from handoff.devin.dialect import body_for_version
from handoff.devin.errors import ApiError, UnreachableError
from handoff.devin.models import Session
from handoff.errors import HandoffError, SecretsBlocked
from handoff.gate import GateResult, gate
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
from handoff.repo import DEFAULT_MAX_DIFF_BYTES, Problem, RepoContext, reproducibility_problems
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
    max_bundle_bytes: int = 50_000_000


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
        """Why Devin could not rebuild the user's state from this handoff; () when it can."""
        return reproducibility_problems(self.repo)

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


def prepare(task: str, context: str | None, options: HandoffOptions, *, path: str | None = None,
            repo: RepoContext | None = None, inspected: bool = False,
            client_tag: str | None = None, bundle: Any = _BUILD) -> PreparedHandoff:
    """Inspect the repo (unless `inspected`), gate everything that would leave, build the create body.

    `bundle`: a PreparedBundle shared with other handoffs (fan-out), None for none; by default built here."""
    if not inspected:
        room = patch_room(task, context, options.max_prompt_bytes) - bundle_room(options.bundle != "off")
        repo = inspect_repo(path, options, max(room, 0))
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


# -- launch ------------------------------------------------------------------------------------------

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


ClientFactory = Callable[[Settings], "DevinClient"]


def create_session(request: HandoffRequest, settings: Settings, meta: dict[str, Any], *,
                   client_factory: ClientFactory | None = None,
                   bundle: PreparedBundle | None = None) -> tuple[DevinClient, Session]:
    """Upload the bundle (if any, once), post the handoff and journal the session. On failure the whole
    request goes to the outbox (with a copy of a bundle not yet uploaded) and the error is re-raised with a
    hint naming `devin-handoff retry`."""
    client = (client_factory or open_client)(settings)
    body = body_for_version(request.body, client.version, user_id=settings.user_id)
    try:
        if bundle is not None:
            from handoff.app.bundle import attach

            body = attach(body, bundle, client)
        session = client.create(body, client_tag=request.client_tag)
    except ApiError as exc:
        client.close()
        if bundle is not None and awaits_bundle_url(body):
            from handoff.app.bundle import SAVED_BUNDLE_KEY, keep_for_retry

            meta = {**meta, SAVED_BUNDLE_KEY: keep_for_retry(bundle, request.client_tag)}
        path = journal.save_outbox(request.client_tag, body, meta, api_url=settings.api_url,
                                   api_version=client.version, reason=exc.message)
        exc.hint = (f"{exc.hint}; " if exc.hint else "") + \
            f"the handoff was saved ({path.name}): send it with `devin-handoff retry {request.client_tag}`"
        raise
    except BaseException:
        client.close()
        raise
    _record(session, request.client_tag, settings, meta)
    return client, session


@dataclass(frozen=True)
class RetrySent:
    handoff_id: str
    session: Session

    def to_json(self) -> dict[str, Any]:
        return {"handoff_id": self.handoff_id, **self.session.to_json()}


@dataclass(frozen=True)
class RetryFailed:
    handoff_id: str
    error: HandoffError

    def to_json(self) -> dict[str, Any]:
        return {"handoff_id": self.handoff_id, "error": str(self.error)}


@dataclass
class RetryResult:
    sent: list[RetrySent] = field(default_factory=list)
    failed: list[RetryFailed] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"sent": [s.to_json() for s in self.sent], "failed": [f.to_json() for f in self.failed]}


def _send_saved(client: DevinClient, item: journal.OutboxItem, settings: Settings) -> Session:
    found = client.list_sessions(tag=item.client_tag)
    if found:
        return found[0]  # the first attempt did reach Devin: never create a second session
    body = body_for_version(item.body, client.version, user_id=settings.user_id)
    if awaits_bundle_url(body):
        from handoff.app.bundle import attach_saved

        body = attach_saved(body, item.meta, client)
    return client.create(body, client_tag=item.client_tag)


def retry_outbox(settings: Settings, handoff_id: str | None,
                 on_event: Callable[[RetrySent | RetryFailed], None] = lambda _: None) -> RetryResult:
    """Send saved handoffs (all, or the one whose tag is `handoff_id`), each looked up by tag first."""
    items = journal.load_outbox()
    if handoff_id:
        items = [item for item in items if item.client_tag == handoff_id]
        if not items:
            raise HandoffError(f"no saved handoff {handoff_id}", "run `devin-handoff retry` to send all saved ones")
    result = RetryResult()
    if not items:
        return result
    with open_client(settings) as client:
        for item in items:
            try:
                session = _send_saved(client, item, settings)
            except UnreachableError as exc:
                result.failed.append(RetryFailed(item.client_tag, exc))
                on_event(result.failed[-1])
                continue
            _record(session, item.client_tag, settings, item.meta)
            journal.remove_outbox(item.client_tag)
            if item.meta.get("bundle_file"):
                from handoff.app.bundle import forget_saved

                forget_saved(item.meta)
            result.sent.append(RetrySent(item.client_tag, session))
            on_event(result.sent[-1])
    return result
