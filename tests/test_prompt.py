"""Request builder: title, tags, fences, the facts block and the version-specific body."""

from __future__ import annotations

import json
import re

import pytest

from handoff.devin.dialect import body_for_version
from handoff.errors import UsageError
from handoff.prompt import (
    BundleFacts,
    build_request,
    compose_prompt,
    fence_for,
    make_tags,
    make_title,
    new_client_tag,
    render_facts,
)
from handoff.repo import Commit, FileChange, RepoContext
from handoff.tags import HANDOFF_TAG


def _repo(patch: str = "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n", **changes) -> RepoContext:
    values = dict(
        root="/tmp/r", remote_name="origin", remote_url="https://github.com/acme/widgets.git", host="github.com",
        slug="acme/widgets", branch="feature", head="b" * 40, base="a" * 40, upstream="origin/feature",
        unpushed=(Commit("b" * 40, "wip: parser"),), patch_base="a" * 40, patch=patch,
        files=(FileChange("x", None, "modified", 1, 1, False, False, True),
               FileChange("big.bin", None, "added", 0, 0, True, False, False, "size budget")),
        total_diff_bytes=5000, max_diff_bytes=100_000, include_untracked=True,
    )
    values.update(changes)
    return RepoContext(**values)


def _prompt_json_block(prompt: str) -> dict:
    match = re.search(r"```json\n(.*?)\n```", prompt, re.S)
    assert match, prompt
    return json.loads(match.group(1))


def test_title_is_first_line_at_most_100_chars_cut_at_a_word():
    assert make_title("  Fix the   parser\nmore detail") == "Fix the parser"
    long = "word " * 60
    title = make_title(long)
    assert len(title) <= 100 and title.endswith("…") and "  " not in title
    assert make_title("x" * 300) == "x" * 99 + "…"


def test_tags_start_with_handoff_and_client_tag_deduplicated():
    tag = new_client_tag()
    assert re.fullmatch(r"handoff-[0-9a-f]{12}", tag)
    # this tool's own tag first; the bare `handoff` tag other tools share is just a user tag now
    assert make_tags(tag, ["ci", HANDOFF_TAG, "handoff", " ci ", ""]) == [HANDOFF_TAG, tag, "ci", "handoff"]
    with pytest.raises(UsageError):
        make_tags(tag, [f"t{i}" for i in range(60)])


def test_fence_is_longer_than_any_backtick_run():
    assert fence_for("no ticks") == "```"
    assert fence_for("a ```` b ``") == "`````"


def test_patch_with_fences_and_details_cannot_escape():
    patch = "diff --git a/r.md b/r.md\n+````python\n+</details>\n+```\n"
    prompt = compose_prompt("task", None, "{}", patch, _repo(patch=patch))
    fence = fence_for(patch)
    assert len(fence) == 5
    assert f"{fence}diff\n{patch}{fence}" in prompt


def test_facts_block_carries_the_repo_state():
    repo = _repo()
    facts = json.loads(render_facts(repo, client_tag="handoff-abc"))
    assert facts["repository"] == "acme/widgets"
    assert facts["base_commit"] == "a" * 40 and facts["head"] == "b" * 40
    assert facts["unpushed_commits"] == [{"sha": "b" * 40, "subject": "wip: parser"}]
    assert facts["left_out"] == ["big.bin"]
    assert {"path": "x", "status": "modified", "added": 1, "removed": 1} in facts["files"]
    assert facts["handoff_id"] == "handoff-abc" and facts["tool"].startswith("devin-handoff ")


def test_v3_body_has_the_user_but_no_repos_and_v1_body_is_idempotent():
    repo = _repo()
    facts = render_facts(repo, client_tag="handoff-1")
    v3 = build_request("Fix it", "ctx", repo=repo, facts_text=facts, patch=repo.patch, client_tag="handoff-1",
                       api_version="v3", tags=["x"], user_id="user-9").body
    assert "repos" not in v3 and v3["create_as_user_id"] == "user-9"  # `repos` has no documented meaning
    assert "idempotent" not in v3 and v3["tags"] == [HANDOFF_TAG, "handoff-1", "x"]
    assert v3["prompt"].startswith("## Task\n\n```text\nFix it\n```\n\n## Context from the local session\n\n"
                                   "```text\nctx\n```")
    assert _prompt_json_block(v3["prompt"])["branch"] == "feature"
    assert f"Start from commit `{'a' * 40}` of `acme/widgets`" in v3["prompt"]
    v1 = build_request("Fix it", None, repo=repo, facts_text=facts, patch=repo.patch, client_tag="handoff-1",
                       api_version="v1", user_id="user-9").body
    assert v1["idempotent"] is True and "repos" not in v1 and "create_as_user_id" not in v1
    assert body_for_version(v3, "v1") == {**{k: v for k, v in v3.items()
                                              if k not in ("repos", "create_as_user_id")}, "idempotent": True}
    assert body_for_version(v1, "v3") == {k: v for k, v in v1.items() if k != "idempotent"}


def test_no_repo_prompt_says_so_and_empty_task_is_refused():
    request = build_request("Do it", None, repo=None, facts_text=render_facts(None, client_tag="handoff-2"),
                            patch="", client_tag="handoff-2", api_version="v3")
    assert "outside a git repository" in request.body["prompt"]
    assert "repos" not in request.body
    with pytest.raises(UsageError):
        build_request("  ", None, repo=None, facts_text="{}", patch="", client_tag="t", api_version="v3")


def test_left_out_and_unpushed_are_explained_to_devin():
    repo = _repo()
    prompt = compose_prompt("t", None, render_facts(repo, client_tag="h"), repo.patch, repo)
    assert "1 local commit(s) that were not pushed" in prompt
    assert "1 changed file(s) are listed in `left_out`" in prompt


def test_a_change_left_out_whole_is_never_called_no_change():
    # the only changed file past the budget: the patch is empty, but the checkout does not match the commit
    only_big = (FileChange("big.py", None, "modified", 900, 900, False, False, False, "size budget"),)
    repo = _repo(patch="", files=only_big, unpushed=())
    alone = compose_prompt("t", None, "{}", "", repo)
    assert "no local changes" not in alone and "every changed file is in `left_out`" in alone
    assert "ask the user if you need them" in alone
    bundle = BundleFacts(size=10, base="a" * 40, ref="refs/heads/handoff-snapshot", snapshot="c" * 40,
                         tree="d" * 40, head="b" * 40, commits=())
    with_bundle = compose_prompt("t", None, "{}", "", repo, bundle)
    assert "the git bundle below carries them" in with_bundle and "ask the user" not in with_bundle
    clean = compose_prompt("t", None, "{}", "", _repo(patch="", files=(), unpushed=()))
    assert "There are no local changes: the checkout matches that commit." in clean
