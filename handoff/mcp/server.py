"""MCP server (`devin-handoff mcp`, stdio): the use cases of handoff/app/, as tools an agent can call.

`handoff_create` returns as soon as the session exists; an agent then follows it with
`handoff_messages` and the cursor each call returns, so it never re-reads a message and never
blocks in one long call. The checkout handed off is the tool's `repo_path`, else the client's MCP
roots, else the server's working directory; with no git repository there, the tool refuses rather
than start a session without context. Failures a user can act on (no key, 401, unreachable API, a secret in
the handoff) come back as tool errors with the CLI's one-line message; findings are masked, and a
blocked handoff tells the agent to stop and tell the user (the ways to clear a finding go to stderr).
Blocking HTTP and git work runs in worker threads so the server keeps answering. stdout is the
protocol: everything else goes to stderr through `logging`.

Needs the optional extra: `pip install 'devin-handoff[mcp]'`.
"""

import functools
import logging
import os
import sys
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import anyio.to_thread
from mcp.server import MCPServer
from mcp.server.mcpserver import Context, ListRoots, Resolve
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ListRootsResult, ToolAnnotations
from pydantic import BaseModel, Field

from handoff import __version__
from handoff.errors import HandoffError, SecretsBlocked, UsageError, mask_secrets
from handoff.repo import git_toplevel

log = logging.getLogger("devin_handoff.mcp")
T = TypeVar("T")

INSTRUCTIONS = (
    "Hand a task, with the exact state of the local git checkout (branch, base commit, uncommitted and "
    "untracked changes), to a cloud Devin session. handoff_create returns at once with the session id; "
    "then call handoff_messages with the cursor it returned last time until `done` is true (wait a little "
    "between calls). If Devin waits for an answer, reply with handoff_send. Nothing is sent when the "
    "secret gate finds a secret in the handoff."
)


# -- results (each model is the tool's output schema) -----------------------------------------------

class LeftOutFile(BaseModel):
    path: str
    reason: str


class CreateResult(BaseModel):
    session_id: str = Field(description="Devin session id (devin-…); pass it to the other tools.")
    url: str = Field(description="The session in Devin's web app.")
    status: str
    handoff_id: str = Field(description="This handoff's client tag (handoff-…), also a session tag.")
    title: str
    repository: str | None = Field(description="owner/repo Devin works on; None outside a git repository.")
    branch: str | None
    base_commit: str | None = Field(description="Commit on the remote the patch applies to.")
    files_sent: list[str] = Field(description="Changed files whose diff was sent.")
    files_left_out: list[LeftOutFile] = Field(description="Changed files left out of the patch, and why.")
    redacted_secrets: int = Field(description="Secrets replaced by [REDACTED …] (only with redact=true).")
    warnings: list[str]
    next_step: str


class PullRequestInfo(BaseModel):
    url: str
    state: str | None = None


class StatusResult(BaseModel):
    session_id: str
    url: str
    status: str = Field(description="Raw API status (v3: new/claimed/running/exit/error/suspended/resuming).")
    status_detail: str | None
    outcome: str | None = Field(description="None while Devin works; else finished, waiting_for_user, "
                                            "waiting_for_approval (the user must approve an action in the web "
                                            "app), asleep (suspended, not failed), exit; or error, suspended "
                                            "(stopped for credits/quota), expired.")
    next_step: str | None = Field(default=None, description="What the user should do now, if anything.")
    done: bool = Field(description="True once Devin stopped (finished, waiting for you, or failed).")
    title: str | None
    pull_requests: list[PullRequestInfo]
    last_devin_message: str | None
    created_at: str | int | None
    updated_at: str | int | None


class MessageInfo(BaseModel):
    event_id: str
    text: str
    created_at: str | int | None


class MessagesResult(BaseModel):
    session_id: str
    messages: list[MessageInfo] = Field(description="Devin's messages after the given cursor, oldest first.")
    cursor: str | None = Field(description="Pass this back as `cursor` next time to get only newer messages.")
    status: str
    status_detail: str | None
    outcome: str | None
    done: bool = Field(description="True once Devin stopped; no need to call again unless you reply.")
    pull_requests: list[PullRequestInfo]
    next_step: str | None = Field(default=None, description="What the user should do now, if anything.")


class SendResult(BaseModel):
    session_id: str
    sent: bool
    next_step: str


class ListedSession(BaseModel):
    session_id: str
    url: str
    status: str | None = Field(description="Raw API status; as last seen when `live` is false.")
    status_detail: str | None
    outcome: str | None
    title: str | None
    pull_requests: list[PullRequestInfo]
    repository: str | None = Field(description="From the local journal when handed off from this machine.")
    branch: str | None
    handed_off_here: bool = Field(description="True when this machine's journal holds it.")
    live: bool = Field(description="True when the status comes from the API now, false when from the journal.")
    created_at: str | int | float | None
    next_step: str | None = None


class ListResult(BaseModel):
    sessions: list[ListedSession]
    warning: str | None = Field(default=None, description="Why only the local journal is shown, if so.")


# -- the work, in plain blocking functions (run in worker threads) -----------------------------------

def _require_settings(cwd: str | None) -> Any:
    from handoff.app.settings import load_settings

    settings = load_settings(cwd=cwd)
    settings.require_key()
    return settings


def _client(cwd: str | None = None) -> Any:
    from handoff.app.launch import open_client

    return open_client(_require_settings(cwd))


def _session_id(text: str) -> str:
    from handoff.devin.ids import normalize_session_id

    return normalize_session_id(text.strip())


def _pull_requests(session: Any) -> list[PullRequestInfo]:
    return [PullRequestInfo(url=pr.url, state=pr.state) for pr in session.pull_requests]


def _checkout(repo_path: str | None, roots: list[str], cwd: str) -> str:
    """The git checkout a handoff is prepared in: `repo_path` (relative to the only root, or to `cwd`),
    else the one client root that is a git checkout, else `cwd`. No repository: a refusal, never a
    session without context."""
    if repo_path:
        base = roots[0] if len(roots) == 1 else cwd
        path = os.path.normpath(os.path.join(base, os.path.expanduser(repo_path)))
        if not os.path.isdir(path):
            raise UsageError(f"repo_path {repo_path} is not a directory", "pass the path of a git checkout")
        if git_toplevel(path) is None:
            raise UsageError(f"repo_path {repo_path} is not inside a git repository",
                             "pass the path of a git checkout")
        return path
    if roots:
        checkouts = [root for root in roots if os.path.isdir(root) and git_toplevel(root)]
        if len(checkouts) == 1:
            return checkouts[0]
        if len(checkouts) > 1:
            raise UsageError(f"the client has {len(checkouts)} git checkouts open ({', '.join(checkouts)})",
                             "pass repo_path to say which one to hand off")
        raise UsageError("none of the client's roots is a git repository (" + ", ".join(roots) + ")",
                         "pass repo_path: the git checkout to hand off")
    if git_toplevel(cwd) is None:
        raise UsageError(f"no git repository at {cwd} (the server's working directory)",
                         "pass repo_path: the git checkout to hand off")
    return cwd


def _blocked_message(prepared: Any) -> str:
    """For the agent: masked findings, stop and tell the user, or retry with redact. Never a way past the gate."""
    from handoff.app.findings import blocked_error, findings_lines
    from handoff.app.handoff import bundle_blocked

    report = prepared.gate.report
    error = blocked_error(redact="call again with redact=true", for_agent=True,
                          bundle="call again with bundle=false" if bundle_blocked(prepared) else None)
    lines = [f"{error.message}. {len(report.findings)} secret(s) found in what would be sent:",
             *findings_lines(report), f"{error.hint}."]
    return "\n".join(lines)


def _tell_the_person(prepared: Any) -> None:
    """The ways to clear a finding, for the person: the client's server log (stderr), not the model."""
    from handoff.app.findings import findings_lines, human_fix

    lines = ["devin-handoff: a handoff was blocked by the secret gate:", *findings_lines(prepared.gate.report),
             f"To fix: {human_fix('ask the agent to call handoff_create again with redact=true')}."]
    print(mask_secrets("\n".join(lines)), file=sys.stderr, flush=True)


def create_handoff(task: str, context: str | None, tags: list[str] | None, repo_path: str | None, redact: bool,
                   max_diff_bytes: int | None, cwd: str, allow_partial: bool = False,
                   roots: list[str] | None = None, bundle: bool | None = None) -> CreateResult:
    """Inspect, gate, build and post one handoff (the CLI's `create --detach`)."""
    from handoff.app.handoff import HandoffOptions, prepare, refuse_unreproducible
    from handoff.app.launch import create_session
    from handoff.limits import DEFAULT_MAX_DIFF_BYTES

    if not task or not task.strip():
        raise UsageError("no task given", "pass `task`: what Devin should do")
    path = _checkout(repo_path, roots or [], cwd)
    settings = _require_settings(path)
    options = HandoffOptions(max_diff_bytes=DEFAULT_MAX_DIFF_BYTES if max_diff_bytes is None else max_diff_bytes,
                             redact=redact, tags=tuple(tags or ()), api_version=settings.api_version,
                             user_id=settings.user_id, allow_partial=allow_partial,
                             bundle="auto" if bundle is None else "on" if bundle else "off")
    prepared = prepare(task, context, options, path=path)
    refuse_unreproducible(prepared, options)   # the same refusal as the CLI's, as a tool error
    if prepared.blocked:
        _tell_the_person(prepared)
        raise SecretsBlocked(_blocked_message(prepared))
    client, session = create_session(prepared.request, settings, prepared.journal_meta(), bundle=prepared.bundle)
    client.close()
    return _create_result(prepared, session)


def _create_result(prepared: Any, session: Any) -> CreateResult:
    repo = prepared.repo
    files = repo.files if repo else ()
    notes = list(repo.warnings) if repo else []
    report = prepared.gate.report
    redacted = len(report.findings) if report.redacted else 0
    if redacted:
        notes.append(f"{redacted} secret(s) were replaced by [REDACTED …] in what was sent")
    return CreateResult(
        session_id=session.session_id, url=session.url, status=session.status,
        handoff_id=prepared.request.client_tag, title=prepared.request.title,
        repository=repo.slug if repo else None, branch=repo.branch if repo else None,
        base_commit=repo.base if repo else None,
        files_sent=[f.path for f in files if f.included],
        files_left_out=[LeftOutFile(path=f.path, reason=f.omitted_reason or "left out") for f in files
                        if not f.included],
        redacted_secrets=redacted, warnings=notes,
        next_step=f"call handoff_messages with session_id {session.session_id} (no cursor the first time) "
                  "to read Devin's messages; open the URL to watch",
    )


def session_status(session_id: str, cwd: str) -> StatusResult:
    from handoff.app.sessions import look

    sid = _session_id(session_id)
    with _client(cwd) as client:
        snapshot = look(client, sid)
    session = snapshot.session
    return StatusResult(
        session_id=session.session_id, url=session.url, status=session.status, status_detail=session.status_detail,
        outcome=session.outcome, done=session.outcome is not None, title=session.title,
        pull_requests=_pull_requests(session), last_devin_message=snapshot.last_devin_message,
        created_at=session.created_at, updated_at=session.updated_at, next_step=snapshot.next_step,
    )


def session_messages(session_id: str, cursor: str | None, cwd: str) -> MessagesResult:
    from handoff.app.sessions import messages_since

    sid = _session_id(session_id)
    with _client(cwd) as client:
        new = messages_since(client, sid, cursor)
    session = new.session
    return MessagesResult(
        session_id=session.session_id,
        messages=[MessageInfo(event_id=m.event_id, text=mask_secrets(m.text), created_at=m.created_at)
                  for m in new.messages],
        cursor=new.cursor,
        status=session.status, status_detail=session.status_detail,
        outcome=session.outcome, done=session.outcome is not None, pull_requests=_pull_requests(session),
        next_step=new.next_step,
    )


def send_message(session_id: str, message: str, cwd: str) -> SendResult:
    if not message or not message.strip():
        raise UsageError("empty message", "pass the text to send to Devin")
    sid = _session_id(session_id)
    with _client(cwd) as client:
        client.send(sid, message)
    return SendResult(session_id=sid, sent=True,
                      next_step="call handoff_messages with your last cursor to read Devin's answer")


def list_handoffs(cwd: str) -> ListResult:
    """The CLI's `list`: the journal joined with the API; without a working key, the journal alone."""
    from handoff.app.sessions import list_handoffs as join
    from handoff.app.settings import load_settings

    listing = join(load_settings(cwd=cwd))
    if listing.auth_error is not None:
        raise listing.auth_error
    listed = []
    for row in listing.rows:
        data = row.to_json()
        listed.append(ListedSession(
            session_id=row.session_id, url=data["url"], status=data["status"], status_detail=data["status_detail"],
            outcome=data["outcome"], title=data["title"],
            pull_requests=[PullRequestInfo(url=url) for url in data["pull_requests"]] if row.live is None
            else _pull_requests(row.live),
            repository=data["repo"], branch=data["branch"], handed_off_here=row.entry is not None,
            live=row.live is not None, created_at=data["created_at"], next_step=data["next_step"],
        ))
    return ListResult(sessions=listed, warning=listing.warning)


async def _in_thread(func: Callable[..., T], *args: Any) -> T:
    """Run blocking work off the event loop; a user-fixable failure becomes the tool's one-line error."""
    try:
        return await anyio.to_thread.run_sync(functools.partial(func, *args))
    except HandoffError as exc:
        raise ToolError(str(exc)) from None


def ask_for_roots(ctx: Context) -> ListRoots | ListRootsResult:
    """Resolver: the client's roots (`roots/list`, sent the way the negotiated protocol wants) when the
    client declares the capability; no roots otherwise, so the call never fails for want of them."""
    capabilities = ctx.client_capabilities
    if capabilities is None or capabilities.roots is None:
        return ListRootsResult(roots=[])
    return ListRoots()


def root_paths(listed: ListRootsResult) -> list[str]:
    """The local directories among the client's roots (file:// URIs)."""
    from urllib.parse import unquote, urlparse

    paths = []
    for root in listed.roots:
        uri = urlparse(str(root.uri))
        if uri.scheme == "file" and uri.path:
            paths.append(os.path.normpath(unquote(uri.path)))
    return paths


# -- the server --------------------------------------------------------------------------------------

_READ = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True)


def build_server(cwd: str | None = None) -> MCPServer:
    """The MCP server; handoffs are prepared in `cwd` (default: the process's working directory at each call)."""
    server = MCPServer("devin-handoff", title="Devin Handoff", version=__version__, instructions=INSTRUCTIONS)

    def workdir() -> str:
        return cwd or os.getcwd()

    @server.tool(title="Hand off a task to Devin", annotations=ToolAnnotations(
        read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True))
    async def handoff_create(
        task: Annotated[str, Field(description="What Devin should do.")],
        ctx: Context,
        context: Annotated[str | None, Field(description="What you learned so far (findings, failed "
                                                         "attempts, constraints).")] = None,
        tags: Annotated[list[str] | None, Field(description="Extra session tags.")] = None,
        repo_path: Annotated[str | None, Field(description="The git checkout to hand off (default: the "
                                                           "client's root that is a git checkout, else the "
                                                           "server's working directory).")] = None,
        redact: Annotated[bool, Field(description="Replace found secrets with [REDACTED …] and send, "
                                                  "instead of refusing.")] = False,
        max_diff_bytes: Annotated[int | None, Field(ge=0, description="Size budget for the patch "
                                                                      "(default 100000).")] = None,
        allow_partial: Annotated[bool, Field(description="Send even when Devin cannot rebuild the checkout "
                                                         "(no remote, base not pushed).")] = False,
        roots: Annotated[ListRootsResult, Resolve(ask_for_roots)] = None,  # type: ignore[assignment]
        bundle: Annotated[bool | None, Field(description="Attach a git bundle of the exact state (default: when "
                                                         "the text patch cannot carry it).")] = None,
    ) -> CreateResult:
        """Create a cloud Devin session with this task and the exact state of the git checkout.

        Runs the secret gate first: if the diff, task or context holds a secret, nothing is sent and
        the error lists where (file:line, masked); then stop and tell the user. Refuses when there
        is no git checkout to hand off. Returns at once; follow with handoff_messages.
        """
        await ctx.report_progress(1, total=2, message="Inspecting the checkout and scanning for secrets")
        result = await _in_thread(create_handoff, task, context, tags, repo_path, redact, max_diff_bytes,
                                  workdir(), allow_partial, root_paths(roots), bundle)
        await ctx.report_progress(2, total=2, message=f"Created {result.session_id}")
        return result

    @server.tool(title="Devin session status", annotations=_READ)
    async def handoff_status(
        session_id: Annotated[str, Field(description="devin-…, the bare id, or the session URL.")],
    ) -> StatusResult:
        """One look at a session: status, whether Devin stopped, PR links, Devin's last message if known."""
        return await _in_thread(session_status, session_id, workdir())

    @server.tool(title="Devin's new messages", annotations=_READ)
    async def handoff_messages(
        session_id: Annotated[str, Field(description="devin-…, the bare id, or the session URL.")],
        cursor: Annotated[str | None, Field(description="The cursor from the previous call; omit the "
                                                        "first time.")] = None,
    ) -> MessagesResult:
        """Devin's messages since `cursor`, the new cursor, and the session status (`done` once Devin stopped).

        Call again with the returned cursor to wait for more; no message is returned twice.
        """
        return await _in_thread(session_messages, session_id, cursor, workdir())

    @server.tool(title="Reply to Devin", annotations=ToolAnnotations(
        read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True))
    async def handoff_send(
        session_id: Annotated[str, Field(description="devin-…, the bare id, or the session URL.")],
        message: Annotated[str, Field(description="The text to send to Devin.")],
    ) -> SendResult:
        """Send a message to a session (answers a question; with a cog_ key it wakes a sleeping session)."""
        return await _in_thread(send_message, session_id, message, workdir())

    @server.tool(title="List handoff sessions", annotations=_READ)
    async def handoff_list() -> ListResult:
        """Handoff sessions: this machine's journal joined with the sessions tagged `handoff` the API knows."""
        return await _in_thread(list_handoffs, workdir())

    return server


def main() -> None:
    """Serve over stdio until the client closes the connection."""
    log.info("devin-handoff %s MCP server on stdio", __version__)
    build_server().run()
