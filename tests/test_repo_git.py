"""The small doors other rooms use instead of running git themselves."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import GIT_ENV, git, make_repo, write

from handoff.repo import git_config, git_toplevel, git_version, outgoing_patch, run_git
from handoff.repo.git import Git, GitFailed


@pytest.fixture(autouse=True)
def _git_identity(monkeypatch):
    for name, value in GIT_ENV.items():
        monkeypatch.setenv(name, value)


def test_version_config_and_toplevel(tmp_path: Path):
    assert re.match(r"^\d+\.\d+", git_version() or "")
    root = make_repo(tmp_path / "w")
    git(root, "config", "handoff.orgId", "org-1")
    (root / "sub").mkdir()
    assert git_config(str(root / "sub"), r"^handoff\.") == {"handoff.orgid": "org-1"}
    assert git_toplevel(str(root / "sub")) == str(root)
    outside = tmp_path / "plain"
    outside.mkdir()
    assert git_toplevel(str(outside)) is None and git_config(str(outside), r"^handoff\.") == {}


def test_run_git_never_raises_and_failures_are_one_line(tmp_path: Path):
    root = make_repo(tmp_path / "w")
    status, _, _ = run_git(root, "config", "alias.handoff", "!devin-handoff")
    assert status == 0 and git(root, "config", "alias.handoff").strip() == "!devin-handoff"
    status, _, err = run_git(root, "rev-parse", "--verify", "no-such-ref")
    assert status != 0 and err
    with pytest.raises(GitFailed) as failed:
        Git(str(root)).out("rev-parse", "--verify", "no-such-ref")
    assert "\n" not in failed.value.message and failed.value.message.startswith("git rev-parse failed:")


def test_outgoing_patch_of_a_push(tmp_path: Path):
    root = make_repo(tmp_path / "w")
    remote_oid = git(root, "rev-parse", "HEAD").strip()
    write(root, {"new.txt": "new line\n"})
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "more")
    local_oid = git(root, "rev-parse", "HEAD").strip()
    patch, cut = outgoing_patch(str(root), local_oid, remote_oid, 1_000_000)
    assert "+new line" in patch and not cut
    assert outgoing_patch(str(root), remote_oid, remote_oid, 1_000_000) is None
    short, cut = outgoing_patch(str(root), local_oid, "0" * 40, 10)
    assert cut and len(short) <= 10


def test_the_runner_loads_without_the_rest_of_gitpython_and_the_rest_still_loads_on_demand(tmp_path: Path):
    root = make_repo(tmp_path / "w")
    trace = tmp_path / "trace"
    code = ("import sys\n"
            "from handoff.repo.git import Git\n"
            "head = Git('.').text('rev-parse', 'HEAD')\n"
            "print(sorted(m for m in ('git.repo', 'git.objects', 'git.index', 'git.remote') if m in sys.modules))\n"
            "import git\n"
            "print(git.Repo('.').head.commit.hexsha == head, 'git.repo' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True,
                          env={**os.environ, "GIT_TRACE": str(trace)})
    assert done.stdout.split("\n")[:2] == ["[]", "True True"], done.stderr
    commands = [line.split("built-in: ", 1)[1] for line in trace.read_text().splitlines() if "built-in: " in line]
    assert commands[0].endswith("rev-parse HEAD")   # no `git version` before the first command we asked for


def test_without_git_on_path_a_command_says_so_in_one_line(tmp_path: Path):
    done = subprocess.run([sys.executable, "-m", "handoff", "create", "--dry-run", "--task", "x"], cwd=tmp_path,
                          capture_output=True, text=True, env={**os.environ, "PATH": str(tmp_path / "no-bin")})
    assert done.returncode == 2 and done.stderr == "devin-handoff: git is not installed or not on PATH (install git)\n"
