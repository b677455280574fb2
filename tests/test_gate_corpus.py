"""Recall and false blocks on the generated corpus (tests/corpus/generate.py): every planted secret is
blocked, hidden from the report and gone after --redact; no benign change is blocked.

Values are generated when the corpus is built; nothing key-shaped is stored in the repository.
"""

from __future__ import annotations

from dataclasses import astuple
from pathlib import Path

import pytest
from corpus.generate import Case, benign, planted

from handoff.gate import SENSITIVE_FILE, gate

PLANTED = planted()
BENIGN = benign()


def _working_tree(case: Case, root: Path) -> str:
    """The repository as the change leaves it (modified files are read from it for their context)."""
    for path, (_old, new) in case.files.items():
        if new is not None:
            target = root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(new, encoding="utf-8")
    return str(root)


def test_corpus_is_big_enough() -> None:
    assert len(PLANTED) >= 150 and len(BENIGN) >= 100
    assert len({case.name for case in PLANTED}) == len(PLANTED)
    assert len({case.name for case in BENIGN}) == len(BENIGN)


@pytest.mark.parametrize("case", PLANTED, ids=[case.name for case in PLANTED])
def test_planted_secret_is_blocked_hidden_and_redacted(case: Case, tmp_path: Path) -> None:
    root = _working_tree(case, tmp_path)
    patch = case.patch()
    result = gate(patch, case.texts, repo_root=root)
    assert result.report.blocked, case.name
    shown = repr(result.report) + " ".join(str(part) for f in result.report.findings for part in astuple(f))
    for value in case.values:
        assert value not in shown
    redacted = gate(patch, case.texts, repo_root=root, redact=True)
    sent = redacted.patch + "".join(redacted.texts.values())
    for value in case.values:
        assert value not in sent, (case.name, "a planted value survived --redact")
    again = gate(redacted.patch, redacted.texts, repo_root=None)
    assert {f.kind for f in again.report.findings} <= {SENSITIVE_FILE}


@pytest.mark.parametrize("case", BENIGN, ids=[case.name for case in BENIGN])
def test_benign_change_is_not_blocked(case: Case, tmp_path: Path) -> None:
    result = gate(case.patch(), case.texts, repo_root=_working_tree(case, tmp_path))
    assert result.report.findings == (), [(f.source, f.line, f.kind) for f in result.report.findings]


def test_every_detect_secrets_plugin_is_exercised() -> None:
    kinds = {f.kind for case in PLANTED for f in gate(case.patch(), case.texts, repo_root=None).report.findings}
    expected = {
        "AWS Access Key", "Azure Storage Account access key", "Basic Auth Credentials", "Discord Bot Token",
        "GitHub Token", "GitLab Token", "IBM Cloud IAM Key", "IBM COS HMAC Credentials", "JSON Web Token",
        "Secret Keyword", "Mailchimp Access Key", "OpenAI Token", "PyPI Token", "SendGrid API Key", "Slack Token",
        "SoftLayer Credentials", "Square OAuth Secret", "Stripe Access Key", "Telegram Bot Token", "Twilio API Key",
        "Private Key", "Artifactory Credentials", "Base64 High Entropy String", SENSITIVE_FILE,
    }
    assert expected <= kinds
