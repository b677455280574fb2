"""Where the repository is: the work tree's top level, its index file, object store and format (one `rev-parse`)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from handoff.errors import UsageError
from handoff.repo.git import Git, decode, last_line
from handoff.repo.paths import user_path

EMPTY_TREE = {"sha1": "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
               "sha256": "6ef19b41225c5369f1c104d45d8d85efa9b057b53b14b4b9b939dd74decc5321"}


@dataclass(frozen=True)
class Layout:
    root: str
    index_file: str
    empty_tree: str
    objects_dir: str


def start_dir(path: str | os.PathLike[str] | None) -> str:
    try:
        start = Path.cwd() if path is None else user_path(os.fspath(path))
    except FileNotFoundError:
        raise UsageError("the current directory no longer exists", "cd to your checkout") from None
    if start.is_file():
        start = start.parent
    if not start.is_dir():
        raise UsageError(f"no such directory: {start}", "pass the path of your checkout")
    return str(start)


def layout(start: str) -> Layout | None:
    """The work tree's layout, None outside any git work tree; UsageError for bare or broken repos."""
    status, out, err = Git(start).run(
        "rev-parse", "--is-bare-repository", "--is-inside-git-dir", "--show-object-format",
        "--git-path", "index", "--show-toplevel", "--git-path", "objects")
    lines = decode(out).splitlines()
    if status != 0 and not lines:
        if "not a git repository (or any" in err:
            return None
        raise UsageError(f"broken git repository: {last_line(err)}", "check it with `git status`")
    if lines[:1] == ["true"]:
        raise UsageError("this is a bare git repository: there is no working tree to hand off",
                         "run it inside a checkout (a clone or `git worktree add`)")
    if lines[1:2] == ["true"]:
        raise UsageError("inside the .git directory, not the working tree", "cd to the checkout")
    if status != 0 or len(lines) < 6:
        raise UsageError(f"broken git repository: {last_line(err)}", "check it with `git status`")
    object_format, index_path, root, objects = lines[2], lines[3], lines[4], lines[5]
    if not root:
        raise UsageError(f"broken git repository: {last_line(err)}", "check it with `git status`")
    return Layout(root=root, index_file=os.path.join(start, index_path),
                  empty_tree=EMPTY_TREE.get(object_format, EMPTY_TREE["sha1"]),
                  objects_dir=os.path.abspath(os.path.join(start, objects)))



def git_dir(root: str) -> str | None:
    """The absolute git directory of the work tree at `root`."""
    status, out, _ = Git(root).run("rev-parse", "--absolute-git-dir")
    return decode(out).strip() or None if status == 0 else None
