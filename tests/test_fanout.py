"""`create --each FILE`: many tasks over one inspected, gated repo state, created concurrently, followed together.

The CLI runs as a subprocess against the simulator; two cases run in process to count inspections and to
make the API client's retry sleeps instant.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import pytest
from helpers import make_repo, run_cli, write

from handoff import journal
from handoff.app import fanout
from handoff.app.handoff import HandoffOptions
from handoff.cli.fanout import run_each
from handoff.cli.render import Output
from handoff.config import Settings
from handoff.errors import UsageError
from handoff.simulator import Simulator
from handoff.tags import HANDOFF_TAG

KEY = "cog_" + "f" * 32
AWS_KEY = "AKIAIOSFODNN7EXAMPLE"  # pragma: allowlist secret
PATCH = re.compile(r"(`{3,})diff\n(.*?)\n\1", re.S)


@pytest.fixture
def sim():
    with Simulator(step_seconds=0.02) as simulator:
        simulator.script(steps=2, messages=["On it."])
        yield simulator


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = make_repo(tmp_path / "widgets", {"src/app.py": "def main():\n    return 1\n", "docs/guide.md": "hi\n"})
    write(root, {"src/app.py": "def main():\n    return 2\n"})
    return root


def env_for(sim: Simulator) -> dict[str, str]:
    return {"DEVIN_API_URL": sim.base_url, "DEVIN_API_KEY": KEY}


def tasks_file(root: Path, text: str) -> str:
    path = root.parent / "tasks.txt"
    path.write_text(text)
    return str(path)


def patch_of(prompt: str) -> str:
    match = PATCH.search(prompt)
    assert match, prompt
    return match.group(2)


def creates(sim: Simulator) -> list[dict]:
    return [r for r in sim.requests if r["method"] == "POST" and r["path"].endswith("/sessions")]


# -- parsing and overlap (unit) -------------------------------------------------------------------------

def test_plain_lines_skip_blanks_and_comments():
    tasks = fanout.parse_tasks("# tasks\nFix the login bug\n\n   \nWrite docs  \n# done\n")
    assert [(t.index, t.line, t.task) for t in tasks] == [(1, 2, "Fix the login bug"), (2, 5, "Write docs")]
    assert tasks[1].label == "#2"


def test_json_lines_carry_context_and_tags_and_mix_with_plain_lines():
    tasks = fanout.parse_tasks('{"task": "A", "context": "ctx", "tags": ["x", "y"]}\nB\n{"task": "C", "tags": "z"}\n')
    assert [(t.task, t.context, t.tags) for t in tasks] == [("A", "ctx", ("x", "y")), ("B", None, ()),
                                                            ("C", None, ("z",))]


@pytest.mark.parametrize(("text", "needle"), [
    ("", "no tasks"),
    ("# only a comment\n", "no tasks"),
    ('{"task": "A",\n', "tasks:1: not valid JSON"),
    ('ok\n{"taks": "typo"}\n', "tasks:2: unknown key(s) taks"),
    ('{"task": ""}\n', "no task"),
    ('{"task": "A", "tags": [1]}\n', "tags must be"),
    ('{"task": "A", "context": 3}\n', "context must be"),
    ("{not json}\n", "not valid JSON"),
    ("t\n" * (fanout.MAX_TASKS + 1), "at most"),
])
def test_bad_task_files_are_usage_errors(text: str, needle: str):
    with pytest.raises(UsageError) as caught:
        fanout.parse_tasks(text)
    assert needle in str(caught.value)


def test_named_paths_ignore_urls_and_prose_slashes(tmp_path: Path):
    (tmp_path / "README.md").write_text("hi\n")
    text = ("Fix src/app.py and ./lib/util.js, see https://github.com/acme/x/blob/y.py, and/or docs/ and the docs;"
            " README.md, Node.js")
    assert fanout.named_paths(text, root=str(tmp_path)) == {"src/app.py", "lib/util.js", "docs", "README.md"}
    # a changed file counts when the task names it by its file name
    assert fanout.named_paths("touch app.py only", changed=("src/app.py", "src/other.py")) == {"src/app.py"}


def test_overlap_pairs_include_directory_containment():
    tasks = fanout.parse_tasks("Refactor src/\nFix src/app.py\nWrite docs/guide.md\n")
    pairs = fanout.overlaps(tasks, None)
    assert [(a.label, b.label, paths) for a, b, paths in pairs] == [("#1", "#2", ["src/app.py"])]


def test_task_and_each_are_exclusive():
    with pytest.raises(UsageError):
        fanout.check_args("a task", "tasks.txt", None)
    with pytest.raises(UsageError):
        fanout.check_args(None, "-", "-")
    fanout.check_args(None, "tasks.txt", "-")


# -- the command ----------------------------------------------------------------------------------------

def test_three_tasks_three_sessions_same_patch_own_titles(repo: Path, sim: Simulator):
    path = tasks_file(repo, "Fix the flaky test\nAdd a changelog entry\n# skipped\n\nSpeed up the build\n")
    result = run_cli("create", "--each", path, "--detach", "--json", "--tag", "team", cwd=repo, env=env_for(sim))
    assert result.code == 0, result.stderr
    lines = result.json_lines()
    assert [line["task"] for line in lines] == [1, 2, 3] and all(line["event"] == "created" for line in lines)
    sessions = sim.sessions
    assert len(sessions) == 3 == len(creates(sim))
    by_id = {sid: sessions[sid] for sid in (line["session_id"] for line in lines)}
    titles = [by_id[line["session_id"]]["title"] for line in lines]
    assert titles == ["Fix the flaky test", "Add a changelog entry", "Speed up the build"]
    patches = {patch_of(s["prompt"]) for s in by_id.values()}
    assert len(patches) == 1 and "+    return 2" in patches.pop()
    tags = [by_id[line["session_id"]]["tags"] for line in lines]
    assert all(HANDOFF_TAG in t and "team" in t for t in tags)
    client_tags = {tag for t in tags for tag in t if re.fullmatch(r"handoff-[0-9a-f]{12}", tag)}
    assert len(client_tags) == 3  # each handoff has its own client tag
    assert {e.session_id for e in journal.load_sessions()} == set(by_id)  # the CLI shares this test's state dir


def test_human_output_prints_one_url_per_task(repo: Path, sim: Simulator):
    path = tasks_file(repo, "First\nSecond\n")
    result = run_cli("create", "--each", path, "--detach", cwd=repo, env=env_for(sim))
    assert result.code == 0, result.stderr
    urls = result.stdout.splitlines()
    assert len(urls) == 2 and all(re.match(r"https://app\.devin\.ai/sessions/\S+  #\d ", u) for u in urls)
    assert "devin-handoff tail devin-" in result.stderr


def test_json_lines_tasks_from_stdin_with_their_own_tags_and_context(repo: Path, sim: Simulator):
    text = '{"task": "Fix login", "tags": ["auth"], "context": "users see a 500"}\n{"task": "Fix signup"}\n'
    result = run_cli("create", "--each", "-", "--detach", "--json", cwd=repo, env=env_for(sim), input=text)
    assert result.code == 0, result.stderr
    first, second = (sim.sessions[line["session_id"]] for line in result.json_lines())
    assert "auth" in first["tags"] and "auth" not in second["tags"]
    assert "users see a 500" in first["prompt"] and "users see a 500" not in second["prompt"]


def test_one_blocked_task_blocks_all(repo: Path, sim: Simulator):
    path = tasks_file(repo, f"Fix the flaky test\nDeploy with key {AWS_KEY}\nSpeed up the build\n")
    result = run_cli("create", "--each", path, "--detach", cwd=repo, env=env_for(sim))
    assert result.code == 3
    assert "#2 task:1" in result.stderr and "no session was created" in result.stderr
    assert AWS_KEY not in result.stdout + result.stderr
    assert creates(sim) == [] and sim.sessions == {}


def test_secret_in_the_shared_patch_is_reported_once(repo: Path, sim: Simulator):
    write(repo, {"config.py": f'AWS_ACCESS_KEY_ID = "{AWS_KEY}"\n'})
    result = run_cli("create", "--each", tasks_file(repo, "a\nb\nc\n"), "--json", cwd=repo, env=env_for(sim))
    assert result.code == 3 and result.stderr.count("config.py:1") == 1
    assert [line["task"] for line in result.json_lines()] == [1, 2, 3] and sim.sessions == {}


def test_overlapping_tasks_get_a_warning(repo: Path, sim: Simulator):
    path = tasks_file(repo, "Fix rounding in src/app.py\nAdd type hints to app.py\nWrite docs/guide.md\n")
    result = run_cli("create", "--each", path, "--dry-run", cwd=repo)
    assert result.code == 0, result.stderr
    assert "tasks #1 and #2 both name src/app.py" in result.stderr
    assert "#3" not in result.stderr.split("both name")[0].splitlines()[-1]


def test_429_on_create_still_gives_exactly_n_sessions(repo: Path, sim: Simulator):
    sim.inject("create", "429", times=3, retry_after=0)
    result = run_cli("create", "--each", tasks_file(repo, "one\ntwo\nthree\nfour\nfive\n"), "--detach", "--json",
                     cwd=repo, env=env_for(sim))
    assert result.code == 0, result.stderr
    assert len(sim.sessions) == 5 and len(creates(sim)) == 5 + 3
    assert len({line["session_id"] for line in result.json_lines()}) == 5


def test_following_together_prefixes_each_line(repo: Path, sim: Simulator):
    sim.script(steps=2, messages=["Working on it."], end="finished")
    result = run_cli("create", "--each", tasks_file(repo, "one\ntwo\n"), "--interval", "1", cwd=repo,
                     env=env_for(sim), timeout=60)
    assert result.code == 0, result.stderr
    for label in ("[#1]", "[#2]"):
        assert any(line.startswith(label) and "Working on it." in line for line in result.stderr.splitlines())


def test_following_json_tags_events_with_the_task_and_a_bad_end_exits_1(repo: Path, sim: Simulator):
    sim.script(steps=2, messages=["Trying."], end="error")
    result = run_cli("create", "--each", tasks_file(repo, "one\ntwo\n"), "--interval", "1", "--json", cwd=repo,
                     env=env_for(sim), timeout=60)
    assert result.code == 1, result.stderr
    events = result.json_lines()
    assert {e["task"] for e in events} == {1, 2}
    assert {e["task"] for e in events if e.get("event") == "end"} == {1, 2}


def test_task_with_each_is_a_usage_error(repo: Path):
    result = run_cli("create", "--task", "t", "--each", "x.txt", cwd=repo)
    assert result.code == 2 and "--each" in result.stderr
    missing = run_cli("create", "--each", "nope.txt", "--dry-run", cwd=repo)
    assert missing.code == 2 and "nope.txt" in missing.stderr


# -- in process -----------------------------------------------------------------------------------------

def settings_for(sim: Simulator) -> Settings:
    return Settings(api_key=KEY, org_id=None, user_id=None, api_url=sim.base_url)


def test_the_repo_is_inspected_once(repo: Path, sim: Simulator, monkeypatch, capsys):
    from handoff import repo as inspector

    calls = []
    real = inspector.inspect
    monkeypatch.setattr(inspector, "inspect", lambda *a, **k: calls.append(1) or real(*a, **k))
    monkeypatch.chdir(repo)
    code = run_each(tasks_file(repo, "a\nb\nc\n"), None, HandoffOptions(), settings_for(sim),
                    Output(json_mode=True), detach=True)
    assert code == 0 and len(calls) == 1 and len(sim.sessions) == 3
    assert len(capsys.readouterr().out.splitlines()) == 3


def test_a_failed_create_is_saved_and_exits_5(repo: Path, sim: Simulator, monkeypatch, capsys):
    from handoff.app import launch
    from handoff.runtime import FakeClock

    monkeypatch.setattr(launch, "open_client", functools.partial(launch.open_client, runtime=FakeClock().runtime()))
    sim.inject("create", "503", times=8)  # every attempt of the first create (one worker: deterministic)
    monkeypatch.chdir(repo)
    code = run_each(tasks_file(repo, "a\nb\nc\n"), None, HandoffOptions(), settings_for(sim),
                    Output(json_mode=True), detach=True, workers=1)
    assert code == 5
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(line["task"], line["event"]) for line in lines] == [(1, "create_failed"), (2, "created"),
                                                                 (3, "created")]
    assert len(sim.sessions) == 2
    assert [item.client_tag for item in journal.load_outbox()] == [lines[0]["handoff_id"]]


def test_each_refuses_a_state_devin_cannot_rebuild_like_create(tmp_path: Path, sim: Simulator):
    lonely = make_repo(tmp_path / "lonely", {"a.txt": "one\n"}, remote=None)   # nothing Devin could clone
    path = tasks_file(lonely, "first\nsecond\n")
    result = run_cli("create", "--each", path, "--detach", cwd=lonely, env=env_for(sim))
    assert result.code == 2 and "Devin could not start from your state" in result.stderr
    assert creates(sim) == []
    sent = run_cli("create", "--each", path, "--detach", "--allow-partial", cwd=lonely, env=env_for(sim))
    assert sent.code == 0, sent.stderr
    assert len(creates(sim)) == 2


def test_each_fits_the_prompt_budget_on_a_change_as_large_as_the_budget(repo: Path, sim: Simulator):
    write(repo, {f"src/module_{i}.py": "    total = compute(alpha, beta) + offset  # the next step\n" * 90
                 for i in range(25)})   # ~125 KB of change: the patch must give way to the facts
    path = tasks_file(repo, "first\nsecond\n")
    result = run_cli("create", "--each", path, "--detach", cwd=repo, env=env_for(sim))
    assert result.code == 0, result.stderr
    assert all(len(c["body"]["prompt"].encode()) <= 100_000 for c in creates(sim))
