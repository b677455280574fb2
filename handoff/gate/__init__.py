"""The secret gate: nothing leaves the machine before it has passed over those exact bytes.

Public names (the rest of the package uses only these): `gate`, `GateResult`, `ScanReport`,
`Finding`, `mask`, `is_sensitive_path`, `SENSITIVE_FILE`. `engine` walks the patch and texts;
`detectors` is the detect-secrets side (plugins, pre-filter, false-positive filters); `catalogue`
holds the token formats as data, `rules` their shape and example generators, `plugins` the
detect-secrets plugins made from them; `structure` turns structures into lines the plugins read.
"""

from handoff.gate.engine import SENSITIVE_FILE, Finding, GateResult, ScanReport, gate, is_sensitive_path, mask

__all__ = ["SENSITIVE_FILE", "Finding", "GateResult", "ScanReport", "gate", "is_sensitive_path", "mask"]
