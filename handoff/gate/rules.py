"""Vendor token rules: the shape of one catalogue entry, and the example generators it names.

A rule is data (handoff/gate/catalogue.py holds one entry per token format). From it come the
detect-secrets plugin (handoff/gate/plugins.py), the pre-filter's needles (handoff/gate/detectors.py)
and the test examples: `example(rule, rng)` builds a valid-shaped value, `near_miss(rule, rng)` one
that must not match. Templates are literal text with `{alphabet:count}` fields, so no key-shaped
literal ever sits in the repository.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from functools import cached_property

from handoff.lazy_regex import lazy_compile

ALPHABETS = {
    "alnum": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
    "alpha": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
    "lower": "abcdefghijklmnopqrstuvwxyz",
    "upper": "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "loweralnum": "abcdefghijklmnopqrstuvwxyz0123456789",
    "upperalnum": "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
    "digits": "0123456789",
    "hex": "0123456789abcdef",
    "HEX": "0123456789ABCDEF",
    "b64": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
    "b64url": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-",
    "b32": "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567",
    "bech32": "023456789acdefghjklmnpqrstuvwxyz",     # bech32's 32 characters, in sorted order
    "BECH32": "023456789ACDEFGHJKLMNPQRSTUVWXYZ",
}
_FIELD = lazy_compile(r"\{(\w+):(\d+)\}")


@dataclass(frozen=True)
class Rule:
    """One token format. `pattern` matches the token; named groups (the first that matched) narrow the value."""

    id: str  # stable id, also the plugin's class name (CamelCased)
    name: str  # detect-secrets secret_type, shown in findings
    pattern: str
    keywords: tuple[str, ...]  # literals: every match of `pattern` contains one of them (the pre-filter)
    source: str  # the provider's documentation of the format
    example: str  # template of a valid-shaped value
    near_miss: str  # template of a value that must not match
    prefix: str = ""  # what a masked preview may show (the vendor prefix), "" for nothing
    ignore_case: bool = False  # keywords are matched case-insensitively
    generic: bool = False  # a keyword-led rule: placeholder/reference filters apply to its value
    context: str = "{}"  # how the example stands in a line when it needs a keyword beside it
    trigger: str = ""  # a narrower per-line check than the keywords (must match wherever pattern does)

    @cached_property
    def class_name(self) -> str:
        return "".join(part.capitalize() for part in re.split(r"[-_]", self.id)) + "Detector"

    @cached_property
    def regex(self) -> re.Pattern[str]:
        return re.compile(self.pattern)

    def values(self, line: str) -> list[str]:
        """The secret values this rule sees in `line` (the `secret` group, or the whole match)."""
        found = []
        for match in self.regex.finditer(line):
            groups = [group for group in match.groupdict().values() if group]
            value = groups[0] if groups else ("" if self.regex.groupindex else match.group())
            if value:
                found.append(value)
        return found


def expand(template: str, rng: random.Random) -> str:
    """`ghp_{alnum:36}` -> `ghp_` + 36 random alphanumerics."""
    return _FIELD.sub(lambda m: "".join(rng.choice(ALPHABETS[m.group(1)]) for _ in range(int(m.group(2)))), template)


def example(rule: Rule, rng: random.Random) -> str:
    return expand(rule.example, rng)


def near_miss(rule: Rule, rng: random.Random) -> str:
    return expand(rule.near_miss, rng)


def in_context(rule: Rule, value: str) -> str:
    """The example as it stands in a line (some generic rules need their keyword beside the value)."""
    return rule.context.replace("{}", value)
