"""Request builder: the exact JSON body of the create-session call, within one prompt budget.

The prompt is plain Markdown in four parts: the task, the caller's context, the repository
facts as a fenced JSON block with a plain instruction, and the patch. Every part that carries
text from elsewhere sits in a fence longer than any backtick run inside it, so a pasted log
with an open ``` fence, `<!--`, `<details>` or a "## Patch" line stays inside its block and
cannot swallow or fake what follows.

One budget (`max_prompt_bytes`, default 100 KB) covers the whole prompt: the user's texts
first (never cut: too long is an error), the facts (the file list summarised per top folder
beyond what fits in FACTS_MAX_BYTES), and the patch gets the rest (`patch_room`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from handoff import __version__
from handoff.errors import UsageError
from handoff.limits import DEFAULT_PROMPT_BYTES
from handoff.repo import Commit, FileChange, RepoContext
from handoff.tags import HANDOFF_TAG, MAX_TAG_CHARS, MAX_TAGS
from handoff.tags import new_client_tag as new_client_tag  # re-exported: one definition of handoff tags

MAX_TITLE_CHARS = 100
MAX_LISTED_FILES = 200        # files named one by one in the facts; the rest are counted per top folder
FACTS_MAX_BYTES = 24_000      # the facts block never takes more than this of the budget
INSTRUCTIONS_MAX_BYTES = 2_000
_FRAME_BYTES = 400            # headings, fences and blank lines around the parts
_MAX_FOLDERS = 30
# Stands where the bundle's URL goes until it is uploaded (a dry run shows it; the send replaces it).
BUNDLE_URL_PLACEHOLDER = "<the bundle's URL, filled in when it is uploaded>"
BUNDLE_FILE = "/tmp/devin-handoff.bundle"
BUNDLE_SECTION_BYTES = 8_000   # the bundle's part of the prompt never takes more (kept from the patch's room)
_BUNDLE_LIST = 40              # commits / left-out paths named one by one in it


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


@dataclass(frozen=True)
class BundleFacts:
    """What the prompt says about the attached git bundle (handoff/repo/bundle.py builds it)."""

    size: int
    base: str | None          # its prerequisite: the commit to clone at (None: the bundle has the whole history)
    ref: str                  # the ref inside it naming the snapshot commit
    snapshot: str
    tree: str                 # `git rev-parse HEAD^{tree}` after checkout must print this
    head: str | None          # the user's HEAD: the snapshot's parent
    commits: tuple[Commit, ...]   # unpushed commits it carries, newest first
    left_out: tuple[str, ...] = ()


def bundle_section(facts: BundleFacts, branch: str | None) -> str:
    """How Devin rebuilds the exact state from the bundle, step by step, and what to do if it does not match."""
    start = (f"`git fetch origin {facts.base} && git checkout --detach {facts.base}`" if facts.base
             else "nothing to clone: the bundle holds the whole history (`git clone` it)")
    work = branch or "handoff-work"
    lines = [
        "## Exact local state (git bundle)",
        "",
        "The attached git bundle rebuilds the user's working tree bit for bit: "
        f"{len(facts.commits)} unpushed commit(s) as they are (history, messages, authors) and, on top, one "
        "snapshot commit of the working tree (uncommitted and untracked files, deletions, renames, modes, "
        f"binary files). It is {facts.size} bytes.",
        "",
        f'ATTACHMENT:"{BUNDLE_URL_PLACEHOLDER}"',
        "",
        "Start from it rather than from the patch (the patch, if any, is the same change as text, for reading; "
        "files the facts list as `left_out` of the patch are in the bundle):",
        f"1. In the repository, at the base commit: {start}.",
        f"2. Save the attachment as `{BUNDLE_FILE}` and check it: `git bundle verify {BUNDLE_FILE}`.",
        f"3. Fetch it: `git fetch {BUNDLE_FILE} {facts.ref}` then `git checkout -B {work} FETCH_HEAD`.",
        f"4. Verify: `git rev-parse HEAD^{{tree}}` must print `{facts.tree}` (the snapshot commit is "
        f"`{facts.snapshot}`).",
        "5. To have the changes uncommitted as the user had them, `git reset --mixed HEAD~1` (the snapshot's "
        f"parent is the user's last commit `{facts.head or '(none)'}`). To keep only the commits, cherry-pick "
        f"them onto the base instead: `git cherry-pick {facts.base or '<root>'}..{facts.head or 'HEAD'}`.",
        "If `git bundle verify` fails, the fetch fails, or the tree id differs: stop, do not guess or rebuild "
        "the state from the patch silently; tell the user which step failed and what it printed (the tree id "
        "you got), then continue from the patch only if they agree.",
    ]
    if facts.commits:   # subjects and paths are the user's text: fenced like every text from elsewhere
        lines += ["", "Commits in the bundle (newest first):", "",
                  fenced(_listed([f"{c.sha[:12]} {c.subject[:100]}" for c in facts.commits]))]
    if facts.left_out:
        lines += ["", "Left out of the bundle to stay within its size budget (their committed version is in the "
                  "snapshot; ask the user if you need them):", "", fenced(_listed([p[:150] for p in facts.left_out]))]
    return "\n".join(lines)


def _listed(items: list[str]) -> str:
    shown = items[:_BUNDLE_LIST]
    return "\n".join(shown + ([f"… and {len(items) - len(shown)} more"] if len(items) > len(shown) else []))


def bundle_room(maybe: bool) -> int:
    """What to keep from the patch's room for the bundle's part of the prompt (when a bundle may come)."""
    return BUNDLE_SECTION_BYTES if maybe else 0


def with_bundle_url(body: dict[str, Any], url: str, version: str) -> dict[str, Any]:
    """The body with the uploaded bundle's URL in its `ATTACHMENT:` line (and in v3 `attachment_urls`)."""
    referenced = dict(body)
    referenced["prompt"] = str(body.get("prompt", "")).replace(BUNDLE_URL_PLACEHOLDER, url.replace('"', "%22"), 1)
    if version == "v3":
        referenced["attachment_urls"] = [*(body.get("attachment_urls") or []), url]
    return referenced


def awaits_bundle_url(body: dict[str, Any]) -> bool:
    return BUNDLE_URL_PLACEHOLDER in str(body.get("prompt", ""))


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


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def patch_room(task: str, context: str | None, max_prompt_bytes: int = DEFAULT_PROMPT_BYTES) -> int:
    """Bytes left for the patch once the texts, the facts and the frame have their share; UsageError when
    the user's texts alone do not leave room for the rest (they are never cut)."""
    texts = _size(task) + _size(context or "")
    room = max_prompt_bytes - texts - FACTS_MAX_BYTES - INSTRUCTIONS_MAX_BYTES - _FRAME_BYTES
    if room < 0:
        raise UsageError(f"the task and context take {_kb(texts)}, too much for the prompt budget of "
                         f"{_kb(max_prompt_bytes)} (which keeps {_kb(FACTS_MAX_BYTES)} for the repository facts)",
                         "shorten them, or raise --max-prompt-bytes")
    return room


def _kb(size: int) -> str:
    return f"{size / 1000:.1f} KB"


def _top_folder(path: str) -> str:
    head, sep, _ = path.partition("/")
    return f"{head}/" if sep else "(top level)"


def _count_by_folder(paths: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for path in paths:
        folder = _top_folder(path)
        counts[folder] = counts.get(folder, 0) + 1
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    shown = dict(ranked[:_MAX_FOLDERS])
    rest = sum(n for _, n in ranked[_MAX_FOLDERS:])
    if rest:
        shown["(other folders)"] = rest
    return shown


def render_facts(repo: RepoContext | None, *, client_tag: str, max_bytes: int = FACTS_MAX_BYTES) -> str:
    """The structured repository context, as the JSON text that goes into the prompt: files named one by
    one up to MAX_LISTED_FILES (fewer when they would pass `max_bytes`), the rest counted per top folder."""
    # tracked changes first, then what the patch carries: what is named one by one is what matters most
    files = sorted(repo.files, key=lambda f: (f.untracked, not f.included)) if repo else []
    listed = MAX_LISTED_FILES
    while True:
        text = _facts_text(repo, client_tag, files, listed)
        if _size(text) <= max_bytes or listed == 0:
            return text
        listed //= 2


def _facts_text(repo: RepoContext | None, client_tag: str, files: list[FileChange], listed: int) -> str:
    facts: dict[str, Any] = {"tool": f"devin-handoff {__version__}", "handoff_id": client_tag}
    if repo is None:
        facts["repository"] = None
        return json.dumps(facts, indent=2, ensure_ascii=False)
    left_out = [f.path for f in files if not f.included]
    facts.update({
        "repository": repo.slug,
        "remote_url": repo.remote_url,
        "branch": repo.branch,
        "head": repo.head,
        "base_commit": repo.base,
        "base_on_remote": {"remote": repo.remote_name, "ref": repo.base_ref, "known_from": repo.base_source},
        "patch_applies_to": repo.patch_base or "empty tree (no commits yet)",
        "unpushed_commits": [{"sha": c.sha, "subject": c.subject} for c in repo.unpushed],
        "files": [_file_fact(f) for f in files[:listed]],
        "left_out": left_out[:listed],
        "diff_bytes": repo.total_diff_bytes,
        "max_diff_bytes": repo.max_diff_bytes,
        "untracked_included": repo.include_untracked,
    })
    if len(repo.files) > listed:
        facts["files_not_listed"] = {"count": len(repo.files) - listed,
                                     "by_top_folder": _count_by_folder([f.path for f in files[listed:]])}
    if len(left_out) > listed:
        facts["left_out_not_listed"] = len(left_out) - listed
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
    """A backtick fence longer than any backtick run in `text` (only a backtick run at least as long can close
    it, so nothing inside can: a tilde fence inside is plain text)."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(minimum, longest + 1)


def fenced(text: str, info: str = "text") -> str:
    """`text` as a fenced block no line inside can close."""
    body = text if text.endswith("\n") else text + "\n"
    fence = fence_for(text)
    return f"{fence}{info}\n{body}{fence}"


def _instructions(repo: RepoContext | None, bundled: bool = False) -> str:
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
        where_they_are = "the git bundle below carries them" if bundled else "ask the user if you need them"
        steps.append(f"{len(left_out)} changed file(s) are listed in `left_out` but not in the patch "
                     f"(size budget, binary or non-UTF-8 content); {where_they_are}.")
    if not repo.patch:
        steps.append("The patch is empty: every changed file is in `left_out`." if left_out
                     else "There are no local changes: the checkout matches that commit.")
    text = " ".join(steps)
    return text if _size(text) <= INSTRUCTIONS_MAX_BYTES else text[:INSTRUCTIONS_MAX_BYTES // 4] + "…"


def compose_prompt(task: str, context: str | None, facts_text: str, patch: str, repo: RepoContext | None,
                   bundle: BundleFacts | None = None) -> str:
    """The prompt: every text from elsewhere fenced (see the module docstring), the headings ours alone."""
    parts = ["## Task\n\n" + fenced(task.strip())]
    if context and context.strip():
        parts.append("## Context from the local session\n\n" + fenced(context.strip()))
    parts.append("## Local repository state\n\n" + _instructions(repo, bundle is not None) + "\n\n"
                 + fenced(facts_text, "json"))
    if bundle is not None:
        parts.append(bundle_section(bundle, repo.branch if repo else None))
    if repo is not None and patch:
        parts.append("## Patch\n\n" + fenced(patch, "diff"))
    return "\n\n".join(parts) + "\n"


def build_request(task: str, context: str | None, *, repo: RepoContext | None, facts_text: str, patch: str,
                  client_tag: str, api_version: str, tags: tuple[str, ...] | list[str] = (),
                  user_id: str | None = None, max_prompt_bytes: int = DEFAULT_PROMPT_BYTES,
                  bundle: BundleFacts | None = None) -> HandoffRequest:
    """The create body for `api_version`, shaped by the Devin dialect (handoff/devin/dialect.py); UsageError
    when the prompt would pass `max_prompt_bytes` (nothing is cut after the gate has seen it)."""
    if not task.strip():
        raise UsageError("the task is empty", 'pass --task "what Devin should do"')
    prompt = compose_prompt(task, context, facts_text, patch, repo, bundle)
    if _size(prompt) > max_prompt_bytes:
        raise UsageError(f"the prompt would take {_kb(_size(prompt))}, over its budget of {_kb(max_prompt_bytes)}",
                         "shorten the task or context, lower --max-diff-bytes, or raise --max-prompt-bytes")
    body: dict[str, Any] = {
        "prompt": prompt,
        "title": make_title(task),
        "tags": make_tags(client_tag, tags),
    }
    # No `repos`: docs.devin.ai/api-reference/v3/sessions/post-organizations-sessions lists `repos: string[] |
    # null` with no meaning given (nor does the SDK's SessionCreateRequest page); the repository is named in
    # the prompt's facts instead, as the docs' own handoff plugin does (docs/devin-api-notes.md).
    from handoff.devin.dialect import body_for_version  # only when a body is built: hooks parse options cheaply

    shaped = body_for_version(body, api_version, user_id=user_id)
    return HandoffRequest(body=shaped, client_tag=client_tag, api_version=api_version)
