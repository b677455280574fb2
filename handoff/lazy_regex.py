"""Module-level regexes compiled on first use, so importing a module does not pay for patterns it never runs.

`re.compile` parses and compiles in Python: the package's ~150 module-level patterns cost a command about as
much as importing click, while most commands run only a handful of them. A `LazyPattern` stands where the
compiled pattern stood; the first use compiles it and binds the pattern's methods onto the stand-in, so
later calls cost one instance-attribute lookup, as on the pattern itself.
"""

from __future__ import annotations

import re
from typing import Any

_METHODS = ("search", "match", "fullmatch", "finditer", "findall", "sub", "subn", "split")


class LazyPattern:
    """Behaves as `re.compile(pattern, flags)` for attribute access (`.search`, `.sub`, `.pattern`, …)."""

    def __init__(self, pattern: str, flags: int | re.RegexFlag = 0) -> None:
        self._source = (pattern, flags)

    def __getattr__(self, name: str) -> Any:   # reached for a missing attribute: the first use, or `.pattern` & co
        compiled = self.__dict__.get("_compiled")
        if compiled is None:
            compiled = self._compiled = re.compile(*self._source)
            for method in _METHODS:
                setattr(self, method, getattr(compiled, method))
        return getattr(compiled, name)

    def __repr__(self) -> str:
        return f"LazyPattern({self._source[0]!r})"


def lazy_compile(pattern: str, flags: int | re.RegexFlag = 0) -> re.Pattern[str]:
    """A pattern compiled on first use; typed as the compiled pattern it stands for."""
    return LazyPattern(pattern, flags)  # type: ignore[return-value]
