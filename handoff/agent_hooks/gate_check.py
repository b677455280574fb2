"""The secret gate on what a handoff command line would send, and the masked reason a hook gives for a deny.

The command's options are parsed with the CLI's own option table (handoff/cli/options.py), and the
handoff is prepared by the use case the CLI uses (handoff/app/handoff.py), so a hook sees exactly
the bytes the CLI would send.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import Any

from handoff.agent_hooks.payload import MAX_STDIN_BYTES
from handoff.agent_hooks.shell import HandoffCall, Unparsable, find_handoff_calls
from handoff.errors import mask_secrets

GATED_SUBCOMMANDS = {"create"}   # `scan` sends nothing and prints the same masked findings itself


@dataclass(frozen=True)
class GateVerdict:
    findings: tuple[Any, ...]     # handoff.gate.Finding, masked
    call: HandoffCall

    @functools.cached_property
    def found(self) -> list[str]:
        """The masked findings, listed once for both texts."""
        from handoff.app.findings import listed_findings

        findings = self.findings
        return [f"devin-handoff: this handoff would send {len(findings)} secret(s); nothing was sent. Found:",
                *listed_findings(findings, more="`devin-handoff scan` lists all")]

    def agent_reason(self) -> str:
        """What the model reads: the masked findings, and to stop and tell the user (or redact)."""
        return deny_reason(self, for_agent=True)

    def user_reason(self) -> str:
        """What the person reads: the masked findings and every way to clear them."""
        return deny_reason(self, for_agent=False)


def _parse_cli_options(call: HandoffCall) -> dict[str, Any] | None:
    """The command's options as the CLI itself would parse them; None when click would reject them."""
    from handoff.cli.options import parse_create_args

    return parse_create_args(list(call.args))


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
    from handoff.app.handoff import HandoffOptions, prepare

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


def deny_reason(verdict: GateVerdict, *, for_agent: bool) -> str:
    """Masked findings and what to do; never a secret value, and for an agent never a way past the gate."""
    from handoff.app.findings import AGENT_STOP, human_fix

    lines = list(verdict.found)
    if for_agent:
        lines.append(f"{AGENT_STOP}. If the user agrees to send the change without these values, "
                     "run the same command with --redact ([REDACTED] goes in place of each value).")
    else:
        lines.append(f"To fix: {human_fix('add --redact to send [REDACTED] in place of each value')}.")
    return mask_secrets("\n".join(lines))

