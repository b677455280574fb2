"""detect-secrets plugins generated from the rule catalogue (handoff/gate/catalogue.py).

One `RegexBasedDetector` subclass per rule, as module attributes, so detect-secrets itself can load
them: `detect-secrets scan --plugin handoff/gate/plugins.py`, or `plugins_used: [{path: file://…}]` in
a baseline. The gate uses the same classes, so a baseline, `pragma: allowlist secret` and
`detect-secrets audit` keep working on what it finds.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from detect_secrets.plugins.base import RegexBasedDetector

from handoff.gate.catalogue import RULES
from handoff.gate.rules import Rule


def _make(rule: Rule) -> type[RegexBasedDetector]:
    def analyze_string(self: Any, string: str) -> Generator[str, None, None]:
        yield from rule.values(string)

    return type(
        rule.class_name,
        (RegexBasedDetector,),
        {
            "secret_type": rule.name,
            "denylist": (rule.regex,),
            "rule": rule,
            "analyze_string": analyze_string,
            "__doc__": f"{rule.name} ({rule.source})",
            "__module__": __name__,
        },
    )


CLASSES: dict[str, type[RegexBasedDetector]] = {rule.class_name: _make(rule) for rule in RULES}
globals().update(CLASSES)
