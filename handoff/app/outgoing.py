"""Use case: scan what a `git push` sends (the pre-push hook). The commits Devin will clone must not carry a
secret either; this reads git's pre-push ref lines and gates the diff of each outgoing update."""

from __future__ import annotations

from dataclasses import dataclass

from handoff import repo
from handoff.gate import Finding

PRE_PUSH_MAX_BYTES = 5_000_000   # outgoing diff scanned per ref; beyond that the notes say what was skipped
ZERO_OID = "0" * 40


@dataclass(frozen=True)
class OutgoingScan:
    findings: tuple[Finding, ...]   # masked
    notes: tuple[str, ...]          # what was not scanned, for the person pushing


def scan_outgoing(ref_lines: str, cwd: str) -> OutgoingScan:
    """Gate the diff of every ref update git's pre-push names on stdin (`<local-ref> <local-oid> <remote-ref>
    <remote-oid>` per line); deletions and malformed lines carry nothing and are passed over."""
    from handoff.gate import gate

    root = repo.git_toplevel(cwd)
    if root is None:
        return OutgoingScan((), ())
    findings: list[Finding] = []
    notes: list[str] = []
    for line in ref_lines.splitlines():
        parts = line.split()
        if len(parts) != 4 or parts[1] == ZERO_OID:
            continue
        outgoing = repo.outgoing_patch(root, parts[1], parts[3], PRE_PUSH_MAX_BYTES)
        if outgoing is None:
            continue
        patch, cut = outgoing
        if cut:
            notes.append(f"scanned only the first {PRE_PUSH_MAX_BYTES} bytes of the outgoing diff of {parts[0]}")
        findings.extend(gate(patch, {}, repo_root=root).report.findings)
    return OutgoingScan(tuple(findings), tuple(notes))
