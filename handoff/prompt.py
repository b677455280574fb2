"""Request builder: the exact JSON body of the create-session call.

The prompt is plain Markdown in four parts: the task, the caller's context, the repository
facts as a fenced JSON block with a plain instruction, and the patch in a fence longer than
any backtick run inside it (so a diff that holds ``` or </details> cannot break out).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from handoff import __version__
from handoff.devin.dialect import body_for_version
from handoff.errors import UsageError
from handoff.repo import RepoContext
from handoff.tags import HANDOFF_TAG, MAX_TAG_CHARS, MAX_TAGS
from handoff.tags import new_client_tag as new_client_tag  # re-exported: one definition of handoff tags

MAX_TITLE_CHARS = 100


@dataclass(frozen=True)
class HandoffRequest:
    body: dict[str, Any]      # exactly what is posted
    client_tag: str
    api_version: str          # "v1" | "v3"

    @property
    def title(self) -> str:
        return str(self.body.get("title") or "")

    @property
    def prompt_bytes(self) -> int:
        return len(str(self.body.get("prompt", "")).encode("utf-8"))


def make_title(task: str) -> str:
    """The task's first non-empty line, whitespace collapsed, at most 100 chars (cut at a word)."""
    first = next((line for line in task.splitlines() if line.strip()), "")
    title = " ".join(first.split())
    if len(title) <= MAX_TITLE_CHARS:
        return title
    cut = title[: MAX_TITLE_CHARS - 1]
    if " " in cut[MAX_TITLE_CHARS // 2:]:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip() + "…"


def make_tags(client_tag: str, extra: tuple[str, ...] | list[str] = ()) -> list[str]:
    """`handoff`, the client tag, then the user's tags: trimmed, deduplicated, at most 50."""
    tags: list[str] = []
    for tag in (HANDOFF_TAG, client_tag, *extra):
        tag = tag.strip()
        if not tag:
            continue
        if len(tag) > MAX_TAG_CHARS:
            raise UsageError(f"tag is longer than {MAX_TAG_CHARS} characters: {tag[:20]}…", "use a shorter --tag")
        if tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise UsageError(f"{len(tags)} tags; the API takes at most {MAX_TAGS}", "pass fewer --tag options")
    return tags


def render_facts(repo: RepoContext | None, *, client_tag: str) -> str:
    """The structured repository context, as the JSON text that goes into the prompt."""
    facts: dict[str, Any] = {"tool": f"devin-handoff {__version__}", "handoff_id": client_tag}
    if repo is None:
        facts["repository"] = None
        return json.dumps(facts, indent=2, ensure_ascii=False)
    facts.update({
        "repository": repo.slug,
        "remote_url": repo.remote_url,
        "branch": repo.branch,
        "head": repo.head,
        "base_commit": repo.base,
        "base_on_remote": {"remote": repo.remote_name, "ref": repo.base_ref, "known_from": repo.base_source},
        "patch_applies_to": repo.patch_base or "empty tree (no commits yet)",
        "unpushed_commits": [{"sha": c.sha, "subject": c.subject} for c in repo.unpushed],
        "files": [_file_fact(f) for f in repo.files],
        "left_out": [f.path for f in repo.files if not f.included],
        "diff_bytes": repo.total_diff_bytes,
        "max_diff_bytes": repo.max_diff_bytes,
        "untracked_included": repo.include_untracked,
    })
    if repo.submodules:
        facts["submodules_changed"] = list(repo.submodules)
    if repo.warnings:
        facts["notes"] = list(repo.warnings)
    return json.dumps(facts, indent=2, ensure_ascii=False)


def _file_fact(change: Any) -> dict[str, Any]:
    fact: dict[str, Any] = {"path": change.path, "status": change.status,
                            "added": change.added, "removed": change.removed}
    if change.old_path:
        fact["from"] = change.old_path
    if change.binary:
        fact["binary"] = True
    if change.untracked:
        fact["untracked"] = True
    if not change.included:
        fact["left_out"] = change.omitted_reason or "left out"
    return fact


def fence_for(text: str, minimum: int = 3) -> str:
    """A backtick fence longer than any backtick run in `text`."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(minimum, longest + 1)


def _instructions(repo: RepoContext | None) -> str:
    if repo is None:
        return "This task was handed off from outside a git repository; no repository state comes with it."
    where = f"`{repo.slug}`" if repo.slug else "the repository"
    if repo.patch_base is None:
        start = f"Start from an empty checkout of {where} (the local repository has no commits yet)"
    elif repo.base:
        start = f"Start from commit `{repo.base}` of {where}"
    else:
        start = f"Start from commit `{repo.patch_base}` of {where}"
    if repo.branch:
        start += f" (local branch `{repo.branch}`)"
    steps = [f"{start}, then apply the patch below with `git apply --index` (it is `git diff` output)."]
    if repo.unpushed:
        steps.append(f"The patch includes {len(repo.unpushed)} local commit(s) that were not pushed, "
                     "listed in `unpushed_commits`.")
    if any(f.untracked for f in repo.files):
        steps.append("It includes new files that were not yet added to git.")
    left_out = [f for f in repo.files if not f.included]
    if left_out:
        steps.append(f"{len(left_out)} changed file(s) are listed in `left_out` but not in the patch "
                     "(size budget, binary or non-UTF-8 content); ask the user if you need them.")
    if not repo.patch:
        steps.append("There are no local changes: the checkout matches that commit.")
    return " ".join(steps)


def compose_prompt(task: str, context: str | None, facts_text: str, patch: str, repo: RepoContext | None) -> str:
    parts = [task.strip()]
    if context and context.strip():
        parts.append("## Context from the local session\n\n" + context.strip())
    parts.append("## Local repository state\n\n" + _instructions(repo) + "\n\n```json\n" + facts_text + "\n```")
    if repo is not None and patch:
        fence = fence_for(patch)
        body = patch if patch.endswith("\n") else patch + "\n"
        parts.append(f"## Patch\n\n{fence}diff\n{body}{fence}")
    return "\n\n".join(parts) + "\n"


def build_request(task: str, context: str | None, *, repo: RepoContext | None, facts_text: str, patch: str,
                  client_tag: str, api_version: str, tags: tuple[str, ...] | list[str] = (),
                  user_id: str | None = None) -> HandoffRequest:
    """The create body for `api_version`, shaped by the Devin dialect (handoff/devin/dialect.py)."""
    if not task.strip():
        raise UsageError("the task is empty", 'pass --task "what Devin should do"')
    body: dict[str, Any] = {
        "prompt": compose_prompt(task, context, facts_text, patch, repo),
        "title": make_title(task),
        "tags": make_tags(client_tag, tags),
    }
    if repo is not None and repo.slug:
        body["repos"] = [repo.slug]
    shaped = body_for_version(body, api_version, user_id=user_id)
    return HandoffRequest(body=shaped, client_tag=client_tag, api_version=api_version)
