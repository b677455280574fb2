"""The handoff use case: prepare (inspect → gate → build) what one handoff would send.

The CLI, the MCP server and the agent hooks all prepare a handoff through `prepare`, so the
bytes the gate passes over are exactly the bytes that are posted; `app/launch.py` posts them (write-ahead,
never twice), `app/retry.py` sends what an interrupted launch left, `app/findings.py` says what blocked one.
Nothing here prints: results come back as data.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from handoff.gate import GateResult, gate
from handoff.limits import DEFAULT_MAX_BUNDLE_BYTES, DEFAULT_MAX_DIFF_BYTES, DEFAULT_PROMPT_BYTES
from handoff.prompt import (
    HandoffRequest,
    build_request,
    bundle_room,
    new_client_tag,
    patch_room,
    render_facts,
)
from handoff.repo import (
    Problem,
    RepoContext,
    reproducibility_problems,
)

if TYPE_CHECKING:
    from handoff.app.bundle import PreparedBundle

FACTS_SOURCE = "repository facts"
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


