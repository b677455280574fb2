"""The secret gate: nothing leaves the machine before it has passed over those exact bytes.

Public names (the rest of the package uses only these): `gate`, `GateResult`, `ScanReport`,
`Finding`, `mask`, `is_sensitive_path`, `binary_key_kind`, `SENSITIVE_FILE`. `engine` walks the patch and
texts; `detectors` routes lines to detect-secrets' plugins (the pre-filter), `plugin_loader` loads them,
`filters` drops their false positives; `catalogue` holds the token formats as data, `rules` their shape and
example generators, `plugins` the detect-secrets plugins made from them; `structure` turns structures into
lines the plugins read;
`sensitive` knows files that are secrets by name or by their first bytes; `baseline` is what a repo lets through
(`.secrets.baseline`, `pragma: allowlist secret`).
"""

from handoff.gate.engine import SENSITIVE_FILE, Finding, GateResult, ScanReport, gate, mask
from handoff.gate.sensitive import binary_key_kind, is_sensitive_path

__all__ = ["SENSITIVE_FILE", "Finding", "GateResult", "ScanReport", "binary_key_kind", "gate", "is_sensitive_path",
           "mask"]
