"""The base rule (issue #13) on real remotes: bare repos as origin and upstream, forks, never-fetched and
stale remotes, an upstream on another remote, a detached HEAD, a shallow clone; and the refusal."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest
from helpers import git, run_cli_here, write

from handoff.repo import base as base_rule
from handoff.repo import inspect
from handoff.simulator import Simulator


@pytest.fixture(autouse=True)
def _git_identity(monkeypatch):
    from helpers import GIT_ENV

    for name, value in GIT_ENV.items():
        monkeypatch.setenv(name, value)


def commit(root: Path, name: str, text: str | None = None) -> str:
    write(root, {name: text or f"{name}\n"})
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", f"add {name}")
    return git(root, "rev-parse", "HEAD").strip()


def bare(tmp: Path, name: str) -> Path:
    path = tmp / f"{name}.git"
    git(tmp, "init", "-q", "--bare", "-b", "main", str(path))
    return path


def add_remote(root: Path, name: str, path: Path, slug: str) -> None:
    """A remote whose URL looks hosted (for the slug) while git fetches from and pushes to the bare `path`."""
    url = f"https://github.com/{slug}.git"
    git(root, "remote", "add", name, url)
    git(root, "config", f"url.{path}.insteadOf", url)


def project(tmp: Path) -> tuple[Path, Path, list[str]]:
    """`upstream.git` with three commits on main, and a work clone whose 'upstream' remote tracks it."""
    seed = tmp / "seed"
    git(tmp, "init", "-q", "-b", "main", str(seed))
    shas = [commit(seed, f"f{i}.txt") for i in range(3)]
    up = bare(tmp, "upstream")
    git(seed, "push", "-q", str(up), "main")
    work = tmp / "work"
    git(tmp, "init", "-q", "-b", "main", str(work))
    add_remote(work, "upstream", up, "acme/widgets")
    git(work, "fetch", "-q", "upstream")
    git(work, "checkout", "-q", "-B", "main", "--track", "upstream/main")
    return work, up, shas


def test_fork_with_unfetched_origin_counts_only_commits_ahead_of_the_upstream(tmp_path: Path):
    work, _up, shas = project(tmp_path)
    fork = bare(tmp_path, "fork")
    git(tmp_path / "seed", "push", "-q", str(fork), f"{shas[0]}:refs/heads/main")  # the fork lags behind
    add_remote(work, "origin", fork, "me/widgets")                                 # and was never fetched
    mine = commit(work, "mine.txt")
    ctx = inspect(work)
    assert (ctx.remote_name, ctx.remote_choice, ctx.slug) == ("upstream", "upstream", "acme/widgets")
    assert ctx.base == shas[-1] and ctx.base_ref == "refs/heads/main"
    assert [c.sha for c in ctx.unpushed] == [mine] and ctx.unpushed_total == 1
    assert ctx.problems == ()


def test_upstream_on_another_remote_wins_over_a_fetched_origin(tmp_path: Path):
    work, _up, shas = project(tmp_path)
    fork = bare(tmp_path, "fork")
    add_remote(work, "origin", fork, "me/widgets")
    git(work, "checkout", "-q", "-b", "feature", "--track", "upstream/main")
    ahead = [commit(work, f"a{i}.txt") for i in range(2)]
    git(work, "push", "-q", "origin", "feature")          # on the fork, fetched (origin/feature exists)
    ctx = inspect(work)
    assert ctx.remote_name == "upstream" and ctx.upstream == "upstream/main"
    assert ctx.base == shas[-1] and [c.sha for c in ctx.unpushed] == ahead[::-1]


def test_never_fetched_remote_is_asked_with_ls_remote(tmp_path: Path):
    _work, up, shas = project(tmp_path)
    fresh = tmp_path / "fresh"
    git(tmp_path, "init", "-q", "-b", "main", str(fresh))
    git(fresh, "fetch", "-q", str(up), "main")           # the objects, but no remote-tracking refs
    git(fresh, "checkout", "-q", "-b", "main", "FETCH_HEAD")
    add_remote(fresh, "origin", up, "acme/widgets")
    mine = commit(fresh, "mine.txt")
    assert git(fresh, "for-each-ref", "refs/remotes") == ""
    ctx = inspect(fresh)
    assert ctx.base == shas[-1] and ctx.base_source == "ls-remote" and ctx.base_ref == "refs/heads/main"
    assert [c.sha for c in ctx.unpushed] == [mine] and ctx.problems == ()
    offline = inspect(fresh, offline=True)
    assert offline.base is None and offline.unpushed_total == 4
    assert [p.code for p in offline.problems] == ["base-not-on-remote"]
    assert "--push" in offline.problems[0].fix and "--allow-partial" in offline.problems[0].fix
    assert any("never fetched" in w for w in offline.warnings)


def test_stale_tracking_refs_are_corrected_by_the_remote(tmp_path: Path):
    work, up, shas = project(tmp_path)
    pushed = [commit(work, f"p{i}.txt") for i in range(2)]
    git(work, "push", "-q", str(up), "HEAD:refs/heads/main")   # by path: upstream/main is now stale
    assert git(work, "rev-parse", "upstream/main").strip() == shas[-1]
    ctx = inspect(work)
    assert ctx.base == pushed[-1] and ctx.unpushed == () and ctx.base_source == "ls-remote"
    stale = inspect(work, offline=True)
    assert stale.base == shas[-1] and len(stale.unpushed) == 2 and stale.base_source == "remote-tracking"


def test_remote_ahead_with_unfetched_commits_is_said(tmp_path: Path):
    work, up, shas = project(tmp_path)
    commit(tmp_path / "seed", "later.txt")
    git(tmp_path / "seed", "push", "-q", str(up), "main")
    mine = commit(work, "mine.txt")
    ctx = inspect(work)
    assert ctx.base == shas[-1] and [c.sha for c in ctx.unpushed] == [mine]
    assert any("has not fetched" in w and "git fetch upstream" in w for w in ctx.warnings)


def test_detached_head_uses_origin(tmp_path: Path):
    work, _up, shas = project(tmp_path)
    git(work, "remote", "rename", "upstream", "origin")
    git(work, "checkout", "-q", "--detach")
    mine = commit(work, "mine.txt")
    ctx = inspect(work)
    assert ctx.branch is None and (ctx.remote_name, ctx.remote_choice) == ("origin", "origin")
    assert ctx.base == shas[-1] and [c.sha for c in ctx.unpushed] == [mine]


def test_detached_head_with_nothing_on_the_remote_is_refused_with_a_branch_hint(tmp_path: Path):
    work, _up, _shas = project(tmp_path)
    git(work, "checkout", "-q", "--orphan", "lonely")
    commit(work, "alone.txt")
    git(work, "checkout", "-q", "--detach")
    ctx = inspect(work)
    assert ctx.base is None and [p.code for p in ctx.problems] == ["base-not-on-remote"]
    assert "git switch -c" in ctx.problems[0].fix


def test_shallow_clone(tmp_path: Path):
    _work, up, shas = project(tmp_path)
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{up}", str(shallow))
    git(shallow, "remote", "set-url", "origin", "https://github.com/acme/widgets.git")
    git(shallow, "config", f"url.{up}.insteadOf", "https://github.com/acme/widgets.git")
    mine = commit(shallow, "mine.txt")
    ctx = inspect(shallow)
    assert ctx.base == shas[-1] and [c.sha for c in ctx.unpushed] == [mine] and ctx.problems == ()


def test_the_only_remote_is_used_and_its_absence_is_a_problem(tmp_path: Path):
    work, up, shas = project(tmp_path)
    git(work, "branch", "-q", "--unset-upstream")
    git(work, "remote", "rename", "upstream", "mine")
    ctx = inspect(work)
    assert (ctx.remote_name, ctx.remote_choice, ctx.base) == ("mine", "only remote", shas[-1])
    git(work, "remote", "remove", "mine")
    lone = inspect(work)
    assert lone.remote_name is None and [p.code for p in lone.problems] == ["no-remote"]
    add_remote(work, "a", up, "acme/a")
    add_remote(work, "b", up, "acme/b")
    two = inspect(work)
    assert two.remote_name is None and "set an upstream" in two.problems[0].fix


def test_a_local_path_remote_is_not_clonable(tmp_path: Path):
    work, up, shas = project(tmp_path)
    git(work, "remote", "set-url", "upstream", str(up))
    ctx = inspect(work)
    assert ctx.base == shas[-1] and [p.code for p in ctx.problems] == ["remote-not-clonable"]


def test_unborn_head_is_a_problem(tmp_path: Path):
    up = bare(tmp_path, "upstream")
    work = tmp_path / "work"
    git(tmp_path, "init", "-q", "-b", "main", str(work))
    add_remote(work, "origin", up, "acme/widgets")
    assert [p.code for p in inspect(work).problems] == ["no-commits"]


@pytest.fixture
def silent_server():
    """A TCP server that accepts and never answers: an unreachable remote as far as git can tell."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def test_ls_remote_is_bounded_in_time(tmp_path: Path, silent_server: int, monkeypatch):
    work, _up, shas = project(tmp_path)
    git(work, "remote", "set-url", "upstream", f"http://127.0.0.1:{silent_server}/acme/widgets.git")
    commit(work, "mine.txt")
    monkeypatch.setattr(base_rule, "LS_REMOTE_TIMEOUT", 0.5)
    started = time.monotonic()
    ctx = inspect(work)
    assert time.monotonic() - started < 5
    assert ctx.base == shas[-1] and ctx.base_source == "remote-tracking"
    assert any("could not ask 'upstream'" in w and "may be stale" in w for w in ctx.warnings)


def test_ls_remote_never_prompts_for_credentials(tmp_path: Path):
    """A remote that wants a password: git is told not to ask, so it fails at once instead of waiting."""
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class Unauthorized(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Unauthorized)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        work, _up, shas = project(tmp_path)
        git(work, "remote", "set-url", "upstream", f"http://127.0.0.1:{server.server_port}/acme/widgets.git")
        commit(work, "mine.txt")
        ctx = inspect(work)
    finally:
        server.shutdown()
        server.server_close()
    assert ctx.base == shas[-1]
    assert any("could not ask 'upstream'" in w for w in ctx.warnings)


# ---------------------------------------------------------------------------------------------
# The refusal, through the CLI


@pytest.fixture
def sim():
    with Simulator(step_seconds=0.01) as simulator:
        yield simulator


def _env(sim: Simulator) -> dict[str, str]:
    return {"DEVIN_API_URL": sim.base_url, "DEVIN_API_KEY": "cog_" + "e" * 32}


def test_create_refuses_when_the_base_is_not_on_the_remote(tmp_path: Path, sim: Simulator):
    work, _up, _shas = project(tmp_path)
    git(work, "checkout", "-q", "--orphan", "lonely")
    commit(work, "alone.txt")
    # (a bundle would carry the whole orphan history: tests/test_bundle_e2e.py; without one there is no way)
    result = run_cli_here("create", "--task", "fix it", "--detach", "--no-bundle", cwd=work, env=_env(sim))
    assert result.code == 2 and len(sim.sessions) == 0
    assert "Devin could not start from your state" in result.stderr and "--push" in result.stderr
    assert "Traceback" not in result.stderr


def test_create_refuses_outside_a_repository_and_allow_partial_sends_with_a_note(tmp_path: Path, sim: Simulator):
    plain = tmp_path / "plain"
    plain.mkdir()
    refused = run_cli_here("create", "--task", "fix it", "--detach", cwd=plain, env=_env(sim))
    assert refused.code == 2 and "not in a git repository" in refused.stderr and len(sim.sessions) == 0
    sent = run_cli_here("create", "--task", "fix it", "--detach", "--allow-partial", cwd=plain, env=_env(sim))
    assert sent.code == 0 and len(sim.sessions) == 1


def test_allow_partial_says_what_is_missing_in_the_prompt(tmp_path: Path, sim: Simulator):
    work, _up, _shas = project(tmp_path)
    git(work, "remote", "remove", "upstream")
    result = run_cli_here("create", "--task", "fix it", "--detach", "--allow-partial", cwd=work, env=_env(sim))
    assert result.code == 0 and len(sim.sessions) == 1
    (session,) = sim.sessions.values()
    assert "no git remote" in session["prompt"]


def test_push_then_create_is_accepted(tmp_path: Path, sim: Simulator):
    work, up, _shas = project(tmp_path)
    git(work, "checkout", "-q", "--orphan", "feature")
    mine = commit(work, "mine.txt")
    assert [p.code for p in inspect(work).problems] == ["base-not-on-remote"]
    result = run_cli_here("create", "--task", "fix it", "--detach", "--push", cwd=work, env=_env(sim))
    assert result.code == 0, result.stderr
    assert git(up, "rev-parse", "refs/heads/feature").strip() == mine and len(sim.sessions) == 1


def test_dry_run_shows_the_refusal_without_refusing(tmp_path: Path):
    work, _up, _shas = project(tmp_path)
    git(work, "remote", "remove", "upstream")
    result = run_cli_here("create", "--task", "x", "--dry-run", cwd=work)
    assert result.code == 0 and "a real create would refuse" in result.stderr


def test_mcp_create_gets_the_same_refusal(tmp_path: Path, sim: Simulator, monkeypatch):
    from handoff.errors import UsageError
    from handoff.mcp.server import create_handoff

    for name, value in _env(sim).items():
        monkeypatch.setenv(name, value)
    work, _up, _shas = project(tmp_path)
    git(work, "remote", "remove", "upstream")
    with pytest.raises(UsageError) as refused:
        create_handoff("fix it", None, None, str(work), False, None, str(work))
    assert "no git remote" in refused.value.message and "--allow-partial" in (refused.value.hint or "")
    assert len(sim.sessions) == 0
    result = create_handoff("fix it", None, None, str(work), False, None, str(work), allow_partial=True)
    assert result.session_id and len(sim.sessions) == 1
