"""The rule catalogue (handoff/gate/catalogue.py) stays in step with its plugin and the pre-filter by construction:
each rule's generated example is found (through the pre-filter, by that rule), its near miss is not."""

from __future__ import annotations

import random

import pytest

from handoff.gate import detectors, gate
from handoff.gate.catalogue import RULES
from handoff.gate.rules import Rule, example, in_context, near_miss


def _line(rule: Rule, value: str) -> str:
    return in_context(rule, value) if rule.context != "{}" else f"token = {value}"


@pytest.mark.parametrize("rule", RULES, ids=[rule.id for rule in RULES])
def test_example_passes_the_prefilter_and_is_found_by_its_rule(rule: Rule) -> None:
    rng = random.Random(rule.id)
    for _ in range(5):
        value = example(rule, rng)
        line = _line(rule, value)
        assert value in rule.values(line) or any(value in found for found in rule.values(line))
        assert any(keyword.lower() in line.lower() if rule.ignore_case else keyword in line
                   for keyword in rule.keywords), "no keyword of the rule in its own example"
        assert rule.class_name in detectors.candidate_lines(line).get(0, set()), "the pre-filter misses the example"
        specs = detectors.plugins_for_line(line, detectors.TEXT_PROFILE, detectors.candidate_lines(line)[0])
        assert rule.class_name in {spec.name for spec in specs}
        findings = gate("", {"task": line}, repo_root=None).report.findings
        assert findings and value not in repr(findings)


@pytest.mark.parametrize("rule", RULES, ids=[rule.id for rule in RULES])
def test_near_miss_is_not_matched(rule: Rule) -> None:
    rng = random.Random(rule.id + "miss")
    for _ in range(5):
        assert not rule.values(_line(rule, near_miss(rule, rng)))


def test_catalogue_entries_are_complete_and_distinct() -> None:
    assert len({rule.id for rule in RULES}) == len(RULES)
    assert len({rule.name for rule in RULES}) == len(RULES)          # detect-secrets keys plugins by type
    for rule in RULES:
        assert rule.source.startswith("https://"), rule.id
        assert rule.keywords and rule.name, rule.id
        assert not rule.prefix or example(rule, random.Random(0)).startswith(rule.prefix) or rule.context != "{}"


def test_detect_secrets_loads_the_generated_plugins_from_the_file() -> None:
    from detect_secrets.core.plugins.util import get_plugins_from_file

    import handoff.gate.plugins as plugins

    loaded = {cls.__name__ for cls in get_plugins_from_file(plugins.__file__)}
    assert {rule.class_name for rule in RULES} <= loaded
