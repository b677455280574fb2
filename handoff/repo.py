"""Repo inspector: what Devin needs to reproduce this checkout (GitPython).

CONTRACT (owned by the repo-inspector work; prompt.py, secrets.py and the CLI rely on these names).

`inspect()` runs a handful of git commands (each costs a few milliseconds): one `rev-parse` for the
layout, one `status --porcelain=v2` for branch, HEAD, upstream and untracked files, one `config`
for the remotes, one `log` for unpushed commits, one `diff --raw` (plus a `cat-file --batch-check`
when tracked files changed) to find files too large to diff, and one streamed `diff <base>`. Untracked files
are added as intent-to-add entries to a *copy* of the index, so the user's index and working tree
are never written. The diff is read chunk by chunk and split per file, so a huge change costs
memory only for the files that fit the budget.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from handoff.errors import UsageError

DEFAULT_MAX_DIFF_BYTES = 100_000


@dataclass(frozen=True)
class Commit:
    sha: str
    subject: str


@dataclass(frozen=True)
class FileChange:
    path: str                    # path in the working tree (the old path for a deletion)
    old_path: str | None         # set for renames and copies
    status: str                  # added | modified | deleted | renamed | copied | mode | typechange | submodule
    added: int                   # lines added (0 for binary)
    removed: int                 # lines removed (0 for binary)
    binary: bool
    untracked: bool
    included: bool               # its diff is inside RepoContext.patch
    omitted_reason: str | None = None   # "size budget" | "not UTF-8" | "binary" | "too large" | None (included)


@dataclass(frozen=True)
class RepoContext:
    root: str                    # top level of the working tree
    remote_name: str | None
    remote_url: str | None       # credentials stripped
    host: str | None             # e.g. github.com
    slug: str | None             # owner/repo (group/sub/repo on GitLab)
    branch: str | None           # None on a detached or unborn HEAD without a branch name
    head: str | None             # HEAD sha, None when unborn
    base: str | None             # newest commit of HEAD's history the remote has; None when unknown
    upstream: str | None         # e.g. origin/main
    unpushed: tuple[Commit, ...]
    patch_base: str | None       # the commit `patch` applies to (base, else HEAD); None = the empty tree
    patch: str                   # `git diff <base or HEAD>` incl. untracked files, cut to the budget at file boundaries
    files: tuple[FileChange, ...]
    total_diff_bytes: int        # size of the whole diff before the budget cut
    max_diff_bytes: int
    include_untracked: bool
    submodules: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default=())
    unpushed_total: int = 0      # commits not on the remote (carried or not); may exceed len(unpushed)

    @property
    def truncated(self) -> bool:
        return any(not f.included for f in self.files)


# ---------------------------------------------------------------------------------------------
# Paths given by the user


def user_path(p: str) -> Path:
    """A path the user typed, relative to where they stood.

    A `!` git alias runs at the top level of the work tree and says where the user was in
    $GIT_PREFIX (e.g. `src/`); a plain command keeps the cwd and has no GIT_PREFIX.
    """
    path = Path(p).expanduser()
    if path.is_absolute():
        return path
    return Path.cwd() / os.environ.get("GIT_PREFIX", "") / path


# ---------------------------------------------------------------------------------------------
# Remote URLs

_SCHEME_URL = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*)://(?P<rest>.*)$", re.DOTALL)
_SCP_URL = re.compile(r"^(?:(?P<user>[^@/]+)@)?(?P<host>[^:/]+):(?P<path>.*)$")
_NETWORK_SCHEMES = {"http", "https", "ssh", "git", "git+ssh", "ssh+git", "ftp", "ftps"}
_AZURE_SSH_HOSTS = ("ssh.dev.azure.com", "vs-ssh.visualstudio.com")


def strip_credentials(url: str) -> str:
    """The URL without embedded credentials.

    http(s) and other non-ssh URLs lose the whole `user[:password]@` part (a token is often
    passed as the user name); ssh URLs keep the login name (`git@`) but lose any password.
    """
    match = _SCHEME_URL.match(url)
    if not match:
        scp = _SCP_URL.match(url)
        if scp and scp["user"] and ":" in scp["user"]:  # `user:password@host:path` is not valid scp, but strip it
            return f"{scp['user'].split(':', 1)[0]}@{scp['host']}:{scp['path']}"
        return url  # scp-like `user@host:path` carries no password; local paths carry nothing
    scheme, rest = match["scheme"], match["rest"]
    authority, sep, tail = _split_authority(rest)
    if "@" not in authority:
        return url
    userinfo, _, hostport = authority.rpartition("@")
    if scheme.lower() in {"ssh", "git+ssh", "ssh+git"}:
        login = userinfo.split(":", 1)[0]
        return f"{scheme}://{login}@{hostport}{sep}{tail}" if login else f"{scheme}://{hostport}{sep}{tail}"
    return f"{scheme}://{hostport}{sep}{tail}"


def _split_authority(rest: str) -> tuple[str, str, str]:
    """`user@host:port/path?q` -> ('user@host:port', '/', 'path?q')."""
    for index, char in enumerate(rest):
        if char in "/?#":
            return rest[:index], char, rest[index + 1:]
    return rest, "", ""


def parse_remote_url(url: str) -> tuple[str | None, str | None]:
    """(host, slug) of a clone URL; (None, None) for local paths and file:// URLs.

    Slugs: `owner/repo`, GitLab `group/sub/repo`, Azure DevOps `org/project/repo`.
    """
    url = url.strip()
    match = _SCHEME_URL.match(url)
    if match:
        if match["scheme"].lower() not in _NETWORK_SCHEMES:
            return None, None
        authority, _, tail = _split_authority(match["rest"])
        hostport = authority.rpartition("@")[2]
        host = _hostname(hostport)
        path = re.split(r"[?#]", tail, maxsplit=1)[0]
        return (host or None), _slug(host, path)
    scp = _SCP_URL.match(url)
    if scp and len(scp["host"]) > 1 and "/" not in url.split(":", 1)[0]:
        host = scp["host"].lower()
        return host, _slug(host, scp["path"])
    return None, None  # a local path (or C:\ style drive path)


def _hostname(hostport: str) -> str:
    if hostport.startswith("["):  # [::1]:22
        return hostport[1:].split("]", 1)[0].lower()
    return hostport.split(":", 1)[0].lower()


def _slug(host: str, path: str) -> str | None:
    parts = [part for part in path.strip().strip("/").split("/") if part and part != "~"]
    if parts and parts[-1].endswith(".git"):
        parts[-1] = parts[-1][:-4]
    parts = [part for part in parts if part]
    parts = _azure_parts(host, parts)
    return "/".join(parts) if len(parts) >= 2 else None


def _azure_parts(host: str, parts: list[str]) -> list[str]:
    """Azure DevOps: https://dev.azure.com/org/project/_git/repo, org@vs-ssh.visualstudio.com:v3/org/project/repo,
    https://org.visualstudio.com/[DefaultCollection/]project/_git/repo -> [org, project, repo]."""
    if host in _AZURE_SSH_HOSTS and parts[:1] == ["v3"]:
        return parts[1:]
    if "_git" in parts:
        at = parts.index("_git")
        before, after = parts[:at], parts[at + 1:at + 2]
        if host.endswith(".visualstudio.com"):
            before = [host.split(".", 1)[0], *[p for p in before if p.lower() != "defaultcollection"]]
        return [*before, *after]
    return parts


# ---------------------------------------------------------------------------------------------
# Running git

# Never let a read-only inspection take locks or refresh the user's index.
_QUIET_ENV = {"GIT_OPTIONAL_LOCKS": "0", "GIT_TERMINAL_PROMPT": "0", "GIT_DIFF_OPTS": "",
              "LANGUAGE": "C", "LC_ALL": "C"}
_C_OPTIONS = ("-c", "core.quotepath=off", "-c", "core.safecrlf=false", "-c", "core.fsmonitor=false")


class _Git:
    """git commands in one directory through GitPython, with the inspection environment."""

    def __init__(self, cwd: str) -> None:
        import git  # GitPython is imported only when a repository is actually inspected

        self.cwd = cwd
        self._git = git.Git(cwd)
        self._not_found = git.exc.GitCommandNotFound

    def run(self, *args: str, env: dict[str, str] | None = None, quiet: bool = True) -> tuple[int, bytes, str]:
        """(exit status, stdout bytes, stderr text); never raises for a failing command."""
        full_env = {**(_QUIET_ENV if quiet else {}), **(env or {})}
        try:
            status, out, err = self._git.execute(
                ["git", *_C_OPTIONS, *args], with_extended_output=True, with_exceptions=False,
                stdout_as_string=False, strip_newline_in_stdout=False, env=full_env)
        except self._not_found:
            raise UsageError("git is not installed or not on PATH", "install git") from None
        return status, out or b"", err or ""

    def out(self, *args: str, env: dict[str, str] | None = None) -> bytes:
        status, out, err = self.run(*args, env=env)
        if status != 0:
            raise UsageError(f"git {args[0]} failed: {_last_line(err)}", "check the repository with `git status`")
        return out

    def feed(self, *args: str, data: bytes) -> bytes:
        """stdout of a git command given `data` on stdin; UsageError if it fails."""
        try:
            done = subprocess.run(["git", *_C_OPTIONS, *args], cwd=self.cwd, env={**os.environ, **_QUIET_ENV},
                                  input=data, capture_output=True, check=False)
        except FileNotFoundError:
            raise UsageError("git is not installed or not on PATH", "install git") from None
        if done.returncode != 0:
            raise UsageError(f"git {args[0]} failed: {_last_line(_decode(done.stderr))}",
                             "check the repository with `git status`")
        return done.stdout

    @contextmanager
    def stream(self, *args: str, env: dict[str, str] | None = None) -> Iterator[Any]:
        """Yield git's stdout to read incrementally; raise UsageError if git fails.

        stderr goes to a temp file so a chatty git cannot block on a full pipe while we read stdout.
        """
        full_env = {**os.environ, **_QUIET_ENV, **(env or {})}
        with tempfile.TemporaryFile() as stderr:
            try:
                proc = subprocess.Popen(["git", *_C_OPTIONS, *args], cwd=self.cwd, env=full_env,
                                        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr)
            except FileNotFoundError:
                raise UsageError("git is not installed or not on PATH", "install git") from None
            try:
                assert proc.stdout is not None
                yield proc.stdout
            finally:
                if proc.stdout is not None:
                    proc.stdout.close()
                status = proc.wait()
            if status != 0:
                stderr.seek(0)
                message = _last_line(stderr.read(65536).decode("utf-8", "replace"))
                raise UsageError(f"git {args[0]} failed: {message}", "check the repository with `git status`")


_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/\s@]+@")


def _last_line(text: str) -> str:
    """git's last message line (the `fatal:` one), without URL credentials."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return _URL_CREDENTIALS.sub(r"\1", lines[-1] if lines else "unknown error")


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


# ---------------------------------------------------------------------------------------------
# Where the repository is

_EMPTY_TREE = {"sha1": "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
               "sha256": "6ef19b41225c5369f1c104d45d8d85efa9b057b53b14b4b9b939dd74decc5321"}


@dataclass(frozen=True)
class _Layout:
    root: str
    index_file: str
    empty_tree: str


def _start_dir(path: str | os.PathLike[str] | None) -> str:
    try:
        start = Path.cwd() if path is None else user_path(os.fspath(path))
    except FileNotFoundError:
        raise UsageError("the current directory no longer exists", "cd to your checkout") from None
    if start.is_file():
        start = start.parent
    if not start.is_dir():
        raise UsageError(f"no such directory: {start}", "pass the path of your checkout")
    return str(start)


def _layout(start: str) -> _Layout | None:
    """The work tree's layout, None outside any git work tree; UsageError for bare or broken repos."""
    status, out, err = _Git(start).run(
        "rev-parse", "--is-bare-repository", "--is-inside-git-dir", "--show-object-format",
        "--git-path", "index", "--show-toplevel")
    lines = _decode(out).splitlines()
    if status != 0 and not lines:
        if "not a git repository (or any" in err:
            return None
        raise UsageError(f"broken git repository: {_last_line(err)}", "check it with `git status`")
    if lines[:1] == ["true"]:
        raise UsageError("this is a bare git repository: there is no working tree to hand off",
                         "run it inside a checkout (a clone or `git worktree add`)")
    if lines[1:2] == ["true"]:
        raise UsageError("inside the .git directory, not the working tree", "cd to the checkout")
    if status != 0 or len(lines) < 5:
        raise UsageError(f"broken git repository: {_last_line(err)}", "check it with `git status`")
    object_format, index_path, root = lines[2], lines[3], lines[4] if len(lines) > 4 else ""
    if not root:
        raise UsageError(f"broken git repository: {_last_line(err)}", "check it with `git status`")
    return _Layout(root=root, index_file=os.path.join(start, index_path),
                   empty_tree=_EMPTY_TREE.get(object_format, _EMPTY_TREE["sha1"]))


# ---------------------------------------------------------------------------------------------
# Branch, HEAD, upstream, untracked files: one `git status`


@dataclass
class _Status:
    head: str | None = None
    branch: str | None = None
    upstream: str | None = None
    untracked: list[bytes] = field(default_factory=list)
    nested_repos: list[str] = field(default_factory=list)   # untracked directories git will not descend into
    submodules: list[str] = field(default_factory=list)     # submodules with any change


def _read_status(git: _Git, include_untracked: bool) -> _Status:
    out = git.out("status", "--porcelain=v2", "-z", "--branch", "--no-renames",
                  f"--untracked-files={'all' if include_untracked else 'normal'}")
    status = _Status()
    tokens = iter(out.split(b"\0"))
    for token in tokens:
        kind = token[:2]
        if kind == b"# ":
            _status_header(status, _decode(token[2:]))
        elif kind in (b"1 ", b"2 ", b"u "):
            fields = token.split(b" ", {b"1 ": 8, b"2 ": 9, b"u ": 10}[kind])
            if kind == b"2 ":
                next(tokens, None)  # the original path of a staged rename
            if fields[2].startswith(b"S"):
                status.submodules.append(_decode(fields[-1]))
        elif kind == b"? ":
            name = token[2:]
            if name.endswith(b"/"):
                status.nested_repos.append(_decode(name))
            else:
                status.untracked.append(name)
    return status


def _status_header(status: _Status, line: str) -> None:
    key, _, value = line.partition(" ")
    if key == "branch.oid" and value != "(initial)":
        status.head = value
    elif key == "branch.head" and value != "(detached)":
        status.branch = value
    elif key == "branch.upstream":
        status.upstream = value


# ---------------------------------------------------------------------------------------------
# Remote: origin, else the upstream's remote, else the only remote


@dataclass(frozen=True)
class _Remote:
    name: str | None
    url: str | None          # credentials stripped
    host: str | None
    slug: str | None
    warning: str | None


def _read_remote(git: _Git, branch: str | None) -> _Remote:
    # The configured URLs as written, without url.<base>.insteadOf rewriting (that may point at a mirror).
    status, out, _ = git.run("config", "-z", "--get-regexp", r"^(remote\..+\.url|branch\..+\.remote)$")
    urls: dict[str, str] = {}
    branch_remote = None
    for entry in out.split(b"\0") if status == 0 else []:
        key, _, value = _decode(entry).partition("\n")
        if key.startswith("remote.") and key.endswith(".url"):
            urls.setdefault(key[len("remote."):-len(".url")], value)
        elif branch is not None and key == f"branch.{branch}.remote":
            branch_remote = value
    name = _choose_remote(urls, branch_remote)
    if name is None:
        if not urls:
            return _Remote(None, None, None, None, "no git remote: Devin cannot clone this repository and gets "
                                                   "only the patch; add a remote and push to share the history")
        return _Remote(None, None, None, None, f"{len(urls)} remotes ({', '.join(sorted(urls))}) and none is "
                                               "'origin' or the branch's upstream: no repository is named")
    url = strip_credentials(urls[name])
    host, slug = parse_remote_url(url)
    warning = None if slug else (f"remote '{name}' ({url}) is not a hosted repository: Devin cannot clone it "
                                 "and gets only the patch")
    return _Remote(name, url, host, slug, warning)


def _choose_remote(urls: dict[str, str], branch_remote: str | None) -> str | None:
    if "origin" in urls:
        return "origin"
    if branch_remote in urls:
        return branch_remote
    if len(urls) == 1:
        return next(iter(urls))
    return None


# ---------------------------------------------------------------------------------------------
# Base commit and unpushed commits

MAX_LISTED_COMMITS = 1000


@dataclass(frozen=True)
class _History:
    base: str | None
    unpushed: tuple[Commit, ...]     # carried in the patch (empty when base is None)
    unpushed_total: int
    warning: str | None


def _read_history(git: _Git, head: str | None, remote: str | None) -> _History:
    """The newest commit of HEAD's first-parent line that `remote` has, and the commits it does not."""
    if head is None or remote is None:
        return _History(None, (), 0, None)
    out = git.out("log", "--no-show-signature", "--no-color", "--format=%H %P%x00%s", "-z",
                  f"--max-count={MAX_LISTED_COMMITS + 1}", head, "--not", f"--remotes={remote}", "--")
    parents: dict[str, list[str]] = {}
    commits: list[Commit] = []
    fields = out.split(b"\0")
    for ids, subject in zip(fields[0::2], fields[1::2], strict=False):
        sha, *parent_ids = _decode(ids).strip().split()
        parents[sha] = parent_ids
        commits.append(Commit(sha, _decode(subject).strip()))
    if not commits:
        return _History(head, (), 0, None)
    listed_all = len(commits) <= MAX_LISTED_COMMITS
    base = _first_known_ancestor(head, parents)
    if base is not None and not listed_all and not _remote_has(git, base, remote):
        base = None
    count = str(len(commits)) if listed_all else f"more than {MAX_LISTED_COMMITS}"
    if base is None:
        return _History(None, (), len(commits), (
            f"{count} local commit(s) are not on '{remote}' and are NOT carried: the patch holds only the "
            f"uncommitted changes on top of {head[:12]}; push first (devin-handoff create --push) or run "
            f"`git fetch {remote}` if they are already pushed"))
    return _History(base, tuple(commits[:MAX_LISTED_COMMITS]), len(commits), None)


def _first_known_ancestor(head: str, unpushed_parents: dict[str, list[str]]) -> str | None:
    commit: str | None = head
    while commit is not None and commit in unpushed_parents:
        first_parents = unpushed_parents[commit]
        commit = first_parents[0] if first_parents else None
    return commit


def _remote_has(git: _Git, commit: str, remote: str) -> bool:
    status, out, _ = git.run("rev-list", "--max-count=1", commit, "--not", f"--remotes={remote}", "--")
    return status == 0 and not out.strip()


# ---------------------------------------------------------------------------------------------
# The diff, streamed and split per file

_DIFF_START = b"diff --git "
_READ_SIZE = 1 << 18
_DIFF_OPTIONS = ("-c", "diff.noprefix=false", "-c", "diff.mnemonicPrefix=false", "-c", "diff.suppressBlankEmpty=false",
                 "diff", "--no-color", "--no-ext-diff", "--no-textconv", "-M", "--submodule=short", "--unified=3",
                 "--src-prefix=a/", "--dst-prefix=b/")


@dataclass
class _Section:
    """One file's part of the diff while it streams by."""

    header: list[bytes] = field(default_factory=list)   # lines before the first hunk (a few, short)
    kept: bytearray | None = field(default_factory=bytearray)   # None once it cannot fit the budget
    size: int = 0
    added: int = 0
    removed: int = 0
    in_hunks: bool = False


@dataclass(frozen=True)
class _SectionResult:
    header: tuple[bytes, ...]
    added: int
    removed: int
    has_hunks: bool
    binary: bool
    omitted_reason: str | None


class _DiffSplitter:
    """Splits `git diff` output fed in chunks into per-file sections.

    +/- lines are counted as the bytes go by (bytes.count over hunk regions, not a Python loop per
    line); a section's bytes are kept only while it can still fit what is left of the budget, so
    memory stays near the budget whatever the size of the diff.
    """

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.used = 0
        self.total = 0
        self.results: list[_SectionResult] = []
        self.patch_parts: list[str] = []
        self._section: _Section | None = None
        self._pending = b""          # an incomplete line carried over to the next chunk
        self._line_start = True      # in hunks: the next byte begins a line

    def feed(self, chunk: bytes) -> None:
        self.total += len(chunk)
        data = self._pending + chunk if self._pending else chunk
        self._pending = b""
        pos = 0
        while pos < len(data):
            section = self._section
            if section is not None and section.in_hunks:
                pos = self._feed_hunks(section, data, pos)
                continue
            newline = data.find(b"\n", pos)
            if newline < 0:
                self._pending = data[pos:]
                return
            self._header_line(data[pos:newline + 1])
            pos = newline + 1

    def close(self) -> None:
        if self._pending:
            pending, self._pending = self._pending, b""
            section = self._section
            if section is not None and section.in_hunks:
                self._count_and_keep(section, pending)
            else:
                self._header_line(pending)
        self._finish()

    def _feed_hunks(self, section: _Section, data: bytes, pos: int) -> int:
        """Take hunk bytes up to the next `diff --git` line; return where the caller goes on."""
        if self._line_start and data.startswith(_DIFF_START, pos):
            self._finish()
            return pos
        found = data.find(b"\n" + _DIFF_START, pos)
        stop = found + 1 if found >= 0 else len(data)
        if found < 0:
            # A line start at the very end might be the first bytes of the next `diff --git `.
            last_newline = data.rfind(b"\n", pos)
            tail_start = last_newline + 1 if last_newline >= 0 else (pos if self._line_start else len(data))
            tail = data[tail_start:]
            if tail and len(tail) < len(_DIFF_START) and _DIFF_START.startswith(tail):
                stop = tail_start
                self._pending = tail
        self._count_and_keep(section, data[pos:stop])
        return len(data) if self._pending else stop

    def _count_and_keep(self, section: _Section, region: bytes) -> None:
        if not region:
            return
        added, removed = region.count(b"\n+"), region.count(b"\n-")
        if self._line_start:
            added += region[:1] == b"+"
            removed += region[:1] == b"-"
        section.added += added
        section.removed += removed
        self._line_start = region.endswith(b"\n")
        self._keep(section, region)

    def _header_line(self, line: bytes) -> None:
        if line.startswith(_DIFF_START):
            self._finish()
            self._section = _Section()
        section = self._section
        if section is None:
            return  # git prints nothing before the first file header
        section.header.append(line)
        self._keep(section, line)
        if line.startswith(b"@@"):
            section.in_hunks = True
            self._line_start = True

    def _keep(self, section: _Section, data: bytes) -> None:
        section.size += len(data)
        if section.kept is None:
            return
        if self.used + section.size > self.budget:
            section.kept = None  # it can no longer fit: stop holding its bytes
        else:
            section.kept += data

    def _finish(self) -> None:
        section, self._section = self._section, None
        if section is None:
            return
        binary = any(line.startswith((b"Binary files ", b"GIT binary patch")) for line in section.header)
        reason: str | None = None
        if binary:
            reason = "binary"   # git's "Binary files … differ" cannot be applied, so it stays out
        elif section.kept is None:
            reason = "size budget"
        else:
            try:
                self.patch_parts.append(section.kept.decode("utf-8"))
                self.used += section.size
            except UnicodeDecodeError:
                reason = "not UTF-8"
        self.results.append(_SectionResult(tuple(section.header), section.added, section.removed,
                                           section.in_hunks, binary, reason))


_HEADER_KEYS = (b"rename from ", b"rename to ", b"copy from ", b"copy to ", b"new file mode ",
                b"deleted file mode ", b"old mode ", b"new mode ", b"index ", b"--- ", b"+++ ")
_C_ESCAPES = {ord("a"): 7, ord("b"): 8, ord("t"): 9, ord("n"): 10, ord("v"): 11, ord("f"): 12, ord("r"): 13}


def _unquote(raw: bytes) -> bytes:
    """git's C-style quoting of odd file names ("a/t\\303\\251st") back to the raw bytes."""
    if len(raw) < 2 or not raw.startswith(b'"') or not raw.endswith(b'"'):
        return raw
    body, out, index = raw[1:-1], bytearray(), 0
    while index < len(body):
        char = body[index]
        if char == 0x5C and index + 1 < len(body):
            following = body[index + 1]
            if 0x30 <= following <= 0x37:
                out.append(int(body[index + 1:index + 4], 8) & 0xFF)
                index += 4
                continue
            out.append(_C_ESCAPES.get(following, following))
            index += 2
            continue
        out.append(char)
        index += 1
    return bytes(out)


def _marker_name(value: bytes | None, prefix: bytes) -> bytes | None:
    """The name on a `--- a/x` / `+++ b/x` line (git adds a tab after names with spaces)."""
    if value is None or value == b"/dev/null":
        return None
    value = value.removesuffix(b"\t")   # also after a quoted name: `+++ "b/say \"hi\" there"<TAB>`
    name = _unquote(value) if value.startswith(b'"') else value
    return name.removeprefix(prefix)


def _names_from_git_line(rest: bytes) -> tuple[bytes, bytes]:
    """`a/X b/Y` of a `diff --git` line; X == Y whenever there is no rename/copy line to say otherwise."""
    if rest.startswith(b'"'):
        end = _closing_quote(rest)
        first, second = rest[:end + 1], rest[end + 2:]
        return _unquote(first).removeprefix(b"a/"), _unquote(second).removeprefix(b"b/")
    half = (len(rest) - 5) // 2
    name = rest[2:2 + half]
    if rest == b"a/" + name + b" b/" + name:
        return name, name
    first, _, second = rest.partition(b" b/")
    return first.removeprefix(b"a/"), _unquote(second)


def _closing_quote(text: bytes) -> int:
    """Index of the quote that closes the C-quoted name starting at text[0]."""
    index = 1
    while index < len(text):
        if text[index] == 0x5C:
            index += 2
            continue
        if text[index] == 0x22:
            return index
        index += 1
    return len(text) - 1


def _file_change(result: _SectionResult, untracked: set[str]) -> FileChange:
    fields: dict[bytes, bytes] = {}
    for line in result.header[1:]:
        line = line.rstrip(b"\n")
        key = next((k for k in _HEADER_KEYS if line.startswith(k)), None)
        if key is not None:
            fields.setdefault(key, line[len(key):])
    moved_from = fields.get(b"rename from ", fields.get(b"copy from "))
    moved_to = fields.get(b"rename to ", fields.get(b"copy to "))
    if moved_from is not None and moved_to is not None:
        old_name, new_name = _unquote(moved_from), _unquote(moved_to)
    else:
        old_name = _marker_name(fields.get(b"--- "), b"a/")
        new_name = _marker_name(fields.get(b"+++ "), b"b/")
        if old_name is None and new_name is None:
            old_name, new_name = _names_from_git_line(result.header[0][len(_DIFF_START):].rstrip(b"\n"))
    path = _decode(new_name if new_name is not None else old_name or b"")
    status = _change_status(fields, result.has_hunks)
    moved = status in ("renamed", "copied")
    return FileChange(path=path, old_path=_decode(old_name or b"") if moved else None, status=status,
                      added=result.added, removed=result.removed, binary=result.binary,
                      untracked=path in untracked, included=result.omitted_reason is None,
                      omitted_reason=result.omitted_reason)


def _change_status(fields: dict[bytes, bytes], has_hunks: bool) -> str:
    modes = (fields.get(b"new file mode "), fields.get(b"deleted file mode "), fields.get(b"index "))
    if any(mode is not None and mode.endswith(b"160000") for mode in modes):
        return "submodule"
    if b"rename from " in fields:
        return "renamed"
    if b"copy from " in fields:
        return "copied"
    if b"new file mode " in fields:
        return "added"
    if b"deleted file mode " in fields:
        return "deleted"
    if b"old mode " in fields and not has_hunks:
        return "mode"
    return "modified"


@contextmanager
def _index_with_untracked(git: _Git, layout: _Layout, untracked: Sequence[bytes]) -> Iterator[tuple[dict, str | None]]:
    """(env, warning): an env whose GIT_INDEX_FILE is a temp copy of the index with the untracked files
    added as intent-to-add entries. The real index and the working tree are never written."""
    if not untracked:
        yield {}, None
        return
    workdir = tempfile.mkdtemp(prefix="devin-handoff-")
    try:
        index = os.path.join(workdir, "index")
        if os.path.exists(layout.index_file):
            shutil.copy2(layout.index_file, index)  # copy2 keeps the mtime, so git's racy-entry checks stay right
        listing = os.path.join(workdir, "untracked")
        with open(listing, "wb") as handle:
            handle.write(b"\0".join(untracked))
        env = {"GIT_INDEX_FILE": index}
        status, _, err = git.run("-c", "core.splitIndex=false", "add", "--intent-to-add",
                                 f"--pathspec-from-file={listing}", "--pathspec-file-nul",
                                 env={**env, "GIT_LITERAL_PATHSPECS": "1"})
        if status != 0:
            yield {}, (f"{len(untracked)} untracked file(s) are NOT carried: git could not add them to a "
                       f"temporary index ({_last_line(err)})")
        else:
            yield env, None
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# git holds a whole file in memory (both sides of a change) to diff it; a multi-GB dump next to
# the code must not cost that. Files over this size are named, not diffed.
LARGE_FILE_BYTES = 50_000_000


def _set_aside_large(root: str, untracked: Sequence[bytes]) -> tuple[list[bytes], list[bytes]]:
    """(untracked files to diff, untracked files too large to diff)."""
    small, large = [], []
    for name in untracked:
        size = _worktree_size(root, name)
        (large if size is not None and size > LARGE_FILE_BYTES else small).append(name)
    return small, large


def _worktree_size(root: str, name: bytes) -> int | None:
    """Size of a regular file in the working tree; None for anything else (missing, symlink, directory)."""
    try:
        info = os.lstat(os.path.join(os.fsencode(root), name))
    except OSError:
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) else None


def _count_lines(root: str, name: bytes) -> tuple[int, bool]:
    """(lines, binary) of a working-tree file, read in chunks; (0, False) when it cannot be read."""
    lines, binary, last = 0, False, b"\n"
    try:
        with open(os.path.join(os.fsencode(root), name), "rb") as handle:
            first = handle.read(8000)
            binary = b"\0" in first  # git's own test: a NUL in the first 8000 bytes
            chunk = first
            while chunk and not binary:
                lines += chunk.count(b"\n")
                last = chunk[-1:]
                chunk = handle.read(_READ_SIZE)
    except OSError:
        return 0, False
    if not binary and last != b"\n":
        lines += 1  # a last line without a newline still counts
    return (0 if binary else lines), binary


def _large_untracked_change(root: str, name: bytes) -> FileChange:
    lines, binary = _count_lines(root, name)
    return FileChange(path=_decode(name), old_path=None, status="added", added=lines, removed=0,
                      binary=binary, untracked=True, included=False, omitted_reason="too large")


# ---------------------------------------------------------------------------------------------
# Large tracked changes: found from `git diff --raw` (no content is read) and kept out of the diff

_RAW_STATUS = {b"A": "added", b"M": "modified", b"D": "deleted", b"T": "typechange"}
_REGULAR_MODES = (b"100644", b"100755")


@dataclass(frozen=True)
class _RawChange:
    name: bytes
    status: str
    old_blob: str | None     # the base side's blob when it is a regular file
    worktree_size: int | None


def _large_tracked(git: _Git, root: str, base: str) -> list[_RawChange]:
    """Tracked changes against `base` whose working-tree file or base blob is over LARGE_FILE_BYTES."""
    out = git.out("diff", "--raw", "-z", "--no-renames", "--no-abbrev", "--no-ext-diff", "--ignore-submodules=none",
                  base, "--")
    changes = list(_parse_raw(out, root))
    blob_sizes = _blob_sizes(git, [c.old_blob for c in changes if c.old_blob is not None])
    return [c for c in changes
            if max(c.worktree_size or 0, blob_sizes.get(c.old_blob or "", 0)) > LARGE_FILE_BYTES]


def _parse_raw(out: bytes, root: str) -> Iterator[_RawChange]:
    """`:old_mode new_mode old_sha new_sha X\\0path\\0` entries, regular files only."""
    fields = out.split(b"\0")
    for meta, name in zip(fields[0::2], fields[1::2], strict=False):
        parts = meta.lstrip(b":").split(b" ")
        if len(parts) != 5 or parts[4][:1] not in _RAW_STATUS:
            continue  # an unmerged entry (U) or anything unexpected: left to the diff
        old_mode, new_mode, old_sha, _, letter = parts
        if old_mode not in _REGULAR_MODES and new_mode not in _REGULAR_MODES:
            continue  # submodules and symlinks are small
        old_blob = _decode(old_sha) if old_mode in _REGULAR_MODES and old_sha.strip(b"0") else None
        worktree = _worktree_size(root, name) if new_mode in _REGULAR_MODES else None
        yield _RawChange(name, _RAW_STATUS[letter[:1]], old_blob, worktree)


def _blob_sizes(git: _Git, blobs: Sequence[str]) -> dict[str, int]:
    """Object sizes from one `cat-file --batch-check` (reads object headers, not contents)."""
    if not blobs:
        return {}
    out = git.feed("cat-file", "--batch-check=%(objectname) %(objectsize)",
                   data="".join(f"{blob}\n" for blob in dict.fromkeys(blobs)).encode())
    sizes = {}
    for line in _decode(out).splitlines():
        blob, _, size = line.partition(" ")
        if size.isdigit():
            sizes[blob] = int(size)
    return sizes


def _large_tracked_change(root: str, change: _RawChange) -> FileChange:
    # A new file's lines are all added; for other changes the counts would need the diff we avoid.
    lines, binary = _count_lines(root, change.name) if change.worktree_size is not None else (0, False)
    return FileChange(path=_decode(change.name), old_path=None, status=change.status,
                      added=lines if change.status == "added" else 0, removed=0, binary=binary,
                      untracked=False, included=False, omitted_reason="too large")


def _exclusions(names: Sequence[bytes]) -> list[str]:
    """Pathspecs that keep `names` out of a diff run at the top level, whatever characters they hold."""
    return [f":(exclude,literal){os.fsdecode(name)}" for name in names]


def _read_diff(git: _Git, base: str, env: dict[str, str], budget: int, exclude: Sequence[bytes] = ()) -> _DiffSplitter:
    splitter = _DiffSplitter(budget)
    if exclude:
        env = {**env, "GIT_LITERAL_PATHSPECS": "0"}  # a user's GIT_LITERAL_PATHSPECS=1 would disable the magic
    with git.stream(*_DIFF_OPTIONS, base, "--", *_exclusions(exclude), env=env) as stdout:
        while chunk := stdout.read(_READ_SIZE):
            splitter.feed(chunk)
    splitter.close()
    return splitter


# ---------------------------------------------------------------------------------------------
# The inspector


def inspect(path: str | os.PathLike[str] | None = None, *, include_untracked: bool = True,
            max_diff_bytes: int = DEFAULT_MAX_DIFF_BYTES) -> RepoContext | None:
    """What Devin needs to reproduce the checkout at `path` (default: where the user stands).

    None outside a git work tree; UsageError for a bare or broken repository. Reads only:
    the index and working tree are left exactly as they were.
    """
    if max_diff_bytes < 0:
        raise UsageError(f"the diff budget must be 0 or more bytes, not {max_diff_bytes}", "pass a positive size")
    layout = _layout(_start_dir(path))
    if layout is None:
        return None
    git = _Git(layout.root)
    status = _read_status(git, include_untracked)
    remote = _read_remote(git, status.branch)
    history = _read_history(git, status.head, remote.name)
    patch_base = history.base or status.head
    untracked, too_large = _set_aside_large(layout.root, status.untracked if include_untracked else [])
    large_tracked = _large_tracked(git, layout.root, patch_base or layout.empty_tree)
    with _index_with_untracked(git, layout, untracked) as (env, untracked_warning):
        splitter = _read_diff(git, patch_base or layout.empty_tree, env, max_diff_bytes,
                              exclude=[change.name for change in large_tracked])
    untracked_names = {_decode(name) for name in untracked} if not untracked_warning else set()
    files = tuple(_file_change(result, untracked_names) for result in splitter.results)
    files += tuple(_large_tracked_change(layout.root, change) for change in large_tracked)
    files += tuple(_large_untracked_change(layout.root, name) for name in too_large)
    submodules = tuple(dict.fromkeys([*(f.path for f in files if f.status == "submodule"), *status.submodules]))
    warnings = [w for w in (remote.warning, history.warning, untracked_warning) if w]
    warnings += _change_warnings(files, submodules, status, include_untracked, max_diff_bytes)
    return RepoContext(
        root=layout.root, remote_name=remote.name, remote_url=remote.url, host=remote.host, slug=remote.slug,
        branch=status.branch, head=status.head, base=history.base, upstream=status.upstream,
        unpushed=history.unpushed, patch_base=patch_base, patch="".join(splitter.patch_parts), files=files,
        total_diff_bytes=splitter.total, max_diff_bytes=max_diff_bytes, include_untracked=include_untracked,
        submodules=submodules, warnings=tuple(warnings), unpushed_total=history.unpushed_total)


def _names(paths: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(paths[:limit])
    return shown if len(paths) <= limit else f"{shown} and {len(paths) - limit} more"


def _change_warnings(files: Sequence[FileChange], submodules: Sequence[str], status: _Status,
                     include_untracked: bool, budget: int) -> list[str]:
    warnings = []
    by_reason: dict[str, list[str]] = {}
    for change in files:
        if change.omitted_reason:
            by_reason.setdefault(change.omitted_reason, []).append(change.path)
    if over := by_reason.get("size budget"):
        warnings.append(f"{len(over)} changed file(s) left out of the patch to keep it under {budget} bytes "
                        f"(raise --max-diff-bytes to send more): {_names(over)}")
    if odd := by_reason.get("not UTF-8"):
        warnings.append(f"{len(odd)} file(s) left out because their diff is not UTF-8 text: {_names(odd)}")
    if large := by_reason.get("too large"):
        warnings.append(f"{len(large)} file(s) over {LARGE_FILE_BYTES / 1_000_000:g} MB are named but not carried "
                        f"(too large to diff): {_names(large)}")
    if binary := by_reason.get("binary"):
        warnings.append(f"{len(binary)} binary file(s) are named but not carried: {_names(binary)}")
    if submodules:
        warnings.append("submodule changes are named (new commit pointers only) but their content is not "
                        f"carried: {_names(list(submodules))}")
    if not include_untracked and status.untracked:
        names = [_decode(name) for name in status.untracked]
        warnings.append(f"{len(names)} untracked file(s) or folder(s) are NOT carried (untracked files "
                        f"excluded): {_names(names)}")
    if status.nested_repos:
        warnings.append(f"untracked nested git repositories are NOT carried: {_names(status.nested_repos)}")
    return warnings


# ---------------------------------------------------------------------------------------------
# --push


def push_branch(ctx: RepoContext) -> None:
    """Push HEAD's branch to the inspected remote under the same name (-u when it has no upstream yet)."""
    if ctx.head is None:
        raise UsageError("nothing to push: the repository has no commits yet", "commit first")
    if ctx.branch is None:
        raise UsageError("cannot push a detached HEAD", "check out a branch first: git switch -c NAME")
    if ctx.remote_name is None:
        raise UsageError("no remote to push to", "add one: git remote add origin URL")
    args = ["push", *([] if ctx.upstream else ["--set-upstream"]), ctx.remote_name,
            f"refs/heads/{ctx.branch}:refs/heads/{ctx.branch}"]
    status, _, err = _Git(ctx.root).run(*args, quiet=False)
    if status != 0:
        raise UsageError(f"git push to {ctx.remote_name} failed: {_push_message(err)}",
                         "fix the push and retry, or hand off without --push")


def _push_message(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines()
             if line.strip().startswith(("error:", "fatal:", "! [", "remote: error", "ERROR"))]
    text = "; ".join(lines[:3]) if lines else _last_line(stderr)
    return _URL_CREDENTIALS.sub(r"\1", text)
