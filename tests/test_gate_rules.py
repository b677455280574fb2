"""The rule catalogue (handoff/gate/catalogue.py) stays in step with its plugin and the pre-filter by construction:
each rule's generated example is found (through the pre-filter, by that rule), its near miss is not."""

from __future__ import annotations

import random
from pathlib import Path

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


def test_a_baseline_written_by_detect_secrets_with_the_generated_plugins_lets_the_value_through(tmp_path: Path) -> None:
    """The audit workflow stays valid: `detect-secrets scan --plugin handoff/gate/plugins.py` writes a baseline
    whose entry for a catalogue-rule find is honoured by the gate (same type, same hashed value)."""
    import subprocess
    import sys

    import handoff.gate.plugins as plugins

    rule = next(rule for rule in RULES if rule.id == "huggingface-token")
    line = f'HF_TOKEN = "{example(rule, random.Random(3))}"\n'
    (tmp_path / "app.py").write_text(line, encoding="utf-8")
    scan = [sys.executable, "-m", "detect_secrets", "scan", "--plugin", plugins.__file__, "app.py"]
    baseline = subprocess.run(scan, cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert '"Hugging Face Token"' in baseline
    (tmp_path / ".secrets.baseline").write_text(baseline, encoding="utf-8")
    patch = ("diff --git a/app.py b/app.py\nnew file mode 100644\n--- /dev/null\n+++ b/app.py\n@@ -0,0 +1 @@\n"
             f"+{line}")
    report = gate(patch, {}, repo_root=str(tmp_path)).report
    assert not report.blocked and report.allowed == 1
    assert gate(patch, {}, repo_root=None).report.blocked
