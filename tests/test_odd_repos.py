"""Property-based: odd file names and contents, odd repository shapes, through the real inspector.

Invariants on every generated checkout: inspect() raises nothing and leaves the index and
`git status` as they were; every changed path is in `files`, each either included or with a
reason; the patch applies to a fresh checkout of `patch_base` and reproduces the included files
byte for byte; the create body survives a JSON round-trip; no remote credential leaks.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from helpers import GIT_ENV, git, make_repo
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handoff.app.handoff import HandoffOptions, prepare
from handoff.repo import RepoContext, inspect

TOKEN = "ghpTOKENxyz123"  # pragma: allowlist secret
BUDGET = 1_000_000
SETTINGS = settings(max_examples=15, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

ODD_NAMES = ["with space.txt", "ünïcødé-名前.md", "-leading-dash.txt", "--double.txt", "quote'single.txt",
             'quote"double.txt', "back\\slash.txt", "tab\tname.txt", "new\nline.txt", "dir with space/f.txt",
             "#hash.txt", "star*.txt", "emoji-🙂.txt", " leading-space.txt"]
FENCE = "```\ncode\n```\n</details>\n<details>\n~~~\n````\n"
CONTENTS = st.sampled_from([
    b"plain\n", b"crlf\r\nline\r\n", b"mixed\r\nends\nhere\r", b"no newline at end",
    b"\x00\x01\x02binary\xff\xfe", b"latin1 caf\xe9\n", b"", FENCE.encode(), "ünïcødé\n".encode(),
    b"\xef\xbb\xbfbom\n",
])


@pytest.fixture(autouse=True)
def _git_identity(monkeypatch):
    for name, value in GIT_ENV.items():
        monkeypatch.setenv(name, value)


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """`make_repo` with README.md and its bare origin, built once: each generated example starts from a copy."""
    base = tmp_path_factory.mktemp("template")
    make_repo(base / "repo", {"README.md": "hello\n"})
    return base


def _copy_of(template: Path, base: Path) -> Path:
    """The template's repo and origin under `base`, the origin's path in .git/config pointed at the copy."""
    for name in ("repo", "repo-origin.git"):
        shutil.copytree(template / name, base / name, symlinks=True)
    config = base / "repo" / ".git" / "config"
    config.write_text(config.read_text().replace(str(template / "repo-origin.git"), str(base / "repo-origin.git")))
    return base / "repo"


def _status(root: Path) -> str:
    """Raw bytes decoded as git writes them (helpers.git's text mode would turn a CR in a name into LF).
    --no-optional-locks: our own `git status` must not refresh the index we are watching."""
    done = subprocess.run(["git", "--no-optional-locks", "status", "--porcelain=v1", "-z",
                           "--untracked-files=all"], cwd=root, env={**os.environ, **GIT_ENV},
                          capture_output=True, check=True)
    return done.stdout.decode("utf-8", "surrogateescape")


def _index_bytes(root: Path) -> bytes | None:
    index = Path(git(root, "rev-parse", "--path-format=absolute", "--git-path", "index").strip())
    return index.read_bytes() if index.exists() else None


def _changed_paths(root: Path) -> set[str]:
    """Every path `git status` reports changed (both sides of a rename), as git spells it."""
    fields = _status(root).split("\0")
    paths: set[str] = set()
    i = 0
    while i < len(fields):
        entry = fields[i]
        i += 1
        if not entry:
            continue
        paths.add(entry[3:])
        if entry[0] in "RC":  # the rename source follows as its own field
            paths.add(fields[i])
            i += 1
    return paths


def _checkout_at(src: Path, patch_base: str | None, dest: Path) -> None:
    git(dest.parent, "init", "-q", str(dest))
    if patch_base:
        git(dest, "fetch", "-q", str(src), "+refs/*:refs/src/*")
        git(dest, "-c", "advice.detachedHead=false", "checkout", "-q", "--detach", patch_base)


def _assert_reproduces(root: Path, ctx: RepoContext, scratch: Path) -> None:
    dest = scratch / "replay"
    _checkout_at(root, ctx.patch_base, dest)
    if ctx.patch:
        (scratch / "p.diff").write_bytes(ctx.patch.encode("utf-8", "surrogateescape"))
        git(dest, "apply", "--check", str(scratch / "p.diff"))
        git(dest, "apply", str(scratch / "p.diff"))
    for change in ctx.files:
        if not change.included:
            continue
        mine, theirs = root / change.path, dest / change.path
        if change.status == "deleted":
            assert not os.path.lexists(theirs), change
        elif mine.is_symlink():
            assert os.readlink(theirs) == os.readlink(mine), change
        else:
            assert theirs.read_bytes() == mine.read_bytes(), change
            assert os.access(theirs, os.X_OK) == os.access(mine, os.X_OK), change
        if change.old_path:
            assert not os.path.lexists(dest / change.old_path), change


def check(root: Path, scratch: Path, *, task: str = "fix it") -> RepoContext:
    before = (_index_bytes(root), _status(root))
    ctx = inspect(str(root), include_untracked=True, max_diff_bytes=BUDGET)
    assert ctx is not None
    assert (_index_bytes(root), _status(root)) == before, "inspect changed the index or status"
    listed = {c.path for c in ctx.files} | {c.old_path for c in ctx.files if c.old_path}
    missing = _changed_paths(root) - listed
    assert not missing, f"changed but not listed: {missing}"
    for change in ctx.files:
        assert change.included or change.omitted_reason, change
    _assert_reproduces(root, ctx, scratch)
    prepared = prepare(task, None, HandoffOptions(max_diff_bytes=BUDGET, redact=True), path=str(root))
    body = prepared.request.body
    assert json.loads(json.dumps(body)) == body
    for text in (repr(ctx), json.dumps(body), repr(prepared.repo)):
        assert TOKEN not in text
    return ctx


# ---- generated changes ---------------------------------------------------------------------------

def _try_write(path: Path, data: bytes) -> bool:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return True
    except OSError:
        return False


OPS = st.sampled_from(["modify", "delete", "rename", "chmod", "untracked", "symlink", "staged-add"])


@SETTINGS
@given(names=st.lists(st.sampled_from(ODD_NAMES), min_size=1, max_size=4, unique=True),
       initial=st.lists(CONTENTS, min_size=4, max_size=4), later=st.lists(CONTENTS, min_size=4, max_size=4),
       ops=st.lists(OPS, min_size=4, max_size=4))
def test_odd_names_and_contents_round_trip(template, names, initial, later, ops):
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        root = _copy_of(template, base)
        for name, data in zip(names, initial, strict=False):
            _try_write(root / name, data)
        git(root, "add", "-A")
        git(root, "commit", "-q", "--allow-empty", "-m", "odd files")
        git(root, "push", "-q", "origin", "main")
        for i, (name, data, op) in enumerate(zip(names, later, ops, strict=False)):
            path = root / name
            if not path.exists():
                continue
            if op == "modify":
                path.write_bytes(data + b"changed\n")
            elif op == "delete":
                path.unlink()
            elif op == "rename":
                git(root, "mv", "--", name, f"renamed-{i}-{name.replace(chr(10), '_').split('/')[-1]}")
            elif op == "chmod":
                path.chmod(0o755)
            elif op == "untracked":
                _try_write(root / f"new-{i}-{name.split('/')[-1]}", data)
            elif op == "symlink":
                os.symlink(name.split("/")[-1], root / f"link-{i}")
            elif op == "staged-add":
                _try_write(root / f"staged-{i}.bin", data + b"\x00")
                git(root, "add", "--", f"staged-{i}.bin")
        check(root, base)


@settings(SETTINGS, max_examples=15)
@given(data=st.binary(max_size=300), name=st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="/\0"), min_size=1, max_size=12))
def test_arbitrary_name_and_bytes_untracked(template, data, name):
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        root = _copy_of(template, base)
        if name in {".", "..", ".git"} or name.lower() == ".git" \
                or not _try_write(root / name, data):
            return
        (root / "README.md").write_bytes(b"hello\r\n" + data)
        check(root, base)


def test_quoted_name_with_space_is_listed_by_its_real_path(tmp_path):
    root = make_repo(tmp_path / "repo", {"README.md": "hello\n"})
    (root / 'say "hi" there.txt').write_text("x\n")
    ctx = check(root, tmp_path)
    assert [c.path for c in ctx.files] == ['say "hi" there.txt']


# ---- fixed odd shapes ----------------------------------------------------------------------------

def test_unborn_repo_with_files(tmp_path):
    root = tmp_path / "repo"
    git(tmp_path, "init", "-q", "-b", "main", str(root))
    (root / "a b.txt").write_bytes(b"x\r\ny\n")
    (root / "bin").write_bytes(b"\x00\xff")
    ctx = check(root, tmp_path)
    assert ctx.patch_base is None and ctx.head is None


def test_empty_unborn_repo(tmp_path):
    root = tmp_path / "repo"
    git(tmp_path, "init", "-q", str(root))
    ctx = check(root, tmp_path)
    assert ctx.files == ()


def test_detached_head(tmp_path):
    root = make_repo(tmp_path / "repo", {"f.txt": "one\n"})
    (root / "f.txt").write_text("two\n")
    git(root, "commit", "-qam", "two")
    git(root, "-c", "advice.detachedHead=false", "checkout", "-q", "--detach", "HEAD")
    (root / "f.txt").write_text("three\n")
    ctx = check(root, tmp_path)
    assert ctx.branch is None


def test_linked_worktree(tmp_path):
    root = make_repo(tmp_path / "repo", {"f.txt": "one\n"})
    wt = tmp_path / "wt dir"
    git(root, "worktree", "add", "-q", "-b", "side", str(wt))
    (wt / "f.txt").write_text("side\n")
    (wt / "new -file.txt").write_text("new\n")
    ctx = check(wt, tmp_path)
    assert Path(ctx.root).resolve() == wt.resolve()


def test_no_remote(tmp_path):
    root = make_repo(tmp_path / "repo", {"f.txt": "one\n"}, remote=None)
    (root / "f.txt").write_text("two\n")
    ctx = check(root, tmp_path)
    assert ctx.remote_url is None


def test_remote_with_credentials(tmp_path):
    root = make_repo(tmp_path / "repo", {"f.txt": "one\n"},
                     remote=f"https://user:{TOKEN}@github.com/o/r.git")
    (root / "f.txt").write_text("two\n")
    ctx = check(root, tmp_path)
    assert ctx.remote_url and TOKEN not in ctx.remote_url and "user" not in ctx.remote_url.split("@")[0][8:]


def test_fences_and_details_in_a_file(tmp_path):
    root = make_repo(tmp_path / "repo", {"notes.md": "start\n"})
    (root / "notes.md").write_text("start\n" + FENCE * 3)
    ctx = check(root, tmp_path, task="see ``` and </details> in the notes")
    assert any(c.path == "notes.md" and c.included for c in ctx.files)
