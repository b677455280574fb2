"""The bundle, played as Devin would: clone the remote at the base, fetch the bundle, check out the snapshot,
and find the user's working tree bit for bit; the user's index, refs, reflog and objects unchanged."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from helpers import GIT_ENV, git, make_repo, write

from handoff.repo import inspect
from handoff.repo.bundle import build_bundle


@pytest.fixture(autouse=True)
def _git_identity(monkeypatch):
    for name, value in GIT_ENV.items():
        monkeypatch.setenv(name, value)


def tree_state(root: Path) -> dict[str, tuple[bytes, bool]]:
    """Every file outside .git: (bytes, executable)."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for name in filenames:
            path = Path(dirpath) / name
            found[str(path.relative_to(root))] = (path.read_bytes(), bool(path.stat().st_mode & stat.S_IXUSR))
    return found


def private_state(root: Path) -> dict[str, bytes]:
    """What must not change: the index, every ref and reflog, the object count."""
    gitdir = root / ".git"
    state = {"index": (gitdir / "index").read_bytes(),
             "refs": git(root, "for-each-ref", "--format=%(refname) %(objectname)").encode(),
             "objects": git(root, "count-objects", "-v").encode(),
             "status": git(root, "status", "--porcelain=v2", "-z", "--untracked-files=all").encode()}
    for log in sorted((gitdir / "logs").rglob("*")):
        if log.is_file():
            state[f"log:{log.relative_to(gitdir)}"] = log.read_bytes()
    if (gitdir / "packed-refs").exists():
        state["packed-refs"] = (gitdir / "packed-refs").read_bytes()
    return state


def test_devin_rebuilds_the_working_tree_from_the_bundle(tmp_path: Path):
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    user = tmp_path / "user"
    git(tmp_path, "init", "-q", "-b", "main", str(user))
    git(user, "config", "commit.gpgsign", "false")
    write(user, {"a.txt": "alpha\n", "old.txt": "to be renamed\n" * 20, "gone.txt": "bye\n", "script.sh": "echo\n",
                 "logo.bin": bytes(range(256)) * 4, ".gitignore": "*.log\n"})
    git(user, "add", "-A")
    git(user, "commit", "-q", "-m", "initial")
    git(user, "remote", "add", "origin", "https://github.com/acme/widgets.git")
    git(user, "config", f"url.{origin}.insteadOf", "https://github.com/acme/widgets.git")
    git(user, "push", "-q", "-u", "origin", "main")
    for subject in ("feat: first unpushed", "feat: second unpushed"):
        write(user, {f"{subject.split()[1]}.txt": f"{subject}\n"})
        git(user, "add", "-A")
        git(user, "commit", "-q", "-m", subject, "-m", "with a body line")
    # The working state: staged and unstaged edits, a deletion, a rename, a mode change, binary edits,
    # a 5 MB text file and a binary file that are untracked, and an ignored file that must stay home.
    write(user, {"a.txt": "alpha\nbeta\n", "logo.bin": bytes(range(255, -1, -1)) * 8})
    git(user, "add", "a.txt")
    write(user, {"a.txt": "alpha\nbeta\ngamma\n"})
    (user / "gone.txt").unlink()
    git(user, "mv", "old.txt", "new.txt")
    (user / "script.sh").chmod(0o755)
    big_line = b"0123456789 the five megabyte text file line\n"
    write(user, {"big.txt": big_line * (5_000_000 // len(big_line) + 1), "blob.dat": b"\0\1\2" * 1000,
                 "debug.log": "ignored\n"})
    ctx = inspect(user)
    assert ctx.base is not None and len(ctx.unpushed) == 2
    before = private_state(user)

    bundle = build_bundle(user, tmp_path / "handoff.bundle", base=ctx.base)

    assert private_state(user) == before
    assert [c.subject for c in bundle.commits] == ["feat: second unpushed", "feat: first unpushed"]
    assert bundle.base == ctx.base and bundle.head == ctx.head and bundle.size == os.path.getsize(bundle.path)
    devin = tmp_path / "devin"
    git(tmp_path, "clone", "-q", "https://github.com/acme/widgets.git", str(devin),
        "-c", f"url.{origin}.insteadOf=https://github.com/acme/widgets.git")
    git(devin, "checkout", "-q", "--detach", bundle.base)
    git(devin, "bundle", "verify", bundle.path)
    git(devin, "fetch", "-q", bundle.path, bundle.ref)
    git(devin, "checkout", "-q", "--detach", "FETCH_HEAD")
    assert git(devin, "rev-parse", "HEAD^{tree}").strip() == bundle.tree
    expected = {name: value for name, value in tree_state(user).items() if name != "debug.log"}
    assert tree_state(devin) == expected
    assert git(devin, "log", "--format=%s", f"{bundle.base}..HEAD^") == "feat: second unpushed\nfeat: first unpushed\n"
    assert "with a body line" in git(devin, "log", "-1", "--format=%B", "HEAD^")
    assert git(devin, "rev-parse", "HEAD^").strip() == ctx.head


def test_nested_repositories_stay_out_of_the_snapshot(tmp_path: Path):
    user = make_repo(tmp_path / "user", {"a.txt": "a\n"}, remote=None)
    nested = user / "vendor" / "lib"
    git(tmp_path, "init", "-q", str(nested))
    write(nested, {"x.txt": "x\n"})
    git(nested, "add", "-A")
    git(nested, "commit", "-q", "-m", "nested")
    write(user, {"b.txt": "b\n"})
    bundle = build_bundle(user, tmp_path / "b.bundle", base=None)
    assert git(user, "cat-file", "-t", bundle.tree, check=False) == ""   # the user's objects got nothing new
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "-b", "handoff-snapshot", bundle.path, str(clone))
    assert git(clone, "ls-tree", "-r", "--name-only", bundle.tree).split() == ["a.txt", "b.txt"]
    # a handoff passes the nested repositories its inspection found (or lets the bundle look, when it did not)
    from handoff.app.bundle import BundleChoice, prepare_bundle

    for untracked in (True, False):
        prepared, note = prepare_bundle(inspect(str(user), include_untracked=untracked), BundleChoice(mode="on"), "on")
        assert note is None and prepared is not None and prepared.bundle.tree == bundle.tree


def test_a_repository_without_a_base_bundles_its_whole_history(tmp_path: Path):
    user = make_repo(tmp_path / "user", {"a.txt": "a\n"}, remote=None)   # its only commit is local
    write(user, {"b.txt": "b\n"})
    bundle = build_bundle(user, tmp_path / "all.bundle", base=None)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "-b", "handoff-snapshot", bundle.path, str(clone))
    assert sorted(tree_state(clone)) == ["a.txt", "b.txt"]
    assert git(clone, "rev-parse", "HEAD^{tree}").strip() == bundle.tree
