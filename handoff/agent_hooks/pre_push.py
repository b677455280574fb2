"""git pre-push hook: scan the diff of the outgoing commits with the secret gate; a finding stops the push."""

from __future__ import annotations

import subprocess
from typing import Any

from handoff.agent_hooks.agent import git_toplevel
from handoff.agent_hooks.gate_check import MAX_LISTED_FINDINGS, _Report
from handoff.errors import mask_secrets

PRE_PUSH_MAX_BYTES = 5_000_000   # outgoing diff scanned; beyond that we say what was skipped
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
    from handoff.app.handoff import findings_lines

    messages.append(f"devin-handoff pre-push: the outgoing commits carry {len(findings)} secret(s); push stopped:")
    messages.extend(findings_lines(_Report(tuple(findings[:MAX_LISTED_FINDINGS]))))
    messages.append("Remove them from the commits (amend or rebase), mark false positives with "
                    "`pragma: allowlist secret` or .secrets.baseline, or push with --no-verify.")
    return 1, [mask_secrets(message) for message in messages]
