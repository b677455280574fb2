"""The secret gate: pre-filter soundness, allowlists, redaction, masking, odd input.

Key-shaped values are generated at test time (tests/corpus/generate.py, handoff/gate/rules.py templates);
none is stored. Recall and false blocks on the whole corpus are in tests/test_gate_corpus.py.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
import string
import subprocess
import sys
from pathlib import Path

import pytest
from corpus.generate import Gen, benign, planted
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handoff.errors import ConfigError
from handoff.gate import SENSITIVE_FILE, Finding, gate, is_sensitive_path, mask, plugin_loader
from handoff.gate import detectors as scan

CORPUS = Path(__file__).parent / "corpus"
BENIGN = CORPUS / "benign"
_RNG = random.Random(5)
_ALNUM = string.ascii_letters + string.digits


def _read(path: Path) -> str:
    with open(path, encoding="utf-8", newline="") as handle:
        return handle.read()


def _value(kind: str) -> str:
    """A fresh, valid-shaped value of a kind detect-secrets knows."""
    tail = "".join(_RNG.choice(_ALNUM) for _ in range(36))
    return {"stripe": "sk_live_" + tail[:24], "github_tokens": "ghp_" + tail}[kind]


_PLANTED = planted()
_SAMPLE = {case.name: case for case in _PLANTED}
# A spread of the corpus for the slower, whole-pipeline properties (one case per source kind).
SAMPLE_CASES = [case for name, case in _SAMPLE.items()
                if name.split("/")[0] in {"ds", "key", "yaml", "k8s", "aws", "cred", "url", "dsn", "text", "jwt"}
                or name in {"rule/github-fine-grained-pat", "rule/anthropic-api-key", "rule/stripe-key"}]


def _load(case: object) -> tuple[str, dict[str, str]]:
    return case.patch(), dict(case.texts)  # type: ignore[attr-defined]


def _new_file(path: str, *lines: str) -> str:
    body = "".join(f"+{line}\n" for line in lines)
    return (f"diff --git a/{path} b/{path}\nnew file mode 100644\nindex 0000000..1111111\n"
            f"--- /dev/null\n+++ b/{path}\n@@ -0,0 +1,{len(lines)} @@\n{body}")




# ---------------------------------------------------------------------------------------------
# Pre-filter soundness


def test_prefilter_loses_nothing_against_every_plugin_on_every_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """The gate with the pre-filter finds exactly what running every plugin on every line finds."""
    inputs = [_load(case) for case in SAMPLE_CASES] + [_load(case) for case in benign()[::3]]
    inputs += [(_read(path), {}) for path in sorted(BENIGN.glob("*.diff"))]
    with_prefilter = [gate(patch, texts, repo_root=None).report.findings for patch, texts in inputs]

    def every_line(text: str, lines: list[str] | None = None) -> dict[int, set[str]]:
        return {index: set(scan.ALL_PLUGINS) for index in range(len(text.split("\n")))}

    monkeypatch.setattr(scan, "candidate_lines", every_line)
    monkeypatch.setattr(scan, "_TRIGGERS", tuple((spec, re.compile("")) for spec, _ in scan._TRIGGERS))
    scan._routed.cache_clear()
    try:
        without = [gate(patch, texts, repo_root=None).report.findings for patch, texts in inputs]
    finally:
        scan._routed.cache_clear()
    assert with_prefilter == without


def _vendor_regexes() -> list[tuple[scan.PluginSpec, re.Pattern[str]]]:
    pairs = []
    for spec in scan.PLUGINS:
        if spec.family == "vendor":
            pairs.extend((spec, regex) for regex in plugin_loader.plugin(spec).denylist)
    return pairs


_PRINTABLE = st.characters(min_codepoint=32, max_codepoint=126)


_VENDOR_REGEXES = _vendor_regexes()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data())
def test_trigger_and_needles_cover_what_the_plugin_matches(data: st.DataObject) -> None:
    """Any line a vendor plugin flags reaches that plugin through the pre-filter (one draw picks the
    plugin, so the whole catalogue shares one run instead of paying hypothesis' start per regex)."""
    spec, regex = data.draw(st.sampled_from(_VENDOR_REGEXES))
    line = data.draw(st.from_regex(regex, alphabet=_PRINTABLE))
    found = plugin_loader.plugin(spec).analyze_line(filename="x.txt", line=line, line_number=0, context=None)
    if found:
        names = scan.candidate_lines(line).get(0, set())
        assert spec in scan.plugins_for_line(line, scan.TEXT_PROFILE, names), (spec.name, line[:80])


@settings(max_examples=60, deadline=None)
@given(name=st.from_regex(r"[A-Za-z_]{0,6}(password|secret|api_key|passwd|pwd)[A-Za-z_]{0,6}", fullmatch=True),
       value=st.from_regex(r"[A-Za-z0-9+/=_-]{8,40}", fullmatch=True),
       quote=st.sampled_from(["'", '"']))
def test_keyword_and_entropy_lines_reach_their_plugins(name: str, value: str, quote: str) -> None:
    line = f"{name} = {quote}{value}{quote}"
    names = scan.candidate_lines(line).get(0, set())
    for spec in scan.PLUGINS:
        if spec.family == "vendor":
            continue
        if plugin_loader.plugin(spec).analyze_line(filename="x.py", line=line, line_number=0, context=None):
            assert spec in scan.plugins_for_line(line, scan.TEXT_PROFILE, names)


# ---------------------------------------------------------------------------------------------
# False blocks


@pytest.mark.parametrize("path", sorted(BENIGN.iterdir()), ids=lambda p: p.name)
def test_ordinary_diff_is_not_blocked(path: Path) -> None:
    content = _read(path)
    if path.suffix == ".diff":
        result = gate(content, {"task": "Refactor the checkout flow"}, repo_root=None)
    else:
        result = gate("", {"task": content}, repo_root=None)
    assert result.report.findings == ()
    assert not result.report.blocked
    assert result.report.scanned_bytes >= len(content.encode("utf-8"))


def test_sensitive_file_names() -> None:
    for path in [".env", "app/.env.production", ".env.local", "certs/server.pem", "tls.key", "a.p12", "b.pfx",
                 "release.keystore", "app.jks", "home/.ssh/id_rsa", "id_ed25519_work", "id_ecdsa", "id_dsa.old",
                 "credentials.json", "infra/terraform.tfstate", "x.tfstate.backup", ".git-credentials",
                 "config/secrets.yml", "secrets.yaml"]:
        assert is_sensitive_path(path), path
    for path in [".env.example", ".env.sample", ".env.template", ".env.dist", "id_rsa.pub", "README.md",
                 "environment.py", ".npmrc", "keys.py", "secrets.py", "my.env.example.txt"]:
        assert not is_sensitive_path(path), path


def test_rc_files_count_only_with_credentials() -> None:
    plain = _new_file(".npmrc", "registry=https://registry.npmjs.org/", "save-exact=true",
                      "//registry.npmjs.org/:_authToken=${NPM_TOKEN}")
    assert not gate(plain, {}, repo_root=None).report.blocked
    password = Gen(3).password()
    netrc = _new_file(".netrc", f"machine api.acme-corp.io login deploy password {password}")
    result = gate(netrc, {}, repo_root=None, redact=True)
    assert {(".netrc", 1, "Secret Keyword"), (".netrc", 1, "Netrc Password")} & {
        (f.source, f.line, f.kind) for f in result.report.findings}
    assert password not in result.patch and "machine api.acme-corp.io login deploy password [REDACTED" in result.patch


# ---------------------------------------------------------------------------------------------
# Baseline and pragma


def _baseline(tmp_path: Path, filename: str, value: str, **extra: object) -> None:
    entry = {"type": "Stripe Access Key", "filename": filename, "line_number": 2,
             "hashed_secret": hashlib.sha1(value.encode()).hexdigest(), "is_verified": False, **extra}
    (tmp_path / ".secrets.baseline").write_text(json.dumps({"version": "1.5.0", "results": {filename: [entry]}}))


def test_baseline_entry_lets_the_value_through_for_that_file(tmp_path: Path) -> None:
    key = _value("stripe")
    patch = _new_file("billing/keys.py", "import os", f"KEY = '{key}'")
    _baseline(tmp_path, "billing/keys.py", key)
    result = gate(patch, {}, repo_root=str(tmp_path))
    assert result.report.findings == () and result.report.allowed == 1 and not result.report.blocked
    other_file = _new_file("billing/other.py", f"KEY = '{key}'")
    assert gate(other_file, {}, repo_root=str(tmp_path)).report.blocked


def test_baseline_entry_marked_as_secret_still_blocks(tmp_path: Path) -> None:
    key = _value("stripe")
    _baseline(tmp_path, "billing/keys.py", key, is_secret=True)
    result = gate(_new_file("billing/keys.py", f"KEY = '{key}'"), {}, repo_root=str(tmp_path))
    assert result.report.blocked and result.report.allowed == 0


def test_baseline_uses_detect_secrets_hash_of_a_github_token(tmp_path: Path) -> None:
    # detect-secrets reports (and hashes) only the "ghp" group of a GitHub token's regex.
    token = _value("github_tokens")
    _baseline(tmp_path, "ci.sh", token[:3])
    assert not gate(_new_file("ci.sh", f"T={token}"), {}, repo_root=str(tmp_path)).report.blocked


def test_baseline_exclude_files_filter(tmp_path: Path) -> None:
    baseline = {"version": "1.5.0", "results": {},
                "filters_used": [{"path": "detect_secrets.filters.regex.should_exclude_file",
                                  "pattern": ["^tests/fixtures/"]}]}
    (tmp_path / ".secrets.baseline").write_text(json.dumps(baseline))
    patch = _new_file("tests/fixtures/server.key", f"x = '{_value('stripe')}'")
    assert not gate(patch, {}, repo_root=str(tmp_path)).report.blocked


def test_unreadable_baseline_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / ".secrets.baseline").write_text("{not json")
    with pytest.raises(ConfigError):
        gate("", {"task": "x"}, repo_root=str(tmp_path))


def test_pragma_allowlist_secret_on_the_line_and_the_line_before() -> None:
    key = _value("stripe")
    same_line = _new_file("a.py", f"KEY = '{key}'  # pragma: allowlist secret")
    result = gate(same_line, {}, repo_root=None)
    assert not result.report.blocked and result.report.allowed == 1
    next_line = _new_file("a.js", "// pragma: allowlist nextline secret", f"const KEY = '{key}';")
    assert not gate(next_line, {}, repo_root=None).report.blocked
    too_far = _new_file("a.js", "// pragma: allowlist nextline secret", "", f"const KEY = '{key}';")
    assert gate(too_far, {}, repo_root=None).report.blocked
    in_text = gate("", {"context": f"use {key} # pragma: allowlist secret"}, repo_root=None)
    assert not in_text.report.blocked and in_text.report.allowed == 1


# ---------------------------------------------------------------------------------------------
# Redaction


@pytest.mark.parametrize("case", SAMPLE_CASES, ids=[case.name for case in SAMPLE_CASES])
def test_redact_replaces_values_and_keeps_reporting_them(case: object) -> None:
    patch, texts = _load(case)
    plain = gate(patch, texts, repo_root=None)
    result = gate(patch, texts, repo_root=None, redact=True)
    assert result.report.redacted and not result.report.blocked
    assert result.report.findings == plain.report.findings
    sent = result.patch + "".join(result.texts.values())
    for value in case.values:  # type: ignore[attr-defined]
        assert value not in sent
    assert "[REDACTED " in sent
    assert set(result.texts) == set(texts)
    rescanned = gate(result.patch, result.texts, repo_root=None)
    assert {f.kind for f in rescanned.report.findings} <= {SENSITIVE_FILE}
    if not any(f.kind == SENSITIVE_FILE for f in plain.report.findings) and patch:
        assert len(result.patch.split("\n")) == len(patch.split("\n"))   # hunks still line up


def test_redacted_sensitive_file_is_one_marker_line() -> None:
    patch = _new_file(".env", f"SESSION_SECRET={Gen(4).alnum(40)}", "DEBUG=0")
    redacted = gate(patch, {}, repo_root=None, redact=True).patch
    assert "+++ b/.env\n[REDACTED Sensitive file: content of .env withheld]\n" in redacted
    assert redacted.endswith("\n")


def test_redact_without_findings_changes_nothing() -> None:
    patch = _read(BENIGN / "package_lock.diff")
    result = gate(patch, {"task": "t"}, repo_root=None, redact=True)
    assert result.patch == patch and result.texts == {"task": "t"} and not result.report.redacted


# ---------------------------------------------------------------------------------------------
# Masking and odd input


def test_mask_shows_a_vendor_prefix_at_most() -> None:
    value = "".join(_RNG.choice(_ALNUM) for _ in range(30))
    assert mask(value) == "…(30 chars)"                       # a generic value: nothing of it
    assert mask("ghp_" + value, "ghp_") == "ghp_…(34 chars)"   # a vendor prefix is part of the format
    assert mask("ghp_x", "ghp_") == "…(5 chars)"              # never most of a short value
    assert "hunter2" not in mask("hunter2")


def test_previews_of_generic_passwords_show_none_of_their_characters() -> None:
    password = Gen(8).password(24)
    report = gate(_new_file("conf/db.ini", "[db]", f"password = {password}"), {}, repo_root=None).report
    assert report.blocked
    assert all(finding.preview.startswith("…(") for finding in report.findings)


ODD_PATCHES = [
    "",
    "\n",
    "not a diff at all\n",
    "diff --git a/x b/x\n",
    "diff --git a/img.png b/img.png\nindex 1..2 100644\nBinary files a/img.png and b/img.png differ\n",
    "diff --git a/bin b/bin\nGIT binary patch\nliteral 12\nzcmZ?wbhEHbRA6LaU|?hb0\n\nliteral 0\nHcmV?d00001\n\n",
    "diff --git a/a.txt b/a.txt\n--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-old\n+new\n\\ No newline at end of file\n",
    "diff --git a/w.txt b/w.txt\r\n--- a/w.txt\r\n+++ b/w.txt\r\n@@ -1,2 +1,2 @@\r\n-a\r\n+b\r\n c\r\n",
    "diff --git a/u.txt b/u.txt\n--- a/u.txt\n+++ b/u.txt\n@@ -1,1 +1,1 @@\n-naïve ünïcödé\n+中文 🎉 \udcff\n",
    "diff --git a/t.txt b/t.txt\n--- a/t.txt\n+++ b/t.txt\n@@ -1,9 +1,9 @@\n+truncated hunk\n",
    "diff --git a/m.py b/m.py\n@@ -x,y +z @@\n+garbage header\n",
    "diff --cc merged.py\nindex 1,2..3\n--- a/merged.py\n+++ b/merged.py\n@@@ -1,2 -1,2 +1,3 @@@\n  a\n+ b\n -c\n++d\n",
    "--- a/plain.txt\n+++ b/plain.txt\n@@ -1 +1 @@\n-x\n+y\n--- a/second.txt\n+++ b/second.txt\n@@ -1 +1 @@\n-p\n+q\n",
    "@@ -1 +1 @@\n+orphan hunk\n",
    'diff --git "a/we\\"ird\\tname" "b/we\\"ird\\tname"\n--- "a/we\\"ird\\tname"\n+++ "b/we\\"ird\\tname"\n',
]


@pytest.mark.parametrize("patch", ODD_PATCHES, ids=range(len(ODD_PATCHES)))
def test_odd_input_never_raises(patch: str) -> None:
    for redact in (False, True):
        result = gate(patch, {"task": "", "context": "\r\n\x00\ufeff\udcff"}, repo_root=None, redact=redact)
        assert result.report.scanned_bytes >= 0
        assert not result.report.blocked


@settings(max_examples=150, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(list("+- @\\\n\r\"'abcAKIA0123456789=:/_.-KEYkey")), max_size=400))
def test_random_patches_never_raise(text: str) -> None:
    prefix = "diff --git a/f.py b/f.py\n--- a/f.py\n+++ b/f.py\n@@ -1,3 +1,4 @@\n"
    for patch in (text, prefix + text):
        report = gate(patch, {"task": text}, repo_root=None, redact=True).report
        assert all(isinstance(finding, Finding) for finding in report.findings)


_PK = "PRIVATE" + " KEY"     # split, so this file holds no key header of its own
_PATCH_LINES = st.sampled_from([
    "diff --git a/x.py b/x.py", "diff --git a/.env b/.env", 'diff --git "a/q\\"x" "b/q\\"x"', "diff --cc m.py",
    "--- a/x.py", "+++ b/x.py", "--- /dev/null", "+++ /dev/null", "rename from a.key", "rename to b.txt",
    "@@ -1,2 +1,3 @@", "@@ -0,0 +1 @@ def f():", "@@@ -1,2 -1,2 +1,3 @@@", "@@ -3 +3,0 @@",
    "+x = 1", "-y = 2", " z = 3", "", "\\ No newline at end of file", "Binary files a/b and b/b differ",
    "GIT binary patch", "literal 5", f"+-----BEGIN RSA {_PK}-----", f" -----BEGIN EC {_PK}-----",
    "+" + Gen(9).b64(30), f"-----END RSA {_PK}-----", "+PuTTY-User-Key-" + "File-2: x",
    "+password = 'Zx9#kLq2vB'  # pragma: allowlist secret", "# pragma: allowlist nextline secret",
    "+DB_PASSWORD=Qw3rtyUi0pAsDf", "+\ud800 naïve\r", "++ b", " +",
])


@settings(max_examples=300, deadline=None)
@given(lines=st.lists(_PATCH_LINES, max_size=30))
def test_random_structured_patches_never_raise(lines: list[str]) -> None:
    patch = "\n".join(lines) + "\n"
    plain = gate(patch, {"context": patch}, repo_root=None)
    redacted = gate(patch, {"context": patch}, repo_root=None, redact=True)
    assert redacted.report.findings == plain.report.findings
    assert not redacted.report.blocked


def test_lines_are_attributed_in_a_two_file_patch() -> None:
    token = _value("github_tokens")
    first = _new_file("a.py", "x = 1", "y = 2")
    second = ("diff --git a/b.py b/b.py\nindex 1..2 100644\n--- a/b.py\n+++ b/b.py\n"
              f"@@ -7,3 +7,3 @@ def f():\n ctx\n-T = '{token}'\n+T = None\n other\n")
    findings = gate(first + second, {}, repo_root=None).report.findings
    assert [(f.source, f.line, f.kind) for f in findings] == [("b.py", 8, "GitHub Token")]


def test_private_key_block_is_caught_in_removed_and_context_lines() -> None:
    rows = ["tls.key: |", *("  " + row for row in Gen(6).pem().splitlines())]
    removed = ("diff --git a/k.yaml b/k.yaml\n--- a/k.yaml\n+++ b/k.yaml\n"
               f"@@ -4,{len(rows)} +4,0 @@\n" + "".join(f"-{row}\n" for row in rows))
    context = ("diff --git a/k.yaml b/k.yaml\n--- a/k.yaml\n+++ b/k.yaml\n"
               f"@@ -4,{len(rows)} +4,{len(rows) + 1} @@\n+# new first line\n" + "".join(f" {row}\n" for row in rows))
    body = rows[3].strip()
    for patch, line in ((removed, 5), (context, 6)):
        result = gate(patch, {}, repo_root=None, redact=True)
        assert [(f.source, f.line, f.kind) for f in result.report.findings] == [("k.yaml", line, "Private Key")]
        assert body not in result.patch and body in patch


def test_header_lines_are_scanned_too() -> None:
    token = _value("github_tokens")
    patch = f"diff --git a/a.py b/a.py\n--- a/a.py\n+++ b/a.py\n@@ -1 +1 @@ T = '{token}'\n-x\n+y\n"
    findings = gate(patch, {}, repo_root=None).report.findings
    assert [(f.source, f.line, f.kind) for f in findings] == [("a.py", 0, "GitHub Token")]


# ---------------------------------------------------------------------------------------------
# Import cost


def _run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def test_detect_secrets_is_not_imported_when_no_line_is_a_candidate() -> None:
    code = ("import sys; from handoff.gate import gate; "
            "r = gate('diff --git a/a b/a\\n--- a/a\\n+++ b/a\\n@@ -1 +1 @@\\n-x = 1\\n+x = 2\\n', "
            "{'task': 'rename a variable'}, repo_root=None); "
            "print(r.report.blocked, 'detect_secrets' in sys.modules)")
    assert _run(code) == "False False"


def test_a_needle_at_or_inside_another_still_routes_its_plugin() -> None:
    # `EAA` (Facebook) is a prefix of `EAAA` (Square): one alternation hit must stand for both; and an AWS key id
    # starting inside an `EAA` hit must still be seen (a non-overlapping scan resumed after `EAA`, past `AKIA`).
    square_like = f'x = "EAAA{"0" * 90}"'
    routed = {spec.name for spec in scan.plugins_for_line(square_like, scan.TEXT_PROFILE,
                                                          scan.candidate_lines(square_like)[0])}
    assert {"FacebookAccessTokenDetector", "SquareAccessTokenDetector"} <= routed
    key_id = "AKIA" + "".join(_RNG.choice(string.ascii_uppercase + "234567") for _ in range(16))
    findings = gate("", {"t": f'ident = "EA{key_id}"'}, repo_root=None).report.findings
    assert [(f.kind, f.preview) for f in findings] == [("AWS Access Key", "AKIA…(20 chars)")]


def test_quoted_commit_ids_and_digests_never_load_detect_secrets() -> None:
    # What every handoff's facts carry: a commit id in quotes cannot pass an entropy limit (16 distinct
    # characters at most), so the pre-filter settles it without starting detect-secrets' plugins.
    sha, digest = hashlib.sha1(b"x").hexdigest(), hashlib.sha256(b"x").hexdigest()
    facts = f'{{\\n  "head": "{sha}",\\n  "base_commit": "{sha}",\\n  "tree_digest": "{digest}"\\n}}'
    code = ("import sys; from handoff.gate import gate; "
            f"r = gate('', {{'facts': '{facts}'}}, repo_root=None); "
            "print(r.report.blocked, 'detect_secrets' in sys.modules)")
    assert _run(code) == "False False"


def test_the_entropy_bound_uses_the_plugins_own_limits() -> None:
    from detect_secrets.plugins.high_entropy_strings import Base64HighEntropyString, HexHighEntropyString

    detectors = scan
    for plugin in (Base64HighEntropyString(), HexHighEntropyString()):
        _, least_distinct = detectors._ENTROPY_RUNS[type(plugin).__name__]
        assert detectors._ENTROPY_LIMITS[type(plugin).__name__] == plugin.entropy_limit
        assert math.log2(least_distinct) > plugin.entropy_limit >= math.log2(least_distinct - 1)
    # one distinct character short of the bound: no plugin runs; at the bound it does, and a real value is caught
    fewest = "".join(sorted(set(string.ascii_letters + string.digits)))
    assert detectors.plugins_for_line(f'x = "{fewest[:22] * 2}"') == ()
    assert [spec.name for spec in detectors.plugins_for_line(f'x = "{fewest[:23] * 2}"')] == [
        "Base64HighEntropyString"]
    value = "".join(_RNG.sample(_ALNUM, 40))   # 40 distinct characters: 5.3 bits
    assert [f.kind for f in gate("", {"t": f'blob = "{value}"'}, repo_root=None).report.findings] == [
        "Base64 High Entropy String"]


def test_requests_is_deferred_when_detect_secrets_runs() -> None:
    token = _value("github_tokens")
    code = ("import sys; from handoff.gate import gate; "
            f"r = gate('', {{'task': 'use {token}'}}, repo_root=None); "
            "print(r.report.blocked, 'detect_secrets' in sys.modules, 'urllib3' in sys.modules)")
    assert _run(code) == "True True False"


def test_devin_api_keys_are_caught_and_redacted() -> None:
    # No detect-secrets plugin knows Devin's own keys; the rule catalogue has one for them.
    key = "cog_" + "".join(_RNG.choice(_ALNUM) for _ in range(24))
    legacy = "apk_user_" + "".join(_RNG.choice(_ALNUM) for _ in range(18))
    patch = ("diff --git a/run.sh b/run.sh\nnew file mode 100644\n--- /dev/null\n+++ b/run.sh\n@@ -0,0 +1,3 @@\n"
             f"+export DEVIN_API_KEY={key}\n+the cog_wheel turns\n+curl -H 'Authorization: Bearer {legacy}'\n")
    report = gate(patch, {"task": f"use {key}"}, repo_root=None).report
    assert {(f.source, f.line, f.kind) for f in report.findings} == {
        ("run.sh", 1, "Devin API Key"), ("run.sh", 3, "Devin API Key"), ("task", 1, "Devin API Key")}
    assert key not in repr(report) and legacy not in repr(report)
    redacted = gate(patch, {"task": f"use {key}"}, repo_root=None, redact=True)
    assert key not in redacted.patch and legacy not in redacted.patch and key not in redacted.texts["task"]
