"""The secret gate: nothing leaves the machine before it has passed over those exact bytes.

Public names (the rest of the package uses only these): `gate`, `GateResult`, `ScanReport`,
`Finding`, `mask`, `is_sensitive_path`, `SENSITIVE_FILE`. `engine` walks the patch and texts;
`detectors` is the detect-secrets side (plugins, pre-filter, false-positive filters).
"""

from handoff.gate.engine import SENSITIVE_FILE, Finding, GateResult, ScanReport, gate, is_sensitive_path, mask

__all__ = ["SENSITIVE_FILE", "Finding", "GateResult", "ScanReport", "gate", "is_sensitive_path", "mask"]
