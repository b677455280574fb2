"""git pre-push hook: scan the diff of the outgoing commits with the secret gate; a finding stops the push."""

from __future__ import annotations

from typing import Any

from handoff.errors import mask_secrets


def pre_push(stdin_text: str, cwd: str) -> tuple[int, list[str]]:
    """git pre-push: scan the diff of the outgoing commits; (1, masked findings) aborts the push."""
    from handoff.app.findings import listed_findings
    from handoff.app.outgoing import scan_outgoing

    scan = scan_outgoing(stdin_text, cwd)
    messages = [f"devin-handoff pre-push: {note}" for note in scan.notes]
    if not scan.findings:
        return 0, messages
    findings: tuple[Any, ...] = scan.findings
    messages.append(f"devin-handoff pre-push: the outgoing commits carry {len(findings)} secret(s); push stopped:")
    messages.extend(listed_findings(findings))
    messages.append("Remove them from the commits (amend or rebase), mark false positives with "
                    "`pragma: allowlist secret` or .secrets.baseline, or push with --no-verify.")
    return 1, [mask_secrets(message) for message in messages]
