"""Agent and git hooks: a readiness note at session start, and the secret gate run before a handoff command.

Hooks are called by Claude Code, Codex, Cursor and git with JSON (or ref lines) on stdin. They do no
network at all (journal and local gate only), and they never break the agent's session: missing or
odd input, a missing repo, or a failure of our own ends in "allow" with no output. The only
non-silent outcomes are the documented ones: the session-start context, and a deny when the gate
finds a secret in what a handoff command would send. The CLI gates again when it runs, so a hook
that cannot decide lets the command through.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from handoff.errors import mask_key, mask_secrets

MAX_STDIN_BYTES = 2_000_000
MAX_NEWS_SESSIONS = 6            # session-start shows at most this many sessions (~10 lines in all)
NEWS_MAX_AGE_SECONDS = 14 * 86400
QUESTION_CHARS = 300
MAX_LISTED_FINDINGS = 15
PRE_PUSH_MAX_BYTES = 5_000_000   # outgoing diff scanned by pre-push; beyond that we say what was skipped

HANDOFF_PROGRAMS = {"devin-handoff", "git-handoff"}
GATED_SUBCOMMANDS = {"create"}   # `scan` sends nothing and prints the same masked findings itself
SHELLS = {"sh", "bash", "zsh", "dash", "ksh"}
WRAPPERS = {"exec", "command", "nohup", "time", "builtin", "noglob", "{", "!"}
SEPARATORS = {"&&", "||", ";", "|", "&", "|&", ";;", "\n", "(", ")"}


def parse_payload(raw: bytes | str | None) -> dict[str, Any] | None:
    """The hook's stdin JSON object, or None for empty, invalid or non-object input."""
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _dumps(obj: Mapping[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False)


def _existing_dir(path: Any) -> str | None:
    return path if isinstance(path, str) and path and os.path.isdir(path) else None


def payload_cwd(payload: Mapping[str, Any]) -> str:
    """Where the agent runs the command: stdin `cwd`, else Cursor's first workspace root, else our own cwd."""
    roots = payload.get("workspace_roots")
    first_root = roots[0] if isinstance(roots, list) and roots else None
    return _existing_dir(payload.get("cwd")) or _existing_dir(first_root) or os.getcwd()


# -- finding handoff commands in a shell command line ------------------------------------------------

@dataclass(frozen=True)
class HandoffCall:
    """One `devin-handoff <subcommand> ARGS` found in a shell command, and the directory it would run in."""

    subcommand: str
    args: tuple[str, ...]
    cwd: str


class Unparsable(Exception):
    """The command line cannot be read reliably; hooks then allow it (the CLI gates anyway)."""


def shell_words(command: str) -> list[str]:
    """Shell-like tokens, with `&&`, `;`, `|`, `(`, newlines … as their own tokens."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars="();<>|&\n")
    lexer.whitespace = " \t\r"
    lexer.whitespace_split = True
    try:
        return list(lexer)
    except ValueError as exc:  # unbalanced quotes and the like
        raise Unparsable(str(exc)) from None


def _is_redirection(token: str) -> bool:
    return bool(token) and set(token) <= set("<>&|") and ("<" in token or ">" in token)


def split_commands(words: list[str]) -> Iterator[list[str]]:
    """Simple commands between separators, with redirections (`2>&1`, `> log`, `<<EOF`) removed."""
    current: list[str] = []
    skip_next = False
    for word in words:
        if skip_next:
            skip_next = False
            continue
        if word in SEPARATORS:
            if current:
                yield current
            current = []
        elif _is_redirection(word):
            if current and current[-1] in ("0", "1", "2"):
                current.pop()  # the fd number of `2>&1`
            skip_next = True
        else:
            current.append(word)
    if current:
        yield current


def _is_assignment(word: str) -> bool:
    name, sep, _ = word.partition("=")
    return bool(sep) and name.isidentifier()


def _strip_prefixes(words: list[str]) -> list[str]:
    """Drop `VAR=value`, `env [-opts] VAR=value`, `exec`, `command`, `time`, … before the program."""
    index = 0
    while index < len(words):
        word = words[index]
        if _is_assignment(word) or word in WRAPPERS:
            index += 1
        elif word == "env":
            index += 1
            while index < len(words) and words[index].startswith("-"):
                index += 1
        else:
            break
    return words[index:]


def _change_dir(cwd: str, target: str | None) -> str:
    if target is None or target == "~":
        return os.path.expanduser("~")
    if target == "-":
        raise Unparsable("cd -")
    path = os.path.join(cwd, os.path.expanduser(os.path.expandvars(target)))
    if not os.path.isdir(path):
        raise Unparsable(f"no directory {target}")
    return os.path.normpath(path)


def _git_handoff_args(args: list[str], cwd: str) -> tuple[list[str], str] | None:
    """`git [-C dir] [-c k=v] … handoff ARGS` -> (ARGS, dir); None when it is another git command."""
    index = 0
    while index < len(args):
        word = args[index]
        if word == "-C" and index + 1 < len(args):
            cwd = _change_dir(cwd, args[index + 1])
            index += 2
        elif word == "-c" and index + 1 < len(args):
            index += 2
        elif word.startswith("-"):
            index += 1
        else:
            break
    if index < len(args) and args[index] == "handoff":
        return args[index + 1:], cwd
    return None


def _handoff_args(words: list[str], cwd: str) -> tuple[list[str], str] | None:
    """The CLI's arguments when this simple command runs devin-handoff; None otherwise."""
    program = os.path.basename(words[0])
    rest = words[1:]
    if program in HANDOFF_PROGRAMS:
        return rest, cwd
    if program == "git":
        return _git_handoff_args(rest, cwd)
    if program.startswith("python") and rest[:2] == ["-m", "handoff"]:
        return rest[2:], cwd
    if program in ("uvx", "pipx") and rest:
        tail = rest[1:] if program == "pipx" and rest[0] == "run" else rest
        if tail and os.path.basename(tail[0]) in HANDOFF_PROGRAMS:
            return tail[1:], cwd
    return None


def find_handoff_calls(command: str, cwd: str, depth: int = 0) -> list[HandoffCall]:
    """Every `devin-handoff create|scan …` (or `git handoff …`) the command line would run.

    Follows `cd DIR` between commands and `sh -c '…'`. Raises Unparsable when it cannot tell.
    """
    if "handoff" not in command:  # the fast path for every unrelated command
        return []
    calls: list[HandoffCall] = []
    for simple in split_commands(shell_words(command)):
        words = _strip_prefixes(simple)
        if not words:
            continue
        program = os.path.basename(words[0])
        if program == "cd":
            cwd = _change_dir(cwd, words[1] if len(words) > 1 else None)
            continue
        if program in SHELLS and depth < 3:
            script = _shell_script(words[1:])
            if script is not None:
                calls.extend(find_handoff_calls(script, cwd, depth + 1))
            continue
        found = _handoff_args(words, cwd)
        if found is None:
            continue
        args, call_cwd = found
        if args and not args[0].startswith("-"):
            calls.append(HandoffCall(subcommand=args[0], args=tuple(args[1:]), cwd=call_cwd))
    return calls


def _shell_script(args: list[str]) -> str | None:
    """The script of `bash -c SCRIPT` / `bash -lc SCRIPT`."""
    for index, word in enumerate(args):
        if word.startswith("-") and not word.startswith("--") and "c" in word[1:]:
            return args[index + 1] if index + 1 < len(args) else None
        if not word.startswith("-"):
            return None
    return None


# -- the gate on what a handoff command would send ---------------------------------------------------

@dataclass(frozen=True)
class GateVerdict:
    findings: tuple[Any, ...]     # handoff.gate.Finding, masked
    call: HandoffCall

    def reason(self) -> str:
        return deny_reason(self)


def _parse_cli_options(call: HandoffCall) -> dict[str, Any] | None:
    """The command's options as the CLI itself would parse them; None when click would reject them."""
    import click

    from handoff.commands import create as create_module

    command = getattr(create_module, call.subcommand, None)
    if not isinstance(command, click.Command):
        return None
    try:
        with command.make_context(call.subcommand, list(call.args), resilient_parsing=True) as ctx:
            return dict(ctx.params)
    except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
        return None


def _read_context_file(path: str, cwd: str) -> str | None:
    full = os.path.join(cwd, os.path.expanduser(path))
    try:
        with open(full, encoding="utf-8", errors="replace") as handle:
            return handle.read(MAX_STDIN_BYTES)
    except OSError:
        return None


def gate_call(call: HandoffCall) -> GateVerdict | None:
    """Run the secret gate on exactly what this create would send; a verdict only when it would be blocked."""
    if call.subcommand not in GATED_SUBCOMMANDS or {"-h", "--help"} & set(call.args):
        return None
    params = _parse_cli_options(call)
    if params is None or params.get("redact"):
        return None  # unparsable (the CLI will refuse it) or --redact (the CLI sends no secret value)
    context = params.get("context")
    if context == "-":
        return None  # stdin cannot be seen from here; the CLI gates it before sending
    if params.get("context_file"):
        context = _read_context_file(params["context_file"], call.cwd)
        if context is None:
            return None
    from handoff.pipeline import HandoffOptions, prepare

    options = HandoffOptions(include_untracked=not params.get("no_untracked"),
                             max_diff_bytes=int(params.get("max_diff_bytes") or 0),
                             tags=tuple(params.get("tags") or ()))
    prepared = prepare(params.get("task") or "(handoff)", context, options, path=call.cwd)
    if not prepared.blocked:
        return None
    return GateVerdict(findings=prepared.gate.report.findings, call=call)


def check_command(command: str, cwd: str) -> GateVerdict | None:
    """The first blocked handoff in a shell command line, or None to let it run."""
    try:
        calls = find_handoff_calls(command, cwd)
    except Unparsable:
        return None
    for call in calls:
        verdict = gate_call(call)
        if verdict is not None:
            return verdict
    return None


def deny_reason(verdict: GateVerdict) -> str:
    """Masked findings and how to fix them; never a secret value."""
    from handoff.render import findings_lines

    findings = verdict.findings
    lines = [f"devin-handoff: this handoff would send {len(findings)} secret(s); nothing was sent. Found:"]
    lines.extend(findings_lines(_Report(findings[:MAX_LISTED_FINDINGS])))
    if len(findings) > MAX_LISTED_FINDINGS:
        lines.append(f"  … and {len(findings) - MAX_LISTED_FINDINGS} more (`devin-handoff scan` lists all)")
    lines.append("To fix: remove the value from the change (or keep that file out of the handoff), "
                 "mark a false positive with `pragma: allowlist secret` on its line or in .secrets.baseline, "
                 "or add --redact to send [REDACTED] in place of each value.")
    return mask_secrets("\n".join(lines))


@dataclass(frozen=True)
class _Report:
    findings: tuple[Any, ...]


def _command_text(value: Any) -> str | None:
    """tool_input.command as a string (Codex may pass an argv list such as ["bash", "-lc", "…"])."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        return shlex.join(value)
    return None


# -- the hooks -------------------------------------------------------------------------------------

def pre_tool_use(payload: Mapping[str, Any]) -> str | None:
    """Claude Code / Codex PreToolUse: deny a handoff command whose content would be blocked; else no output."""
    tool_input = payload.get("tool_input")
    if not isinstance(tool_input, dict):
        return None
    command = _command_text(tool_input.get("command"))
    if not command:
        return None
    verdict = check_command(command, payload_cwd(payload))
    if verdict is None:
        return None
    return _dumps({"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "deny",
                                          "permissionDecisionReason": verdict.reason()}})


CURSOR_ALLOW = '{"permission":"allow"}'


def cursor_before_shell(payload: Mapping[str, Any] | None) -> str:
    """Cursor beforeShellExecution: always answers, `allow` unless a handoff would be blocked."""
    command = _command_text((payload or {}).get("command"))
    if not payload or not command:
        return CURSOR_ALLOW
    verdict = check_command(command, payload_cwd(payload))
    if verdict is None:
        return CURSOR_ALLOW
    reason = verdict.reason()
    return _dumps({"permission": "deny", "user_message": reason.splitlines()[0], "agent_message": reason})


def git_toplevel(cwd: str) -> str | None:
    try:
        done = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=cwd, capture_output=True, text=True,
                              timeout=3, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    top = done.stdout.strip()
    return top if done.returncode == 0 and top else None


def session_start(payload: Mapping[str, Any], environ: Mapping[str, str] | None = None,
                  now: float | None = None) -> str:
    """SessionStart context: version, whether a key is set (never its value), this repo's session news."""
    from handoff import __version__

    env = os.environ if environ is None else environ
    key = env.get("DEVIN_API_KEY", "")
    key_line = (f"DEVIN_API_KEY is set ({mask_key(key)} key)" if key
                else "DEVIN_API_KEY is not set (`devin-handoff doctor` explains the setup)")
    lines = [f"devin-handoff {__version__} is available; {key_line}."]
    root = git_toplevel(payload_cwd(payload))
    if root:
        lines.extend(session_news(root, now=time.time() if now is None else now))
    context = mask_secrets("\n".join(lines))
    return _dumps({"hookSpecificOutput": {"hookEventName": "SessionStart", "additionalContext": context}})


def _same_path(a: str | None, b: str) -> bool:
    return bool(a) and os.path.realpath(a) == os.path.realpath(b)  # type: ignore[arg-type]


_SUCCESS = {"finished", "exit"}
_FAILED = {"error", "suspended", "expired"}


def entry_outcome(entry: Any) -> str | None:
    """The journalled outcome, or one derived from the last status seen (v3 status/detail, v1 status_enum)."""
    if entry.outcome:
        return str(entry.outcome)
    status = (entry.status or "").lower()
    detail = (entry.status_detail or "").lower()
    if status in ("error", "suspended", "exit"):
        return status
    if detail in ("finished", "waiting_for_user", "expired"):
        return detail
    if detail == "blocked" or status == "blocked":
        return "waiting_for_user"
    if status in ("finished", "expired"):
        return status
    return None


def _cut(text: str, limit: int = QUESTION_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def _news_line(entry: Any) -> str:
    outcome = entry_outcome(entry)
    name = f"{entry.session_id}" + (f" \"{_cut(entry.title, 60)}\"" if entry.title else "")
    if outcome in _SUCCESS:
        state = "finished"
    elif outcome == "waiting_for_user":
        state = "waiting for you"
    elif outcome in _FAILED:
        state = f"failed ({outcome})"
    else:
        state = f"in progress (last seen: {entry.status_detail or entry.status or 'created'})"
    line = f"- {name}: {state}"
    if entry.pr_urls:
        line += f"; PR {', '.join(entry.pr_urls[:2])}"
    line += f"; {entry.url}"
    if outcome == "waiting_for_user" and entry.last_devin_message:
        line += f"\n  Devin's last message: \"{_cut(entry.last_devin_message)}\"" \
                f" (reply with `devin-handoff send {entry.session_id} \"…\"`)"
    return line


def session_news(repo_root: str, now: float) -> list[str]:
    """Journalled sessions of this repo touched in the last two weeks: waiting ones first, then newest."""
    from handoff import journal

    entries = [e for e in journal.load_sessions() if _same_path(e.repo_root, repo_root)
               and now - max(e.updated_at or 0, e.created_at or 0) < NEWS_MAX_AGE_SECONDS]
    if not entries:
        return []
    # What needs the user first (Devin waiting for an answer), then the most recently touched.
    entries.sort(key=lambda e: (entry_outcome(e) != "waiting_for_user", -max(e.updated_at or 0, e.created_at or 0)))
    lines = [f"Devin sessions handed off from this repo (local journal, status as last seen; "
             f"`devin-handoff status ID` refreshes): {len(entries)}"]
    lines.extend(_news_line(entry) for entry in entries[:MAX_NEWS_SESSIONS])
    if len(entries) > MAX_NEWS_SESSIONS:
        lines.append(f"- … and {len(entries) - MAX_NEWS_SESSIONS} more (`devin-handoff list`)")
    return lines


# -- git pre-push ----------------------------------------------------------------------------------

ZERO_OID = "0" * 40


def _git(cwd: str, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=20, check=False,
                              encoding="utf-8", errors="replace")
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def _outgoing_base(cwd: str, local_oid: str, remote_oid: str) -> str | None:
    """What the remote already has under this push: its old oid, else the parent of the oldest outgoing commit."""
    if remote_oid != ZERO_OID and _git(cwd, "cat-file", "-e", f"{remote_oid}^{{commit}}") is not None:
        return remote_oid
    outgoing = (_git(cwd, "rev-list", "--reverse", local_oid, "--not", "--remotes") or "").split()
    if not outgoing:
        return local_oid  # nothing new: an empty range
    parent = _git(cwd, "rev-parse", "--verify", "--quiet", f"{outgoing[0]}^")
    return parent.strip() if parent else None   # None: a root commit, diff against the empty tree


def _cut_patch(patch: str, limit: int) -> tuple[str, bool]:
    if len(patch) <= limit:
        return patch, False
    cut = patch.rfind("\ndiff --git ", 0, limit)
    return (patch[: cut + 1] if cut > 0 else patch[:limit]), True


def pre_push(stdin_text: str, cwd: str) -> tuple[int, list[str]]:
    """git pre-push: scan the diff of the outgoing commits; (1, masked findings) aborts the push."""
    from handoff.gate import gate

    root = git_toplevel(cwd)
    if root is None:
        return 0, []
    messages: list[str] = []
    findings: list[Any] = []
    for line in stdin_text.splitlines():
        parts = line.split()
        if len(parts) != 4 or parts[1] == ZERO_OID:
            continue  # malformed, or a branch deletion
        local_oid, remote_oid = parts[1], parts[3]
        base = _outgoing_base(root, local_oid, remote_oid)
        if base == local_oid:
            continue
        empty_tree = (_git(root, "hash-object", "-t", "tree", "/dev/null") or "").strip()
        patch = _git(root, "diff", "--no-color", "--no-ext-diff", base or empty_tree, local_oid) or ""
        patch, cut = _cut_patch(patch, PRE_PUSH_MAX_BYTES)
        if cut:
            messages.append(f"devin-handoff pre-push: scanned only the first {PRE_PUSH_MAX_BYTES} bytes "
                            f"of the outgoing diff of {parts[0]}")
        findings.extend(gate(patch, {}, repo_root=root).report.findings)
    if not findings:
        return 0, messages
    from handoff.render import findings_lines

    messages.append(f"devin-handoff pre-push: the outgoing commits carry {len(findings)} secret(s); push stopped:")
    messages.extend(findings_lines(_Report(tuple(findings[:MAX_LISTED_FINDINGS]))))
    messages.append("Remove them from the commits (amend or rebase), mark false positives with "
                    "`pragma: allowlist secret` or .secrets.baseline, or push with --no-verify.")
    return 1, [mask_secrets(message) for message in messages]
