"""`pickup`: a session's PR head fetched into a local branch; real repos, a bare 'remote' with refs/pull/N/head.
The command's main path runs as a real process, its refusals run `main` in this process."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import git, make_repo, write

from handoff import pickup as picker
from handoff.errors import HandoffError, UsageError

PR_URL = "https://github.com/acme/widgets/pull/7"


def push_pr(root: Path, files: dict[str, str], number: int = 7, message: str = "devin's work") -> str:
    """Play Devin: clone the bare origin, commit `files`, push to refs/pull/N/head; return the sha."""
    bare = root.parent / (root.name + "-origin.git")
    devin = root.parent / f"devin-{number}-{len(list(root.parent.iterdir()))}"
    git(root.parent, "clone", "-q", str(bare), str(devin))
    git(devin, "config", "commit.gpgsign", "false")
    existing = git(bare, "rev-parse", "--verify", "--quiet", f"refs/pull/{number}/head", check=False).strip()
    if existing:
        git(devin, "fetch", "-q", "origin", f"refs/pull/{number}/head")
        git(devin, "checkout", "-q", "FETCH_HEAD")
    write(devin, files)
    git(devin, "add", "-A")
    git(devin, "commit", "-q", "-m", message)
    git(devin, "push", "-q", "origin", f"HEAD:refs/pull/{number}/head")
    return git(devin, "rev-parse", "HEAD").strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "widgets", {"src/app.py": "def main():\n    return 1\n"})


def head_of(root: Path) -> tuple[str, str]:
    return git(root, "symbolic-ref", "--short", "HEAD").strip(), git(root, "rev-parse", "HEAD").strip()


# -- URLs -----------------------------------------------------------------------------------------------

def test_github_url_gives_the_pull_head_ref():
    pr = picker.parse_pr_url("https://github.com/Acme/Widgets/pull/42/files")
    assert (pr.kind, pr.host, pr.slug, pr.number) == ("github", "github.com", "Acme/Widgets", 42)
    assert pr.fetch_ref == "refs/pull/42/head"


def test_gitlab_url_with_subgroups_gives_the_merge_request_head_ref():
    pr = picker.parse_pr_url("https://gitlab.com/group/sub/widgets/-/merge_requests/15")
    assert (pr.kind, pr.slug, pr.number) == ("gitlab", "group/sub/widgets", 15)
    assert pr.fetch_ref == "refs/merge-requests/15/head"


def test_self_hosted_gitlab_is_known_through_the_repos_remotes():
    kinds = picker.remote_host_kinds({"origin": "git@gitlab.example.org:team/app.git"})
    pr = picker.parse_pr_url("https://gitlab.example.org/team/app/-/merge_requests/3", extra_hosts=kinds)
    assert pr.fetch_ref == "refs/merge-requests/3/head" and pr.slug == "team/app"


@pytest.mark.parametrize("url", [
    "https://bitbucket.org/acme/widgets/pull-requests/3",
    "https://github.com/acme/widgets/issues/7",
    "https://gitlab.com/acme/widgets/merge_requests/7",
    "ftp://github.com/acme/widgets/pull/7",
    "not a url",
])
def test_other_hosts_and_shapes_are_a_usage_error(url: str):
    with pytest.raises(UsageError):
        picker.parse_pr_url(url)


@pytest.mark.parametrize(("url", "expected"), [
    ("https://github.com/acme/widgets.git", ("github.com", "acme/widgets")),
    ("git@github.com:acme/widgets.git", ("github.com", "acme/widgets")),
    ("ssh://git@gitlab.com:2222/g/sub/r.git", ("gitlab.com", "g/sub/r")),
    ("https://user@GitHub.com/acme/widgets/", ("github.com", "acme/widgets")),
    ("/srv/git/widgets.git", (None, None)),
])
def test_remote_slug(url: str, expected: tuple):
    assert picker.remote_slug(url) == expected


def test_the_remote_that_hosts_the_pr_repo_wins_over_origin():
    pr = picker.parse_pr_url("https://github.com/upstream/widgets/pull/1")
    remotes = {"origin": "git@github.com:me/widgets.git", "up": "https://github.com/Upstream/widgets.git"}
    assert picker.choose_remote(pr, remotes) == "up"
    with pytest.raises(UsageError) as fork_only:  # the fork's pull/1 is another PR: never fetched instead
        picker.choose_remote(pr, {"origin": "git@github.com:me/widgets.git"})
    assert "upstream/widgets" in str(fork_only.value) and "git remote add devin" in str(fork_only.value)
    with pytest.raises(UsageError):
        picker.choose_remote(pr, {})


def test_default_branch_name_drops_the_prefix():
    assert picker.default_branch_name("devin-abc123") == "devin/abc123"


# -- git ------------------------------------------------------------------------------------------------

def test_pickup_creates_the_branch_at_the_pr_head(repo: Path):
    sha = push_pr(repo, {"src/app.py": "def main():\n    return 2\n"})
    result = picker.pickup(str(repo), picker.parse_pr_url(PR_URL), session_id="devin-abc", branch="devin/abc",
                           use_stash=False)
    assert (result.branch, result.head, result.remote, result.created, result.stashed) == \
        ("devin/abc", sha, "origin", True, False)
    assert head_of(repo) == ("devin/abc", sha)
    assert (repo / "src/app.py").read_text().endswith("return 2\n")
    assert git(repo, "for-each-ref", "refs/devin-handoff").strip() == ""  # the scratch ref is gone


def test_pickup_fast_forwards_an_existing_branch(repo: Path):
    pr = picker.parse_pr_url(PR_URL)
    first = push_pr(repo, {"a.txt": "1\n"})
    picker.pickup(str(repo), pr, session_id="devin-abc", branch="devin/abc", use_stash=False)
    git(repo, "checkout", "-q", "main")
    second = push_pr(repo, {"a.txt": "2\n"})
    result = picker.pickup(str(repo), pr, session_id="devin-abc", branch="devin/abc", use_stash=False)
    assert (result.created, result.previous, result.head) == (False, first, second)
    assert head_of(repo) == ("devin/abc", second)
    # while on the branch, too (a merge --ff-only)
    third = push_pr(repo, {"a.txt": "3\n"})
    result = picker.pickup(str(repo), pr, session_id="devin-abc", branch="devin/abc", use_stash=False)
    assert head_of(repo) == ("devin/abc", third) and result.previous == second


def test_pickup_refuses_to_move_a_diverged_branch(repo: Path):
    push_pr(repo, {"a.txt": "1\n"})
    git(repo, "branch", "devin/abc", "main")
    write(repo, {"mine.txt": "local work\n"})
    git(repo, "checkout", "-q", "devin/abc")
    git(repo, "add", "mine.txt")
    git(repo, "commit", "-q", "-m", "mine")
    mine = git(repo, "rev-parse", "HEAD").strip()
    with pytest.raises(HandoffError) as caught:
        picker.pickup(str(repo), picker.parse_pr_url(PR_URL), session_id="devin-abc", branch="devin/abc",
                      use_stash=False)
    assert "cannot be fast-forwarded" in str(caught.value) and "--branch" in str(caught.value)
    assert git(repo, "rev-parse", "devin/abc").strip() == mine


def test_dirty_tree_is_refused_and_left_alone(repo: Path):
    push_pr(repo, {"src/app.py": "def main():\n    return 2\n"})
    write(repo, {"src/app.py": "local edit\n"})
    with pytest.raises(HandoffError) as caught:
        picker.pickup(str(repo), picker.parse_pr_url(PR_URL), session_id="devin-abc", branch="devin/abc",
                      use_stash=False)
    assert "uncommitted changes" in str(caught.value) and "--stash" in str(caught.value)
    assert head_of(repo)[0] == "main" and (repo / "src/app.py").read_text() == "local edit\n"


def test_untracked_file_the_checkout_would_overwrite_is_refused(repo: Path):
    push_pr(repo, {"new/thing.py": "from devin\n"})
    write(repo, {"new/thing.py": "mine\n", "unrelated.txt": "ok\n"})
    with pytest.raises(HandoffError) as caught:
        picker.pickup(str(repo), picker.parse_pr_url(PR_URL), session_id="devin-abc", branch="devin/abc",
                      use_stash=False)
    assert "new/thing.py" in str(caught.value)
    assert (repo / "new/thing.py").read_text() == "mine\n"


def test_unrelated_untracked_files_do_not_block(repo: Path):
    sha = push_pr(repo, {"b.txt": "b\n"})
    write(repo, {"scratch.txt": "notes\n"})
    picker.pickup(str(repo), picker.parse_pr_url(PR_URL), session_id="devin-abc", branch="devin/abc",
                  use_stash=False)
    assert head_of(repo)[1] == sha and (repo / "scratch.txt").read_text() == "notes\n"


def test_stash_keeps_the_changes_recoverable(repo: Path):
    sha = push_pr(repo, {"src/app.py": "def main():\n    return 2\n"})
    write(repo, {"src/app.py": "local edit\n", "new.txt": "untracked\n"})
    result = picker.pickup(str(repo), picker.parse_pr_url(PR_URL), session_id="devin-abc", branch="devin/abc",
                           use_stash=True)
    assert result.stashed and head_of(repo) == ("devin/abc", sha)
    assert "devin-handoff pickup devin-abc" in git(repo, "stash", "list")
    assert not (repo / "new.txt").exists()
    git(repo, "checkout", "-q", "main")
    git(repo, "stash", "pop", "-q")
    assert (repo / "src/app.py").read_text() == "local edit\n" and (repo / "new.txt").exists()


def test_missing_pr_ref_is_a_one_line_reason(repo: Path):
    with pytest.raises(HandoffError) as caught:
        picker.pickup(str(repo), picker.parse_pr_url("https://github.com/acme/widgets/pull/99"),
                      session_id="devin-abc", branch="devin/abc", use_stash=False)
    assert "refs/pull/99/head" in str(caught.value) and "\n" not in str(caught.value)
    assert head_of(repo)[0] == "main"


def test_bad_branch_name_is_a_usage_error(repo: Path):
    with pytest.raises(UsageError):
        picker.pickup(str(repo), picker.parse_pr_url(PR_URL), session_id="devin-abc", branch="bad..name",
                      use_stash=False)


# -- the command, against the simulator -------------------------------------------------------------

KEY = "cog_" + "t" * 32


@pytest.fixture
def sim():
    from handoff.simulator import Simulator

    with Simulator(step_seconds=0.01) as simulator:
        yield simulator


def session_with_pr(sim, *, pr: bool = True) -> tuple[str, str | None]:
    """A simulated session for acme/widgets; waits until its PR (if any) is there."""
    import time

    from handoff.config import Settings
    from handoff.devin import DevinClient

    sim.script(steps=1, messages=[], pr=pr)
    with DevinClient(Settings(api_key=KEY, org_id=None, user_id=None, api_url=sim.base_url)) as client:
        session = client.create({"prompt": "fix it", "title": "fix it", "tags": ["handoff", "handoff-t1"],
                                 "repos": ["acme/widgets"]}, client_tag="handoff-t1")
    deadline = time.monotonic() + (5 if pr else 0)   # without a PR there is nothing to wait for
    while time.monotonic() < deadline:
        snapshot = sim.sessions[session.session_id]
        if snapshot["status"] not in ("new", "running") or snapshot["pull_requests"]:
            break
        time.sleep(0.01)
    prs = sim.sessions[session.session_id]["pull_requests"]
    return session.session_id, (prs[-1]["pr_url"] if prs else None)


def env_for(sim) -> dict[str, str]:
    return {"DEVIN_API_URL": sim.base_url, "DEVIN_API_KEY": KEY}


def test_cli_pickup_checks_out_the_pr_head(repo: Path, sim):
    from helpers import run_cli

    session_id, pr_url = session_with_pr(sim)
    number = int(pr_url.rsplit("/", 1)[1])
    assert pr_url == f"https://github.com/acme/widgets/pull/{number}"
    sha = push_pr(repo, {"src/app.py": "def main():\n    return 3\n"}, number=number)
    short = session_id.removeprefix("devin-")
    result = run_cli("pickup", f"https://app.devin.ai/sessions/{short}", "--json", cwd=repo, env=env_for(sim))
    assert result.code == 0, result.stderr
    assert result.json() == {"session_id": session_id, "pr_url": pr_url, "branch": f"devin/{short}",
                             "head": sha, "stashed": False}
    assert head_of(repo) == (f"devin/{short}", sha)
    again = run_cli("pickup", short, "--branch", "review", cwd=repo, env=env_for(sim))
    assert again.code == 0 and head_of(repo) == ("review", sha) and "created review" in again.stderr


def test_cli_pickup_dirty_tree_exit_2_then_stash(repo: Path, sim):
    from helpers import run_cli_here

    session_id, pr_url = session_with_pr(sim)
    sha = push_pr(repo, {"src/app.py": "from devin\n"}, number=int(pr_url.rsplit("/", 1)[1]))
    write(repo, {"src/app.py": "mine\n"})
    refused = run_cli_here("pickup", session_id, cwd=repo, env=env_for(sim))
    assert refused.code == 2 and "uncommitted changes" in refused.stderr and "--stash" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and "Traceback" not in refused.stderr
    stashed = run_cli_here("pickup", session_id, "--stash", "--json", cwd=repo, env=env_for(sim))
    assert stashed.code == 0, stashed.stderr
    assert stashed.json()["stashed"] is True and "git stash pop" in stashed.stderr
    assert head_of(repo)[1] == sha


def test_cli_pickup_without_a_pr_exits_2_and_names_status(repo: Path, sim):
    from helpers import run_cli_here

    session_id, pr_url = session_with_pr(sim, pr=False)
    assert pr_url is None
    result = run_cli_here("pickup", session_id, cwd=repo, env=env_for(sim))
    assert result.code == 2
    assert "no pull request" in result.stderr and f"devin-handoff status {session_id}" in result.stderr
    assert head_of(repo)[0] == "main"


def test_cli_pickup_bad_input(repo: Path, sim, tmp_path: Path):
    from helpers import run_cli_here

    assert run_cli_here("pickup", "not an id!", cwd=repo, env=env_for(sim)).code == 2
    assert run_cli_here("pickup", "devin-nosuchsession", cwd=repo, env=env_for(sim)).code == 2
    outside = tmp_path / "plain"
    outside.mkdir()
    result = run_cli_here("pickup", "devin-abc", cwd=outside, env=env_for(sim))
    assert result.code == 2 and "not in a git repository" in result.stderr


def test_cli_pickup_refuses_a_pr_of_another_repository(repo: Path, sim):
    """The session's PR is in other/thing; origin is acme/widgets, whose pull/N/head is an unrelated PR."""
    import time

    from helpers import run_cli_here

    from handoff.config import Settings
    from handoff.devin import DevinClient

    sim.script(steps=1, messages=[], pr=True)
    with DevinClient(Settings(api_key=KEY, org_id=None, user_id=None, api_url=sim.base_url)) as client:
        session = client.create({"prompt": "fix it", "tags": ["handoff-t2"], "repos": ["other/thing"]},
                                client_tag="handoff-t2")
    deadline = time.monotonic() + 5
    while not sim.sessions[session.session_id]["pull_requests"] and time.monotonic() < deadline:
        time.sleep(0.01)
    pr_url = sim.sessions[session.session_id]["pull_requests"][0]["pr_url"]
    assert pr_url.startswith("https://github.com/other/thing/pull/")
    push_pr(repo, {"src/app.py": "somebody else's PR\n"}, number=int(pr_url.rsplit("/", 1)[1]))  # acme's own
    before = head_of(repo)
    result = run_cli_here("pickup", session.session_id, cwd=repo, env=env_for(sim))
    assert result.code == 2, result.stderr
    assert "other/thing" in result.stderr and "git remote add devin https://github.com/other/thing.git" in result.stderr
    assert head_of(repo) == before  # nothing checked out
