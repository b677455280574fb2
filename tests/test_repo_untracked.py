"""Untracked files through the scratch index: the user's index untouched, the scratch folder gone however the
inspection ends (return, Ctrl-C, SIGTERM, kill -9 then a later run), and honest labels for what is not carried."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from helpers import GIT_ENV, git, make_repo, write

from handoff.repo import inspect, scrub_urls
from handoff.repo import untracked as scratch
from handoff.repo.git import Git


@pytest.fixture(autouse=True)
def _private_tmp(tmp_path: Path, monkeypatch) -> Path:
    """Scratch folders go to a private temp dir, so the test sees exactly what the inspector leaves."""
    private = tmp_path / "tmp"
    private.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private))
    for name, value in GIT_ENV.items():
        monkeypatch.setenv(name, value)
    return private


def leftovers(private: Path) -> list[str]:
    return sorted(p.name for p in private.iterdir() if p.name.startswith(scratch.SCRATCH_PREFIX))


def test_many_untracked_files_are_carried_and_the_index_is_untouched(tmp_path: Path, _private_tmp: Path):
    root = make_repo(tmp_path / "w")
    write(root, {f"gen/d{i // 50}/f{i}.txt": f"line {i}\n" for i in range(400)})
    write(root, {"README.md": "changed\n"})
    before = (root / ".git" / "index").read_bytes()
    ctx = inspect(root)
    assert sum(f.untracked for f in ctx.files) == 400 and len(ctx.files) == 401
    assert (root / ".git" / "index").read_bytes() == before
    assert leftovers(_private_tmp) == []


def test_a_nested_repository_is_labelled_and_not_added(tmp_path: Path):
    root = make_repo(tmp_path / "w")
    nested = root / "vendor" / "lib"
    nested.mkdir(parents=True)
    git(nested, "init", "-q")
    write(nested, {"x.txt": "x\n"})
    git(nested, "add", "x.txt")
    git(nested, "commit", "-q", "-m", "n")
    write(root, {"new.txt": "new\n"})
    ctx = inspect(root)
    assert [f.path for f in ctx.files] == ["new.txt"]          # no gitlink for the nested repository
    assert [(s.path, s.kind) for s in ctx.skipped] == [("vendor/lib/", "nested repository")]
    assert any("nested repositories (folders with their own .git)" in w for w in ctx.warnings)


def test_no_untracked_calls_a_plain_folder_untracked_not_a_nested_repository(tmp_path: Path):
    root = make_repo(tmp_path / "w")
    write(root, {"build/out.txt": "x\n", "loose.txt": "y\n"})
    ctx = inspect(root, include_untracked=False)
    assert [(s.path, s.kind) for s in ctx.skipped] == [("build/", "untracked")]
    assert not any("nested" in w for w in ctx.warnings)
    assert any("2 untracked file(s) or folder(s) are NOT carried" in w and "build/" in w for w in ctx.warnings)


def test_ctrl_c_during_the_scratch_index_leaves_nothing(tmp_path: Path, _private_tmp: Path, monkeypatch):
    root = make_repo(tmp_path / "w")
    write(root, {"new.txt": "new\n"})
    real = Git.run

    def interrupted(self, *args, **kwargs):
        if "add" in args:
            assert leftovers(_private_tmp) != []    # the scratch folder exists at this point
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Git, "run", interrupted)
    with pytest.raises(KeyboardInterrupt):
        inspect(root)
    assert leftovers(_private_tmp) == []


CHILD = """
import os, signal, sys
from handoff.repo import inspect
from handoff.repo.git import Git
real = Git.run
def terminated(self, *args, **kwargs):
    if "add" in args:
        os.kill(os.getpid(), signal.SIG{name})
    return real(self, *args, **kwargs)
Git.run = terminated
inspect(sys.argv[1])
print("not reached")
"""


@pytest.mark.parametrize("name", ["TERM", "HUP"])
def test_sigterm_and_sighup_during_the_scratch_index_leave_nothing(tmp_path: Path, _private_tmp: Path, name: str):
    root = make_repo(tmp_path / "w")
    write(root, {"new.txt": "new\n"})
    env = {**os.environ, "TMPDIR": str(_private_tmp)}
    done = subprocess.run([sys.executable, "-c", CHILD.replace("{name}", name), str(root)], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == -getattr(signal, f"SIG{name}"), done.stderr   # it still dies by the signal
    assert "not reached" not in done.stdout
    assert leftovers(_private_tmp) == []


def test_folders_of_killed_processes_are_swept_by_the_next_run(tmp_path: Path, _private_tmp: Path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (_private_tmp / f"{scratch.SCRATCH_PREFIX}{dead.pid}-abc").mkdir()
    (_private_tmp / f"{scratch.SCRATCH_PREFIX}{dead.pid}-bundle-ghi").mkdir()   # app/bundle.py's temp folder
    alive = _private_tmp / f"{scratch.SCRATCH_PREFIX}{os.getppid()}-def"
    alive.mkdir()
    demo = _private_tmp / f"{scratch.SCRATCH_PREFIX}demo-xyz"
    demo.mkdir()
    root = make_repo(tmp_path / "w")
    write(root, {"new.txt": "new\n"})
    inspect(root)
    assert leftovers(_private_tmp) == sorted([alive.name, demo.name])


def test_git_messages_lose_url_secrets():
    token = "tok" + "en" * 8
    line = f"fatal: unable to access 'https://u:{token}@host/a.git?access_token={token}#{token}': 403"
    assert token not in scrub_urls(line) and "https://host/a.git" in scrub_urls(line)
