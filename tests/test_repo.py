"""The repo inspector on real git repositories in temp dirs."""

from __future__ import annotations

import gc
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import GIT_ENV, git, make_repo, write

from handoff.errors import UsageError
from handoff.repo import Commit, inspect, large, parse_remote_url, push_branch, strip_credentials, user_path
from handoff.repo.diff import DiffSplitter

TOKEN = "s3cr3tTOKEN"  # pragma: allowlist secret


@pytest.fixture(autouse=True)
def _git_identity(monkeypatch):
    for name, value in GIT_ENV.items():
        monkeypatch.setenv(name, value)


def head(root: Path) -> str:
    return git(root, "rev-parse", "HEAD").strip()


def commit_all(root: Path, message: str) -> str:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return head(root)


def by_path(ctx) -> dict:
    return {f.path: f for f in ctx.files}


# ---------------------------------------------------------------------------------------------
# Remote URLs


@pytest.mark.parametrize(("url", "host", "slug"), [
    ("https://github.com/acme/widgets.git", "github.com", "acme/widgets"),
    ("https://github.com/acme/widgets", "github.com", "acme/widgets"),
    ("https://github.com/acme/widgets/", "github.com", "acme/widgets"),
    ("http://ghe.example.com:8080/acme/widgets.git", "ghe.example.com", "acme/widgets"),
    (f"https://user:{TOKEN}@github.com/acme/w.git", "github.com", "acme/w"),
    ("git@github.com:acme/widgets.git", "github.com", "acme/widgets"),
    ("github.com:acme/widgets", "github.com", "acme/widgets"),
    ("ssh://git@github.com/acme/widgets.git", "github.com", "acme/widgets"),
    ("ssh://git@gitlab.example.com:2222/acme/widgets.git", "gitlab.example.com", "acme/widgets"),
    ("git://example.org/acme/widgets.git", "example.org", "acme/widgets"),
    ("https://gitlab.com/group/sub/deeper/repo.git", "gitlab.com", "group/sub/deeper/repo"),
    ("git@gitlab.com:group/sub/repo.git", "gitlab.com", "group/sub/repo"),
    ("https://dev.azure.com/org/project/_git/repo", "dev.azure.com", "org/project/repo"),
    ("https://org@dev.azure.com/org/project/_git/repo", "dev.azure.com", "org/project/repo"),
    ("org@vs-ssh.visualstudio.com:v3/org/project/repo", "vs-ssh.visualstudio.com", "org/project/repo"),
    ("git@ssh.dev.azure.com:v3/org/project/repo", "ssh.dev.azure.com", "org/project/repo"),
    ("https://org.visualstudio.com/DefaultCollection/project/_git/repo", "org.visualstudio.com",
     "org/project/repo"),
    ("file:///srv/git/widgets.git", None, None),
    ("/srv/git/widgets.git", None, None),
    ("../widgets", None, None),
    ("./a:b/widgets", None, None),
    ("C:\\repos\\widgets", None, None),
])
def test_parse_remote_url(url: str, host: str | None, slug: str | None):
    assert parse_remote_url(url) == (host, slug)


@pytest.mark.parametrize(("url", "clean"), [
    (f"https://user:{TOKEN}@github.com/acme/w.git", "https://github.com/acme/w.git"),
    (f"https://{TOKEN}@github.com/acme/w.git", "https://github.com/acme/w.git"),
    (f"http://x-access-token:{TOKEN}@host:8080/a/b", "http://host:8080/a/b"),
    (f"ssh://git:{TOKEN}@host:22/a/b.git", "ssh://git@host:22/a/b.git"),
    ("ssh://git@host/a/b.git", "ssh://git@host/a/b.git"),
    ("git@github.com:acme/w.git", "git@github.com:acme/w.git"),
    (f"git:{TOKEN}@github.com:acme/w.git", "git@github.com:acme/w.git"),
    ("https://github.com/acme/w.git", "https://github.com/acme/w.git"),
    ("/srv/git/w.git", "/srv/git/w.git"),
    (f"https://github.com/acme/w.git?access_token={TOKEN}", "https://github.com/acme/w.git"),
    (f"https://github.com/acme/w.git#{TOKEN}", "https://github.com/acme/w.git"),
    (f"https://u:{TOKEN}@github.com/acme/w?x=1#{TOKEN}", "https://github.com/acme/w"),
    (f"https://github.com?token={TOKEN}", "https://github.com"),
    (f"git@github.com:acme/w.git?token={TOKEN}", "git@github.com:acme/w.git"),
    ("file:///srv/git/w.git", "file:///srv/git/w.git"),
])
def test_strip_credentials(url: str, clean: str):
    assert strip_credentials(url) == clean


def test_query_and_fragment_tokens_in_the_remote_url_appear_nowhere(tmp_path: Path):
    root = make_repo(tmp_path / "w", remote=f"https://github.com/acme/w.git?access_token={TOKEN}#{TOKEN}")
    write(root, {"README.md": "changed\n"})
    ctx = inspect(root)
    assert (ctx.remote_url, ctx.slug) == ("https://github.com/acme/w.git", "acme/w")
    assert TOKEN not in repr(ctx)


def test_credentials_in_the_remote_url_appear_nowhere(tmp_path: Path):
    root = make_repo(tmp_path / "w", remote=f"https://user:{TOKEN}@github.com/acme/w.git")
    write(root, {"README.md": "changed\n"})
    ctx = inspect(root)
    assert ctx.remote_url == "https://github.com/acme/w.git"
    assert (ctx.host, ctx.slug) == ("github.com", "acme/w")
    assert TOKEN not in repr(ctx)
    assert ctx.base == head(root)  # fetch/push went through insteadOf; the configured URL is what we read


# ---------------------------------------------------------------------------------------------
# Branch, HEAD, base


def test_clean_checkout(tmp_path: Path):
    root = make_repo(tmp_path / "widgets")
    ctx = inspect(root)
    assert ctx.root == str(root)
    assert (ctx.remote_name, ctx.slug, ctx.host) == ("origin", "acme/widgets", "github.com")
    assert (ctx.branch, ctx.upstream) == ("main", "origin/main")
    assert ctx.head == ctx.base == ctx.patch_base == head(root)
    assert ctx.patch == "" and ctx.files == () and ctx.unpushed == ()
    assert ctx.warnings == () and not ctx.truncated


def test_the_cycle_collector_is_left_as_the_caller_had_it(tmp_path: Path):
    """inspect() pauses Python's cycle collector while it makes its per-file objects, never longer."""
    root = make_repo(tmp_path / "widgets")
    write(root, {f"new/{i}.txt": f"{i}\n" for i in range(50)})
    assert gc.isenabled()
    assert len(inspect(root).files) == 50 and gc.isenabled()
    gc.disable()
    try:
        assert len(inspect(root).files) == 50 and not gc.isenabled()
    finally:
        gc.enable()


def test_outside_a_repository_is_none(tmp_path: Path):
    assert inspect(tmp_path) is None


def test_bare_repository_is_a_usage_error(tmp_path: Path):
    git(tmp_path, "init", "-q", "--bare", "bare.git")
    with pytest.raises(UsageError, match="bare"):
        inspect(tmp_path / "bare.git")


def test_broken_repository_is_a_usage_error(tmp_path: Path):
    (tmp_path / "wt").mkdir()
    (tmp_path / "wt" / ".git").write_text(f"gitdir: {tmp_path / 'gone'}\n")
    with pytest.raises(UsageError, match="broken git repository"):
        inspect(tmp_path / "wt")


def test_missing_directory_is_a_usage_error(tmp_path: Path):
    with pytest.raises(UsageError, match="no such directory"):
        inspect(tmp_path / "nope")


def test_detached_head_reports_the_sha_and_no_branch(tmp_path: Path):
    root = make_repo(tmp_path / "widgets")
    git(root, "checkout", "-q", "--detach")
    write(root, {"README.md": "detached edit\n"})
    ctx = inspect(root)
    assert ctx.branch is None and ctx.head == head(root) == ctx.base
    assert "+detached edit" in ctx.patch


def test_unborn_head_diffs_against_the_empty_tree(tmp_path: Path):
    root = tmp_path / "fresh"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    write(root, {"staged.txt": "staged\n", "new.txt": "untracked\n"})
    git(root, "add", "staged.txt")
    ctx = inspect(root)
    assert ctx.head is None and ctx.base is None and ctx.patch_base is None
    assert ctx.branch == "main"
    assert {(f.path, f.status, f.untracked) for f in ctx.files} == {("staged.txt", "added", False),
                                                                    ("new.txt", "added", True)}
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q")
    (tmp_path / "p.diff").write_text(ctx.patch)
    git(empty, "apply", str(tmp_path / "p.diff"))
    assert (empty / "new.txt").read_text() == "untracked\n"


def test_unborn_head_with_nothing_at_all(tmp_path: Path):
    git(tmp_path, "init", "-q", "-b", "main", "void")
    ctx = inspect(tmp_path / "void")
    assert ctx.head is None and ctx.files == () and ctx.patch == ""
    assert any("no git remote" in w for w in ctx.warnings)


def test_unpushed_commits_are_listed_and_carried(tmp_path: Path):
    root = make_repo(tmp_path / "widgets", {"app.py": "v = 1\n"})
    pushed = head(root)
    write(root, {"app.py": "v = 2\n"})
    local = commit_all(root, "Bump v")
    write(root, {"app.py": "v = 3\n"})
    ctx = inspect(root)
    assert ctx.base == ctx.patch_base == pushed == git(root, "rev-parse", "origin/main").strip()
    assert ctx.head == local
    assert ctx.unpushed == (Commit(local, "Bump v"),) and ctx.unpushed_total == 1
    assert "-v = 1\n+v = 3\n" in ctx.patch  # the committed and the uncommitted change, from the base
    assert ctx.warnings == ()


def test_base_follows_the_remote_not_only_the_upstream(tmp_path: Path):
    root = make_repo(tmp_path / "widgets")
    git(root, "switch", "-q", "-c", "feature")
    write(root, {"f.txt": "one\n"})
    first = commit_all(root, "one")
    git(root, "push", "-q", "origin", "feature")  # pushed, but the branch has no upstream configured
    write(root, {"f.txt": "two\n"})
    second = commit_all(root, "two")
    ctx = inspect(root)
    assert ctx.upstream is None
    assert ctx.base == first and ctx.unpushed == (Commit(second, "two"),)


def test_history_unknown_to_the_remote_is_not_carried_and_said_so(tmp_path: Path):
    root = make_repo(tmp_path / "widgets", push=False)
    write(root, {"README.md": "edited\n"})
    ctx = inspect(root)
    assert ctx.base is None and ctx.patch_base == ctx.head == head(root)
    assert ctx.unpushed == () and ctx.unpushed_total == 1
    assert "+edited" in ctx.patch
    [warning] = [w for w in ctx.warnings if "NOT carried" in w]
    assert "--push" in warning and "git fetch origin" in warning


def test_no_remote_is_a_warning(tmp_path: Path):
    root = make_repo(tmp_path / "solo", remote=None)
    write(root, {"README.md": "solo\n"})
    ctx = inspect(root)
    assert ctx.remote_name is None and ctx.slug is None and ctx.base is None
    assert ctx.patch_base == head(root)
    assert any("no git remote" in w for w in ctx.warnings)


def test_remote_choice_upstream_then_only_remote(tmp_path: Path):
    root = make_repo(tmp_path / "w", remote=None)
    git(root, "remote", "add", "fork", "git@github.com:me/w.git")
    assert inspect(root).slug == "me/w"  # the only remote
    git(root, "remote", "add", "team", "https://gitlab.com/team/sub/w.git")
    ctx = inspect(root)
    assert ctx.remote_name is None and any("none is the branch's upstream or 'origin'" in w for w in ctx.warnings)
    git(root, "config", "branch.main.remote", "team")
    assert inspect(root).slug == "team/sub/w"  # the upstream's remote


# ---------------------------------------------------------------------------------------------
# Where it runs from


def test_from_a_subdirectory(tmp_path: Path, monkeypatch):
    root = make_repo(tmp_path / "widgets", {"src/deep/app.py": "x = 1\n"})
    write(root, {"src/deep/app.py": "x = 2\n", "top.txt": "new\n"})
    monkeypatch.chdir(root / "src" / "deep")
    ctx = inspect()
    assert ctx.root == str(root)
    assert set(by_path(ctx)) == {"src/deep/app.py", "top.txt"}  # paths are repo-relative, not cwd-relative


def test_linked_worktree(tmp_path: Path):
    root = make_repo(tmp_path / "widgets", {"app.py": "x = 1\n"})
    worktree = tmp_path / "wt"
    git(root, "worktree", "add", "-q", "-b", "feature", str(worktree))
    write(worktree, {"app.py": "x = 2\n", "wt-new.txt": "only here\n"})
    main_index = (root / ".git" / "index").read_bytes()
    wt_index_path = Path(git(worktree, "rev-parse", "--git-path", "index").strip())
    wt_index = (worktree / wt_index_path).read_bytes()
    ctx = inspect(worktree)
    assert ctx.root == str(worktree) and ctx.branch == "feature"
    assert ctx.base == head(root) and ctx.slug == "acme/widgets"
    assert by_path(ctx)["wt-new.txt"].untracked and "+only here" in ctx.patch
    assert (root / ".git" / "index").read_bytes() == main_index
    assert (worktree / wt_index_path).read_bytes() == wt_index


def test_user_path_honours_git_prefix(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GIT_PREFIX", raising=False)
    assert user_path("a.txt") == tmp_path / "a.txt"
    monkeypatch.setenv("GIT_PREFIX", "sub/dir/")
    assert user_path("a.txt") == tmp_path / "sub" / "dir" / "a.txt"
    assert user_path("/abs/a.txt") == Path("/abs/a.txt")


def test_as_a_bang_git_alias(tmp_path: Path):
    """`git ho` runs at the top level with GIT_PREFIX=<where the user stood>/."""
    root = make_repo(tmp_path / "widgets", {"src/app.py": "x = 1\n"})
    write(root, {"src/app.py": "x = 2\n"})
    script = tmp_path / "alias.py"
    script.write_text("import json, os\nfrom handoff.repo import inspect, user_path\n"
                      "ctx = inspect()\n"
                      "print(json.dumps([os.getcwd(), ctx.root, str(user_path('notes.txt')), ctx.files[0].path]))\n")
    git(root, "config", "alias.ho", f"!{sys.executable} {script}")
    cwd, found_root, note, changed = json.loads(git(root / "src", "ho"))
    assert cwd == found_root == str(root)
    assert note == str(root / "src" / "notes.txt") and changed == "src/app.py"


def test_as_a_git_subcommand_on_path(tmp_path: Path):
    """`git handoff` runs a `git-handoff` executable found on PATH, in the user's own directory."""
    root = make_repo(tmp_path / "widgets", {"src/app.py": "x = 1\n"})
    write(root, {"src/app.py": "x = 2\n"})
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    command = bin_dir / "git-ho"
    command.write_text(f"#!{sys.executable}\nimport json, os\nfrom handoff.repo import inspect\n"
                       "print(json.dumps([os.getcwd(), inspect().root]))\n")
    command.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(["git", "ho"], cwd=root / "src", env=env, capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == [str(root / "src"), str(root)]


# ---------------------------------------------------------------------------------------------
# The diff


def test_renames_deletions_modes_and_odd_names(tmp_path: Path):
    root = make_repo(tmp_path / "widgets", {"old.txt": "a\nb\nc\n", "gone.txt": "bye\n", "run.sh": "echo\n"})
    git(root, "mv", "old.txt", "new.txt")
    (root / "gone.txt").unlink()
    (root / "run.sh").chmod(0o755)
    write(root, {"dir/my file ü.txt": "hello\n"})
    files = by_path(inspect(root))
    assert (files["new.txt"].status, files["new.txt"].old_path) == ("renamed", "old.txt")
    assert (files["gone.txt"].status, files["gone.txt"].removed) == ("deleted", 1)
    assert files["run.sh"].status == "mode"
    odd = files["dir/my file ü.txt"]
    assert (odd.status, odd.untracked, odd.added, odd.included) == ("added", True, 1, True)


def test_names_git_has_to_quote(tmp_path: Path):
    odd = 'say "hi"\there.sh'
    root = make_repo(tmp_path / "widgets", {odd: "echo\n", "back\\slash.txt": "x\n"})
    (root / odd).chmod(0o755)  # a mode-only change: the name comes from the quoted `diff --git` line
    git(root, "mv", "back\\slash.txt", 'moved "b".txt')
    write(root, {"new\ttab.txt": "t\n"})
    files = by_path(inspect(root))
    assert files[odd].status == "mode"
    assert (files['moved "b".txt'].status, files['moved "b".txt'].old_path) == ("renamed", "back\\slash.txt")
    assert files["new\ttab.txt"].added == 1


def test_unstaged_move_of_a_file_is_a_rename_of_an_untracked_file(tmp_path: Path):
    root = make_repo(tmp_path / "widgets", {"a.txt": "".join(f"line {i}\n" for i in range(20))})
    (root / "a.txt").rename(root / "b.txt")
    [change] = inspect(root).files
    assert (change.path, change.old_path, change.status, change.untracked) == ("b.txt", "a.txt", "renamed", True)


def test_untracked_files_included_or_left_out(tmp_path: Path):
    root = make_repo(tmp_path / "widgets")
    write(root, {"notes/todo.md": "- a\n- b\n", ".gitignore": "*.log\n", "debug.log": "ignored\n"})
    ctx = inspect(root)
    assert {f.path for f in ctx.files} == {"notes/todo.md", ".gitignore"}
    assert by_path(ctx)["notes/todo.md"].added == 2
    assert "debug.log" not in ctx.patch
    without = inspect(root, include_untracked=False)
    assert without.files == () and without.patch == "" and not without.include_untracked
    assert any("untracked" in w and "NOT carried" in w for w in without.warnings)


def test_index_and_status_are_untouched(tmp_path: Path):
    root = make_repo(tmp_path / "widgets", {"a.txt": "1\n", "b.txt": "2\n"})
    write(root, {"a.txt": "changed\n", "u1.txt": "new\n", "dir/u2.txt": "new\n"})
    git(root, "add", "a.txt")
    write(root, {"b.txt": "also changed\n"})
    index = root / ".git" / "index"
    status_before = git(root, "status", "--porcelain")  # may refresh the index itself: before the snapshot
    before = (index.read_bytes(), index.stat().st_mtime_ns)
    ctx = inspect(root)
    assert {f.path for f in ctx.files} == {"a.txt", "b.txt", "u1.txt", "dir/u2.txt"}
    assert (index.read_bytes(), index.stat().st_mtime_ns) == before
    assert git(root, "status", "--porcelain") == status_before
    assert not list((root / ".git").glob("*.lock"))


def test_racily_clean_files_are_still_seen(tmp_path: Path):
    """Same size, same second as the index: git must re-read it even with a copied index."""
    root = make_repo(tmp_path / "widgets", {"r.txt": "aaa\n"})
    write(root, {"r.txt": "bbb\n", "u.txt": "u\n"})  # u.txt forces the temporary-index path
    assert "+bbb" in inspect(root).patch


def test_size_budget_cuts_at_file_boundaries(tmp_path: Path):
    root = make_repo(tmp_path / "widgets", {"a.txt": "a\n", "b.txt": "b\n", "c.txt": "c\n"})
    write(root, {"a.txt": "small a\n", "b.txt": "".join(f"big line {i}\n" for i in range(2000)),
                 "c.txt": "small c\n"})
    ctx = inspect(root, max_diff_bytes=1000)
    files = by_path(ctx)
    assert [f.path for f in ctx.files] == ["a.txt", "b.txt", "c.txt"]  # diff order
    assert files["a.txt"].included and files["c.txt"].included  # a later, smaller file still fits
    assert (files["b.txt"].included, files["b.txt"].omitted_reason) == (False, "size budget")
    assert (files["b.txt"].added, files["b.txt"].removed) == (2000, 1)
    assert ctx.truncated and "big line" not in ctx.patch and "+small c\n" in ctx.patch
    assert len(ctx.patch.encode()) <= 1000 < ctx.total_diff_bytes
    assert ctx.patch.startswith("diff --git a/a.txt") and "diff --git a/c.txt" in ctx.patch
    assert any("b.txt" in w and "1000 bytes" in w for w in ctx.warnings)
    nothing = inspect(root, max_diff_bytes=0)
    assert nothing.patch == "" and all(f.omitted_reason == "size budget" for f in nothing.files)


def test_negative_budget_is_a_usage_error(tmp_path: Path):
    with pytest.raises(UsageError):
        inspect(make_repo(tmp_path / "w"), max_diff_bytes=-1)


def test_binary_files_are_named_not_inlined(tmp_path: Path):
    root = make_repo(tmp_path / "widgets", {"img.bin": b"\x00\x01\x02"})
    write(root, {"img.bin": b"\x00\x01\x03\x04", "new.bin": b"\x89PNG\x00\x00", "t.txt": "text\n"})
    ctx = inspect(root)
    files = by_path(ctx)
    for name in ("img.bin", "new.bin"):
        assert files[name].binary and not files[name].included and files[name].omitted_reason == "binary"
        assert name not in ctx.patch
    assert files["t.txt"].included
    assert any("binary" in w and "img.bin" in w for w in ctx.warnings)


def test_non_utf8_content_and_names_are_marked_not_crashed(tmp_path: Path):
    root = make_repo(tmp_path / "widgets", {"latin.txt": "plain\n"})
    write(root, {"latin.txt": "caf\xe9 au lait\n".encode("latin-1"), "ok.txt": "fine ü\n"})
    (root / os.fsdecode(b"na\xefve.txt")).write_bytes(b"x\n")
    ctx = inspect(root)
    files = by_path(ctx)
    latin = files["latin.txt"]
    assert (latin.included, latin.omitted_reason, latin.added, latin.removed) == (False, "not UTF-8", 1, 1)
    odd = next(f for f in ctx.files if f.path.startswith("na"))
    assert odd.omitted_reason == "not UTF-8" and "\ufffd" in odd.path
    assert files["ok.txt"].included and "+fine ü" in ctx.patch
    assert "caf" not in ctx.patch


def test_huge_untracked_files_are_named_not_diffed(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(large, "LARGE_FILE_BYTES", 1000)
    root = make_repo(tmp_path / "widgets")
    write(root, {"dump.sql": "insert;\n" * 300 + "tail", "small.txt": "s\n"})
    ctx = inspect(root)
    dump = by_path(ctx)["dump.sql"]
    assert (dump.included, dump.omitted_reason, dump.added, dump.untracked) == (False, "too large", 301, True)
    assert "insert;" not in ctx.patch and "+s" in ctx.patch
    assert any("dump.sql" in w and "not carried" in w for w in ctx.warnings)


def test_huge_tracked_changes_are_named_not_diffed(tmp_path: Path, monkeypatch):
    """Over the limit on either side (working tree or base blob): kept out of `git diff`, named instead."""
    monkeypatch.setattr(large, "LARGE_FILE_BYTES", 1000)
    monkeypatch.setenv("GIT_LITERAL_PATHSPECS", "1")  # must not turn the exclusions into file names
    big = "row\n" * 500
    glob_name = "big[1]*.txt"  # as a glob it would also match big1x.txt
    root = make_repo(tmp_path / "widgets", {"shrinks.txt": big, "gone.txt": big, "grows.txt": "g\n",
                                             "big1x.txt": "x\n", "small.txt": "s\n"})
    write(root, {glob_name: "new\n" * 400})
    commit_all(root, "local: a big new file, not pushed")  # base..HEAD, invisible to `git status`
    write(root, {"shrinks.txt": "short\n", "grows.txt": "grown\n" * 300, "big1x.txt": "y\n", "small.txt": "t\n"})
    (root / "gone.txt").unlink()
    ctx = inspect(root)
    files = by_path(ctx)
    expected = {"shrinks.txt": ("modified", 0), "gone.txt": ("deleted", 0), "grows.txt": ("modified", 0),
                glob_name: ("added", 400)}
    for name, (status, added) in expected.items():
        change = files[name]
        assert (change.status, change.added, change.untracked) == (status, added, False), name
        assert (change.included, change.omitted_reason) == (False, "too large"), name
        assert name not in ctx.patch
    assert files["big1x.txt"].included and files["small.txt"].included
    assert "+y\n" in ctx.patch and "+t\n" in ctx.patch and "row" not in ctx.patch and "grown" not in ctx.patch
    assert ctx.truncated
    [warning] = [w for w in ctx.warnings if "too large" in w]
    assert "4 file(s)" in warning and "shrinks.txt" in warning


def test_a_file_containing_a_diff_is_one_file(tmp_path: Path):
    text = "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n"
    root = make_repo(tmp_path / "widgets", {"fixture.patch": text})
    write(root, {"fixture.patch": text + text})
    [change] = inspect(root).files
    assert (change.path, change.added, change.removed) == ("fixture.patch", 6, 0)


def test_submodule_changes_are_named(tmp_path: Path):
    sub = make_repo(tmp_path / "sub", remote=None)
    root = make_repo(tmp_path / "super")
    git(root, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(sub), "libs/sub")
    commit_all(root, "add submodule")
    git(root, "push", "-q", "origin", "main")
    write(root / "libs" / "sub", {"README.md": "moved on\n"})
    commit_all(root / "libs" / "sub", "sub change")
    ctx = inspect(root)
    assert ctx.submodules == ("libs/sub",)
    assert by_path(ctx)["libs/sub"].status == "submodule"
    assert any("submodule" in w and "libs/sub" in w for w in ctx.warnings)


def test_patch_applies_to_a_fresh_clone_at_patch_base(tmp_path: Path):
    root = make_repo(tmp_path / "widgets", {"old name.txt": "".join(f"row {i}\n" for i in range(30)),
                                             "gone.txt": "bye\n", "tool.sh": "echo hi\n", "keep.txt": "k\n",
                                             "img.bin": b"\x00\x01"})
    write(root, {"keep.txt": "k\ncommitted but not pushed\n"})
    commit_all(root, "local work")
    git(root, "mv", "old name.txt", "renamed ü.txt")
    write(root, {"renamed ü.txt": "".join(f"row {i}\n" for i in range(30)) + "tail\n"})
    (root / "gone.txt").unlink()
    (root / "tool.sh").chmod(0o755)
    write(root, {"spaced dir/new fïle.txt": "untracked\n", "keep.txt": "k\ncommitted but not pushed\nand more\n",
                 "img.bin": b"\x00\x02"})
    ctx = inspect(root)
    assert ctx.base == git(root, "rev-parse", "origin/main").strip() and len(ctx.unpushed) == 1

    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(tmp_path / "widgets-origin.git"), str(clone))
    git(clone, "checkout", "-q", "--detach", ctx.patch_base)
    patch_file = tmp_path / "handoff.diff"
    patch_file.write_bytes(ctx.patch.encode("utf-8"))
    git(clone, "apply", "--check", str(patch_file))
    git(clone, "apply", "--index", str(patch_file))
    carried = {f.path for f in ctx.files if f.included}
    assert carried == {"renamed ü.txt", "gone.txt", "tool.sh", "spaced dir/new fïle.txt", "keep.txt"}
    for name in carried - {"gone.txt"}:
        assert (clone / name).read_bytes() == (root / name).read_bytes(), name
        assert stat.S_IMODE((clone / name).stat().st_mode) == stat.S_IMODE((root / name).stat().st_mode)
    assert not (clone / "gone.txt").exists() and not (clone / "old name.txt").exists()


# ---------------------------------------------------------------------------------------------
# The streaming splitter on its own


def _split(data: bytes, chunk: int, budget: int = 10_000):
    splitter = DiffSplitter(budget)
    for start in range(0, len(data), chunk):
        splitter.feed(data[start:start + chunk])
    splitter.close()
    return splitter


def test_splitter_gives_the_same_answer_for_any_chunking(tmp_path: Path):
    root = make_repo(tmp_path / "widgets", {"a.txt": "1\n2\n3\n", "b.txt": "x\n", "d.txt": "d\n"})
    write(root, {"a.txt": "1\n-2\n+3\n--- 4\n", "b.txt": "x\ndiff --git y\n", "c.txt": "\\ odd\n@@ z\n"})
    (root / "d.txt").unlink()
    git(root, "add", "-N", "c.txt")
    data = subprocess.run(["git", "diff", "HEAD"], cwd=root, capture_output=True, check=True).stdout
    whole = _split(data, len(data))
    assert [(r.added, r.removed) for r in whole.results] == [(3, 2), (1, 0), (2, 0), (0, 1)]
    for chunk in (1, 2, 3, 5, 7, 11, 12, 13, 64):
        parts = _split(data, chunk)
        assert parts.results == whole.results, chunk
        assert "".join(parts.patch_parts) == data.decode()


def test_splitter_whole_sections_match_line_by_line_for_every_kind_of_file(tmp_path: Path):
    """Sections that arrive whole in a chunk are taken in one piece; chunk size 1 takes every one line by line."""
    root = make_repo(tmp_path / "widgets", {"img.bin": b"\x00\x01", "tool.sh": "echo\n", "old name.txt": "o\n" * 5,
                                            "gone.txt": "g\n", "nonl": "x"})
    write(root, {"img.bin": b"\x00\x02", "latin.txt": b"caf\xe9\n", "crlf.txt": b"a\r\nb\r\n", "empty": "",
                 "nonl": "xy", "tricky.txt": "@@ x\ndiff --git y\n+++ z\n"})
    (root / "tool.sh").chmod(0o755)
    git(root, "mv", "old name.txt", "new näme.txt")
    (root / "gone.txt").unlink()
    git(root, "add", "-N", ".")
    data = subprocess.run(["git", "-c", "core.quotepath=on", "diff", "-M", "HEAD"], cwd=root, capture_output=True,
                          check=True).stdout
    reasons = {r.omitted_reason for r in _split(data, len(data), 10_000).results}
    assert reasons == {None, "binary", "not UTF-8"}
    for budget in (0, 200, 10_000):
        whole = _split(data, len(data), budget)
        assert len(whole.results) == 9
        for chunk in (1, 7, 64, 300):
            parts = _split(data, chunk, budget)
            assert (parts.results, parts.patch_parts, parts.total) == (whole.results, whole.patch_parts, len(data))


# ---------------------------------------------------------------------------------------------
# --push


def test_push_branch_sets_upstream_and_the_base_follows(tmp_path: Path):
    root = make_repo(tmp_path / "widgets")
    git(root, "switch", "-q", "-c", "topic")
    write(root, {"t.txt": "topic\n"})
    commit_all(root, "topic work")
    ctx = inspect(root)
    assert ctx.upstream is None and len(ctx.unpushed) == 1
    push_branch(ctx)
    after = inspect(root)
    assert after.upstream == "origin/topic" and after.base == after.head and after.unpushed == ()


def test_push_failure_is_a_usage_error_with_gits_reason(tmp_path: Path):
    root = make_repo(tmp_path / "widgets", remote=None)
    git(root, "remote", "add", "origin", str(tmp_path / "nowhere.git"))
    ctx = inspect(root)
    with pytest.raises(UsageError, match=r"git push to origin failed: .*nowhere\.git"):
        push_branch(ctx)


def test_push_refuses_detached_head(tmp_path: Path):
    root = make_repo(tmp_path / "widgets")
    git(root, "checkout", "-q", "--detach")
    with pytest.raises(UsageError, match="detached"):
        push_branch(inspect(root))
