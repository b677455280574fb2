"""Secret gate (detect-secrets): nothing leaves the machine before it has passed over those exact bytes.

CONTRACT (owned by the secret-gate work; the CLI, the hooks and the MCP server rely on these names).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    source: str      # file path inside the patch, or "task" / "context" / "commits" for those texts
    line: int        # 1-based; new-file line for +/context lines, old-file line for - lines, line in a text
    kind: str        # detect-secrets type ("AWS Access Key", …) or "Sensitive file"
    preview: str     # masked; never the value


@dataclass(frozen=True)
class ScanReport:
    findings: tuple[Finding, ...]
    allowed: int             # matches let through by .secrets.baseline or `pragma: allowlist secret`
    scanned_bytes: int
    redacted: bool = False   # True when --redact replaced the findings' values in what is sent

    @property
    def blocked(self) -> bool:
        return bool(self.findings) and not self.redacted


@dataclass(frozen=True)
class GateResult:
    report: ScanReport
    patch: str                   # the patch as given, or redacted
    texts: dict[str, str]        # the texts as given, or redacted


def gate(patch: str, texts: Mapping[str, str], *, repo_root: str | None, redact: bool = False) -> GateResult:
    raise NotImplementedError
