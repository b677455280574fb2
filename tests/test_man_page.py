"""`git handoff --help`: git turns it into `man git-handoff`, so a page ships with the wheel (share/man/man1)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from handoff.cli import COMMANDS

MAN = Path(__file__).resolve().parent.parent / "man"


def test_the_page_lists_every_command_and_points_at_h():
    page = (MAN / "git-handoff.1").read_text()
    lines = page.splitlines()
    items = [lines[index + 1] for index, line in enumerate(lines[:-1]) if line == ".TP"]  # each entry's head
    listed = {word for item in items for word in re.findall(r"[a-z][a-z-]*", item.split(None, 1)[-1])}
    missing = [name for name in COMMANDS if name not in listed and not re.search(rf"^\.BR {name}\b", page, re.M)]
    assert not missing, f"commands missing from man/git-handoff.1: {missing}"
    assert "git handoff -h" in page
    assert (MAN / "devin-handoff.1").read_text().strip() == ".so man1/git-handoff.1"


@pytest.mark.skipif(shutil.which("man") is None or shutil.which("git") is None, reason="needs man and git")
def test_git_handoff_help_opens_the_page_from_where_the_wheel_puts_it(tmp_path: Path):
    """A prefix laid out as pip/pipx/uv install it: bin/git-handoff and share/man/man1/git-handoff.1."""
    prefix = tmp_path / "prefix"
    (prefix / "bin").mkdir(parents=True)
    (prefix / "share" / "man" / "man1").mkdir(parents=True)
    for page in ("git-handoff.1", "devin-handoff.1"):
        shutil.copy(MAN / page, prefix / "share" / "man" / "man1" / page)
    script = prefix / "bin" / "git-handoff"
    script.write_text("#!/bin/sh\necho the CLI ran\n")
    script.chmod(0o755)
    git_dir = os.path.dirname(shutil.which("git") or "/usr/bin/git")
    man_dir = os.path.dirname(shutil.which("man") or "/usr/bin/man")
    env = {k: v for k, v in os.environ.items() if k not in ("MANPATH", "GIT_PAGER")}
    env.update({"PATH": os.pathsep.join([str(prefix / "bin"), git_dir, man_dir, "/usr/bin", "/bin"]),
                "MANPAGER": "cat", "PAGER": "cat", "MANWIDTH": "80", "HOME": str(tmp_path)})
    done = subprocess.run(["git", "handoff", "--help"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    assert "GIT-HANDOFF(1)" in done.stdout and "git handoff -h" in done.stdout
    assert "the CLI ran" not in done.stdout  # git answered --help itself, as documented
