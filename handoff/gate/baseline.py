"""What a repo lets through the gate: its detect-secrets `.secrets.baseline` (hashed secrets per file, unless
audited `"is_secret": true`, and its exclude-files / exclude-lines / exclude-secrets regex filters) and
detect-secrets' inline `pragma: allowlist secret` / `pragma: allowlist nextline secret` comments.

The baseline is read as data, never with detect-secrets' `baseline.load()`, which would apply its settings
(verification over the network, plugins imported from the repo)."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from handoff.errors import ConfigError
from handoff.gate.detectors import BASELINE_NAME
from handoff.lazy_regex import lazy_compile


@dataclass(frozen=True)
class Baseline:
    """What a repo's detect-secrets `.secrets.baseline` lets through."""

    hashes: Mapping[str, frozenset[str]] = field(default_factory=dict)   # filename -> sha1 of allowed values
    exclude_files: tuple[re.Pattern[str], ...] = ()
    exclude_lines: tuple[re.Pattern[str], ...] = ()
    exclude_secrets: tuple[re.Pattern[str], ...] = ()

    def allows(self, path: str, value: str) -> bool:
        allowed = self.hashes.get(path)
        return bool(allowed) and hashlib.sha1(value.encode("utf-8", "replace")).hexdigest() in allowed

    def excludes_file(self, path: str) -> bool:
        return any(pattern.search(path) for pattern in self.exclude_files)

    def excludes_line(self, line: str) -> bool:
        return any(pattern.search(line) for pattern in self.exclude_lines)

    def excludes_secret(self, value: str) -> bool:
        return any(pattern.search(value) for pattern in self.exclude_secrets)


_REGEX_FILTERS = {
    "detect_secrets.filters.regex.should_exclude_file": "exclude_files",
    "detect_secrets.filters.regex.should_exclude_line": "exclude_lines",
    "detect_secrets.filters.regex.should_exclude_secret": "exclude_secrets",
}


def load_baseline(repo_root: str | None) -> Baseline:
    """Read `<repo_root>/.secrets.baseline`; an empty Baseline when there is none."""
    if not repo_root:
        return Baseline()
    path = os.path.join(repo_root, BASELINE_NAME)
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        return _parse_baseline(data)
    except FileNotFoundError:
        return Baseline()
    except (OSError, ValueError, TypeError, AttributeError, re.error) as error:
        raise ConfigError(f"{BASELINE_NAME} is not a readable detect-secrets baseline ({error})",
                          hint="fix it with `detect-secrets scan --baseline .secrets.baseline`") from None


def _parse_baseline(data: dict) -> Baseline:
    hashes: dict[str, set[str]] = {}
    for filename, entries in (data.get("results") or {}).items():
        name = filename.replace("\\", "/").removeprefix("./")
        for entry in entries:
            if entry.get("is_secret") is True or not entry.get("hashed_secret"):
                continue
            hashes.setdefault(name, set()).add(str(entry["hashed_secret"]).lower())
    patterns: dict[str, list[re.Pattern[str]]] = {name: [] for name in _REGEX_FILTERS.values()}
    for entry in data.get("filters_used") or ():
        target = _REGEX_FILTERS.get(entry.get("path", ""))
        if target:
            raw = entry.get("pattern") or []
            patterns[target].extend(re.compile(p) for p in ([raw] if isinstance(raw, str) else raw))
    return Baseline(hashes={name: frozenset(values) for name, values in hashes.items()},
                    exclude_files=tuple(patterns["exclude_files"]),
                    exclude_lines=tuple(patterns["exclude_lines"]),
                    exclude_secrets=tuple(patterns["exclude_secrets"]))


# detect-secrets' inline allowlist (filters/allowlist.py), for the comment styles it knows.
_COMMENT = r"(?:#|//|/\*|'|--|<!--)"
PRAGMA = lazy_compile(_COMMENT + r"[ \t]*pragma: ?(?:allow|white)list[ -]secret")
PRAGMA_NEXTLINE = lazy_compile(r"^[ \t]*" + _COMMENT + r"[ \t]*pragma: ?allowlist[ -]nextline[ -]secret")
