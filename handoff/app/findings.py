"""How a secret-gate finding is shown, to a person and to a coding agent: masked lines, JSON, the error.

Every face (CLI, MCP server, agent hooks, pre-push) reports findings through these, so a value never
reaches a terminal or an agent, not even inside a file name. Light to import: the gate is loaded only
when there are file names to show.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from handoff.errors import SecretsBlocked

MAX_LISTED_FINDINGS = 15   # what a hook's answer lists; `devin-handoff scan` lists all
# What to do about a blocked handoff, for a person; each face adds how its user asks for redaction.
FIX_FINDINGS = "remove the values, mark false positives with `pragma: allowlist secret` or .secrets.baseline"
# The same for a coding agent (a hook's deny reason, an MCP tool error). It never names a way past
# the gate: an agent told about allowlist comments once added one and the real key went out.
AGENT_STOP = ("Do not edit, annotate, move or delete anything to get past this check. "
              "Stop and tell the user what was found; they decide whether it is a real secret")


# Characters that must not reach a terminal raw from a file name: C0/C1 controls (escape sequences, a
# newline that fakes a line) and format characters (bidi overrides that reorder what is shown).
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\x1b": "\\e"}


def _escape_controls(name: str) -> str:
    import unicodedata

    shown = []
    for char in name:
        if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp"):
            code = ord(char)
            shown.append(_NAMED_ESCAPES.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"))
        else:
            shown.append(char)
    return "".join(shown)


def safe_names(names: Iterable[str]) -> dict[str, str]:
    """How each file name may be shown: a secret in it redacted by the gate, control characters escaped."""
    unique = list(dict.fromkeys(names))
    if not unique:
        return {}
    escaped = [_escape_controls(name) for name in unique]
    from handoff.gate import gate  # only when there are names to show

    redacted = gate("", {"file names": "\n".join(escaped)}, repo_root=None, redact=True).texts["file names"]
    shown = redacted.split("\n")
    return dict(zip(unique, shown if len(shown) == len(unique) else escaped, strict=True))


def findings_lines(report: Any) -> list[str]:
    """One line per secret finding: place, type and masked preview — never the value (not even in a file name)."""
    return _lines(report.findings)


def listed_findings(findings: Sequence[Any], more: str | None = None) -> list[str]:
    """The first MAX_LISTED_FINDINGS findings as lines, then how many more there are (for a hook's short answer)."""
    lines = _lines(findings[:MAX_LISTED_FINDINGS])
    if len(findings) > MAX_LISTED_FINDINGS:
        lines.append(f"  … and {len(findings) - MAX_LISTED_FINDINGS} more" + (f" ({more})" if more else ""))
    return lines


def _lines(findings: Sequence[Any]) -> list[str]:
    names = safe_names(finding.source for finding in findings)
    return [f"  {names[finding.source]}:{finding.line}: {finding.kind}  {finding.preview}" for finding in findings]


def findings_json(report: Any) -> dict[str, Any]:
    return {
        "blocked": report.blocked,
        "redacted": report.redacted,
        "allowed": report.allowed,
        "scanned_bytes": report.scanned_bytes,
        "findings": [{"file": f.source, "line": f.line, "type": f.kind, "preview": f.preview}
                     for f in report.findings],
    }


def blocked_error(what: str = "nothing was sent", redact: str = "pass --redact", *,
                  for_agent: bool = False, bundle: str | None = None) -> SecretsBlocked:
    """The error a blocked handoff ends with (exit 3); the findings are shown by the face before it.

    `for_agent`: the hint a coding agent reads (stop, tell the user, or redact), without the
    allowlist advice that a person gets. `bundle`: how this face leaves the bundle out, when the findings
    are in it (git objects cannot be redacted, so --redact alone cannot clear them)."""
    if bundle:
        what = f"{what} (the git bundle carries secrets, and a bundle cannot be redacted)"
        redact = f"{bundle} to send the text patch alone ({redact} to redact it)"
    if for_agent:
        return SecretsBlocked(f"blocked by the secret gate; {what}",
                              f"{AGENT_STOP}; if the user agrees, {redact} to send [REDACTED] in place of each value")
    return SecretsBlocked(f"blocked by the secret gate; {what}", f"{FIX_FINDINGS}, or {redact}")


def human_fix(redact: str = "pass --redact") -> str:
    """How a person clears a blocked handoff (shown to the user only, never to the agent)."""
    return f"{FIX_FINDINGS}, or {redact}"
