"""Module-level patterns compile on first use and then behave as the compiled pattern."""

from __future__ import annotations

import re

from handoff.lazy_regex import LazyPattern, lazy_compile


def test_a_lazy_pattern_compiles_once_on_first_use_and_then_is_the_pattern(monkeypatch):
    compiled: list[str] = []
    real_compile = re.compile

    def counting(pattern, flags=0):
        compiled.append(pattern)
        return real_compile(pattern, flags)

    monkeypatch.setattr(re, "compile", counting)
    word = lazy_compile(r"(?P<word>[a-z]+)", re.IGNORECASE)
    assert compiled == [] and isinstance(word, LazyPattern)
    assert word.search("12 Abc").group("word") == "Abc"
    assert word.sub("-", "ab1CD") == "-1-" and word.findall("a b") == ["a", "b"]
    assert word.pattern == r"(?P<word>[a-z]+)" and word.flags & re.IGNORECASE and word.groupindex == {"word": 1}
    assert [m.group() for m in word.finditer("x y")] == ["x", "y"] and word.fullmatch("abc")
    assert compiled == [r"(?P<word>[a-z]+)"]   # once, however many methods were used
