"""The MCP server in process (`mcp.Client(server)`) against the simulator on 127.0.0.1, in real git repos."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import anyio
import pytest
from helpers import make_repo, run_cli, run_cli_here, write

from handoff import journal
from handoff.simulator import Simulator

# Fake, real-shaped: AWS's documented example key id.
AWS_KEY = "AKIAIOSFODNN7EXAMPLE"  # pragma: allowlist secret
V3_KEY = "cog_" + "t" * 32
TOOLS = {"handoff_create", "handoff_status", "handoff_messages", "handoff_send", "handoff_list"}


# The MCP SDK takes ~0.6 s of CPU to import: every xdist worker collects this module, only one that runs these
# tests should pay for it.
def Client(*args, **kwargs):
    from mcp import Client as client

    return client(*args, **kwargs)


def StdioServerParameters(**kwargs):
    from mcp import StdioServerParameters as parameters

    return parameters(**kwargs)


def build_server(**kwargs):
    from handoff.mcp.server import build_server as build

    return build(**kwargs)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch):
    with Simulator(step_seconds=0.02) as simulator:
        monkeypatch.setenv("DEVIN_API_KEY", V3_KEY)
        monkeypatch.setenv("DEVIN_API_URL", simulator.base_url)
        monkeypatch.setenv("DEVIN_ORG_ID", simulator_org(simulator))
        yield simulator


def simulator_org(simulator: Simulator) -> str:
    return getattr(simulator, "org_id", "org-sim")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = make_repo(tmp_path / "widgets", {"src/app.py": "def main():\n    return 1\n"})
    write(root, {"src/app.py": "def main():\n    return 2\n", "notes.txt": "new\n"})
    return root


def create_posts(simulator: Simulator) -> list[dict]:
    return [r for r in simulator.requests if r["method"] == "POST" and r["path"].endswith("/sessions")]


@pytest.mark.anyio
async def test_tools_are_listed_with_honest_annotations():
    async with Client(build_server()) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(tools) == TOOLS
    for name in ("handoff_status", "handoff_messages", "handoff_list"):
        assert tools[name].annotations.read_only_hint is True, name
    for name in ("handoff_create", "handoff_send"):
        annotations = tools[name].annotations
        assert annotations.read_only_hint is False and annotations.destructive_hint is False, name
        assert annotations.idempotent_hint is False and annotations.open_world_hint is True, name
    assert tools["handoff_create"].output_schema["properties"]["session_id"]
    assert "task" in tools["handoff_create"].input_schema["required"]
    assert "roots" not in tools["handoff_create"].input_schema["properties"]  # asked of the client, not the model


@pytest.mark.anyio
async def test_create_returns_at_once_and_the_session_gets_the_prompt(sim: Simulator, repo: Path):
    sim.script(end="finished", steps=3, messages=["On it", "Done: tests pass"])
    async with Client(build_server(cwd=str(repo))) as client:
        result = await client.call_tool("handoff_create", {"task": "Fix the off-by-one", "tags": ["ci"]})
    assert not result.is_error, result.content
    data = result.structured_content
    assert data["session_id"].startswith("devin-") and data["url"].startswith("http")
    assert data["handoff_id"].startswith("handoff-")
    assert data["repository"] == "acme/widgets"
    assert sorted(data["files_sent"]) == ["notes.txt", "src/app.py"]
    (post,) = create_posts(sim)
    assert post["body"]["prompt"].startswith("## Task\n\n```text\nFix the off-by-one")
    assert "+    return 2" in post["body"]["prompt"]
    assert "ci" in post["body"]["tags"] and data["handoff_id"] in post["body"]["tags"]
    assert journal.get_session(data["session_id"]) is not None  # journalled like a CLI create


@pytest.mark.anyio
async def test_a_planted_secret_blocks_the_create_with_masked_findings(sim: Simulator, repo: Path):
    write(repo, {"src/settings.py": f'REGION = "eu"\nAWS_ACCESS_KEY_ID = "{AWS_KEY}"\n'})
    async with Client(build_server()) as client:
        result = await client.call_tool("handoff_create", {"task": "fix", "repo_path": str(repo)})
    assert result.is_error
    text = " ".join(getattr(item, "text", "") for item in result.content)
    assert "src/settings.py:2" in text and "nothing was sent" in text
    assert AWS_KEY not in text
    assert create_posts(sim) == []


@pytest.mark.anyio
async def test_a_blocked_create_tells_the_agent_to_stop_and_the_person_how_to_fix(
        sim: Simulator, repo: Path, capsys: pytest.CaptureFixture[str]):
    write(repo, {"src/settings.py": f'AWS_ACCESS_KEY_ID = "{AWS_KEY}"\n'})
    async with Client(build_server(cwd=str(repo))) as client:
        result = await client.call_tool("handoff_create", {"task": "fix"})
    agent_text = " ".join(getattr(item, "text", "") for item in result.content)
    assert result.is_error and "src/settings.py:1" in agent_text
    assert "tell the user" in agent_text and "redact=true" in agent_text
    assert "allowlist" not in agent_text and "baseline" not in agent_text
    person = capsys.readouterr().err  # the client's server log, for the person
    assert "pragma: allowlist secret" in person and ".secrets.baseline" in person and "src/settings.py:1" in person
    assert AWS_KEY not in agent_text + person


@pytest.mark.anyio
async def test_redact_sends_without_the_value(sim: Simulator, repo: Path):
    write(repo, {"src/settings.py": f'AWS_ACCESS_KEY_ID = "{AWS_KEY}"\n'})
    async with Client(build_server(cwd=str(repo))) as client:
        result = await client.call_tool("handoff_create", {"task": "fix", "redact": True})
    assert not result.is_error, result.content
    assert result.structured_content["redacted_secrets"] >= 1
    (post,) = create_posts(sim)
    assert AWS_KEY not in post["body"]["prompt"]


@pytest.mark.anyio
@pytest.mark.parametrize("key", [V3_KEY, "apk_user_" + "v" * 24], ids=["v3", "v1"])
async def test_messages_with_cursor_status_send_and_list(sim: Simulator, repo: Path, key: str,
                                                         monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DEVIN_API_KEY", key)
    sim.script(end="finished", steps=3, messages=["Looking at it"], question="Which branch should I target?")
    async with Client(build_server(cwd=str(repo))) as client:
        created = (await client.call_tool("handoff_create", {"task": "Ship the fix"})).structured_content
        session_id = created["session_id"]
        seen: list[str] = []
        cursor = None
        # Devin asks a question, then waits for us.
        with anyio.fail_after(10):
            while True:
                page = (await client.call_tool("handoff_messages",
                                               {"session_id": session_id, "cursor": cursor})).structured_content
                seen.extend(m["event_id"] for m in page["messages"])
                texts = [m["text"] for m in page["messages"]]
                cursor = page["cursor"]
                if page["done"] or any("Which branch" in t for t in texts):
                    break
                await anyio.sleep(0.03)
        status = (await client.call_tool("handoff_status", {"session_id": session_id})).structured_content
        assert status["outcome"] == "waiting_for_user" and status["done"] is True
        sent = await client.call_tool("handoff_send", {"session_id": session_id, "message": "Target main"})
        assert not sent.is_error and sent.structured_content["sent"] is True
        with anyio.fail_after(10):
            while True:
                page = (await client.call_tool("handoff_messages",
                                               {"session_id": session_id, "cursor": cursor})).structured_content
                seen.extend(m["event_id"] for m in page["messages"])
                cursor = page["cursor"]
                if page["outcome"] == "finished":
                    break
                await anyio.sleep(0.03)
        listed = (await client.call_tool("handoff_list", {})).structured_content["sessions"]
        url_form = await client.call_tool("handoff_status", {"session_id": created["url"]})
    assert len(seen) == len(set(seen)) >= 2  # no message returned twice across calls
    assert page["pull_requests"] and page["pull_requests"][0]["url"].startswith("https://github.com/")
    assert any(m["text"] == "Target main" for m in sim.sessions[session_id]["messages"])
    mine = [s for s in listed if s["session_id"] == session_id]
    assert mine and mine[0]["handed_off_here"] is True and mine[0]["repository"] == "acme/widgets"
    assert url_form.structured_content["session_id"] == session_id
    entry = journal.get_session(session_id)
    assert entry.outcome == "finished" and entry.pr_urls  # the session-start news sees it


@pytest.mark.anyio
@pytest.mark.parametrize("key", [V3_KEY, "apk_user_" + "v" * 24], ids=["v3", "v1"])
async def test_status_shows_devins_last_message_for_both_key_kinds(sim: Simulator, repo: Path, key: str,
                                                                   monkeypatch: pytest.MonkeyPatch):
    # Only handoff_status is called (no handoff_messages first), so the journal cannot stand in for the API.
    monkeypatch.setenv("DEVIN_API_KEY", key)
    sim.script(end="finished", steps=3, messages=["Looking at it", "All done"])
    async with Client(build_server(cwd=str(repo))) as client:
        session_id = (await client.call_tool("handoff_create", {"task": "Ship it"})).structured_content["session_id"]
        with anyio.fail_after(10):
            while True:
                status = (await client.call_tool("handoff_status", {"session_id": session_id})).structured_content
                if status["done"]:
                    break
                await anyio.sleep(0.03)
    assert status["outcome"] == "finished" and status["last_devin_message"] == "All done"


@pytest.mark.anyio
async def test_list_joins_the_journal_like_the_cli(sim: Simulator, repo: Path, monkeypatch: pytest.MonkeyPatch,
                                                  fake_clock):
    async with Client(build_server(cwd=str(repo))) as client:
        session_id = (await client.call_tool("handoff_create", {"task": "Ship it"})).structured_content["session_id"]
        monkeypatch.setenv("DEVIN_API_URL", "http://127.0.0.1:9")  # the API is gone: the journal still answers
        listed = (await client.call_tool("handoff_list", {})).structured_content
    cli = run_cli_here("list", "--json", env={"DEVIN_API_URL": "http://127.0.0.1:9", "DEVIN_API_KEY": V3_KEY})
    (mine,) = [s for s in listed["sessions"] if s["session_id"] == session_id]
    assert mine["live"] is False and mine["handed_off_here"] is True and mine["repository"] == "acme/widgets"
    assert listed["warning"] and "127.0.0.1" in listed["warning"]
    assert [row["session_id"] for row in cli.json()["sessions"]] == [s["session_id"] for s in listed["sessions"]]


@pytest.mark.anyio
async def test_errors_are_one_line_tool_errors(sim: Simulator, repo: Path, monkeypatch: pytest.MonkeyPatch):
    async with Client(build_server(cwd=str(repo))) as client:
        missing = await client.call_tool("handoff_status", {"session_id": "devin-doesnotexist"})
        bad_id = await client.call_tool("handoff_status", {"session_id": "not a session"})
        monkeypatch.setenv("DEVIN_API_KEY", "cog_invalid_" + "x" * 20)
        unauthorized = await client.call_tool("handoff_list", {})
        monkeypatch.delenv("DEVIN_API_KEY")
        no_key = await client.call_tool("handoff_create", {"task": "x"})
    for result in (missing, bad_id, unauthorized, no_key):
        assert result.is_error
        text = result.content[0].text
        assert "Error executing tool" in text and "\n" not in text and "x" * 20 not in text
    assert "DEVIN_API_KEY is not set" in no_key.content[0].text


@pytest.mark.anyio
async def test_unreachable_api_is_a_tool_error_and_the_handoff_is_saved(repo: Path, monkeypatch: pytest.MonkeyPatch):
    with Simulator() as simulator:
        dead_url = simulator.base_url  # a port that was just closed
    monkeypatch.setenv("DEVIN_API_KEY", V3_KEY)
    monkeypatch.setenv("DEVIN_ORG_ID", "org-sim")
    monkeypatch.setenv("DEVIN_API_URL", dead_url)
    import handoff.devin.client as api
    from handoff.runtime import FakeClock

    real_init = api.DevinClient.__init__

    def quick(self, settings, **kwargs):  # keep the retry budget short for the test
        real_init(self, settings, **{**kwargs, "retry_budget": 0.5, "runtime": FakeClock().runtime()})

    monkeypatch.setattr(api.DevinClient, "__init__", quick)
    async with Client(build_server(cwd=str(repo))) as client:
        result = await client.call_tool("handoff_create", {"task": "x"})
    assert result.is_error and "retry" in result.content[0].text
    assert len(journal.load_outbox()) == 1


@pytest.mark.anyio
async def test_stdio_server_starts_and_lists_tools(tmp_path: Path):
    params = StdioServerParameters(command=sys.executable, args=["-m", "handoff", "mcp"], cwd=str(tmp_path))
    with anyio.fail_after(30):
        async with Client(params) as client:
            tools = {tool.name for tool in (await client.list_tools()).tools}
    assert tools == TOOLS


def stdio_server(cwd: Path) -> StdioServerParameters:
    """`devin-handoff mcp` as a client host starts it: a process on stdio, the environment passed on."""
    return StdioServerParameters(command=sys.executable, args=["-m", "handoff", "mcp"], cwd=str(cwd),
                                 env=dict(os.environ))


def offering_roots(*paths: Path):
    """A client's roots/list answer: the folders it has open, as file:// URIs."""
    async def list_roots(_context):
        from mcp import types

        return types.ListRootsResult(roots=[types.Root(uri=path.as_uri(), name=path.name) for path in paths])

    return list_roots


async def create_over_stdio(cwd: Path, arguments: dict, roots: tuple[Path, ...] | None = None):
    callback = offering_roots(*roots) if roots is not None else None
    with anyio.fail_after(60):
        async with Client(stdio_server(cwd), list_roots_callback=callback) as client:
            return await client.call_tool("handoff_create", arguments)


@pytest.mark.anyio
async def test_stdio_create_hands_off_the_clients_root(sim: Simulator, repo: Path, tmp_path: Path):
    elsewhere = tmp_path / "server-cwd"
    elsewhere.mkdir()
    result = await create_over_stdio(elsewhere, {"task": "Fix the off-by-one"}, roots=(tmp_path / "docs", repo))
    assert not result.is_error, result.content
    assert result.structured_content["repository"] == "acme/widgets"
    (post,) = create_posts(sim)
    assert "+    return 2" in post["body"]["prompt"]


@pytest.mark.anyio
async def test_stdio_repo_path_is_read_against_the_clients_root(sim: Simulator, tmp_path: Path):
    workspace = tmp_path / "workspace"
    make_repo(workspace / "service", {"main.go": "package main\n"})
    write(workspace / "service", {"main.go": "package main // edited\n"})
    result = await create_over_stdio(tmp_path, {"task": "x", "repo_path": "service"}, roots=(workspace,))
    assert not result.is_error, result.content
    assert result.structured_content["files_sent"] == ["main.go"]


@pytest.mark.anyio
@pytest.mark.parametrize("layout", ["no-roots", "roots-without-git", "two-checkouts", "repo-path-not-git"])
async def test_stdio_create_refuses_without_a_single_git_checkout(sim: Simulator, repo: Path, tmp_path: Path,
                                                                 layout: str):
    plain = tmp_path / "plain"
    plain.mkdir()
    other = make_repo(tmp_path / "other", {"a.txt": "a\n"})
    roots, arguments = {
        "no-roots": (None, {"task": "x"}),
        "roots-without-git": ((plain,), {"task": "x"}),
        "two-checkouts": ((repo, other), {"task": "x"}),
        "repo-path-not-git": ((repo,), {"task": "x", "repo_path": str(plain)}),
    }[layout]
    result = await create_over_stdio(plain, arguments, roots=roots)
    text = result.content[0].text
    assert result.is_error and ("git" in text and "repo_path" in text), text
    assert create_posts(sim) == []  # no context-free session, no ACUs spent


@pytest.mark.anyio
async def test_stdio_two_checkouts_and_a_repo_path_picks_that_one(sim: Simulator, repo: Path, tmp_path: Path):
    other = make_repo(tmp_path / "other", {"a.txt": "a\n"})
    result = await create_over_stdio(tmp_path, {"task": "x", "repo_path": str(repo)}, roots=(repo, other))
    assert not result.is_error, result.content
    assert result.structured_content["repository"] == "acme/widgets"


def test_without_the_mcp_extra_the_command_says_how_to_install(tmp_path: Path):
    fake = tmp_path / "no-mcp" / "mcp"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named 'mcp'\", name='mcp')\n")
    result = run_cli("mcp", env={"PYTHONPATH": str(fake.parent)}, input="")
    assert result.code == 4
    assert "pip install 'devin-handoff[mcp]'" in result.stderr
    assert result.stdout == ""
