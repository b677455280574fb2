"""The hand-off pipeline without the network: inspect → gate → build.

The CLI, the MCP server and the agent hooks all prepare a handoff through `prepare`, so the
bytes the gate passes over are exactly the bytes that are posted.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from handoff.gate import GateResult, gate
from handoff.prompt import HandoffRequest, build_request, new_client_tag, render_facts
from handoff.repo import DEFAULT_MAX_DIFF_BYTES, RepoContext

FACTS_SOURCE = "repository facts"


@dataclass(frozen=True)
class HandoffOptions:
    include_untracked: bool = True
    max_diff_bytes: int = DEFAULT_MAX_DIFF_BYTES
    redact: bool = False
    tags: tuple[str, ...] = ()
    api_version: str = "v3"
    user_id: str | None = None


@dataclass(frozen=True)
class PreparedHandoff:
    repo: RepoContext | None       # None outside a git repository
    gate: GateResult
    request: HandoffRequest

    @property
    def blocked(self) -> bool:
        return self.gate.report.blocked

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


def inspect_repo(path: str | None, options: HandoffOptions) -> RepoContext | None:
    from handoff import repo as repo_inspector  # GitPython is imported only when a handoff is prepared

    return repo_inspector.inspect(path, include_untracked=options.include_untracked,
                                  max_diff_bytes=options.max_diff_bytes)


def prepare(task: str, context: str | None, options: HandoffOptions, *, path: str | None = None,
            repo: RepoContext | None = None, inspected: bool = False,
            client_tag: str | None = None) -> PreparedHandoff:
    """Inspect the repo (unless `inspected`), gate everything that would leave, build the create body."""
    if not inspected:
        repo = inspect_repo(path, options)
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
        user_id=options.user_id,
    )
    return PreparedHandoff(repo=repo, gate=result, request=request)
