"""Structure-aware scanning: whole-file transformers, changed lines read in the working tree, key blocks,
redaction of whole values. Values are generated here; nothing key-shaped is stored."""

from __future__ import annotations

from pathlib import Path

from corpus.generate import Gen, file_diff

from handoff.gate import gate


def _repo(tmp_path: Path, path: str, text: str) -> str:
    target = tmp_path / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return str(tmp_path)


def test_yaml_value_on_the_line_after_its_key_is_found_by_the_transformer(tmp_path: Path) -> None:
    gen = Gen(21)
    secret = gen.alnum(40)
    created = file_diff("deploy/values.yaml", None, f"app:\n  apiSecret:\n    {secret}\n  replicas: 2\n")
    result = gate(created, {}, repo_root=None, redact=True)
    assert result.report.findings and secret not in result.patch
    old = f"app:\n  apiSecret:\n    {gen.alnum(40)}\n  replicas: 2\n"
    new = f"app:\n  apiSecret:\n    {secret}\n  replicas: 2\n"
    modified = file_diff("deploy/values.yaml", old, new)
    result = gate(modified, {}, repo_root=_repo(tmp_path, "deploy/values.yaml", new), redact=True)
    assert result.report.findings and secret not in result.patch


def test_new_ini_file_goes_through_detect_secrets_config_transformer() -> None:
    password = Gen(22).password()
    patch = file_diff("conf/app.cfg", None, f"[server]\nport = 8080\n[database]\ndb_pass = {password}\n")
    report = gate(patch, {}, repo_root=None).report
    assert [(f.source, f.line) for f in report.findings] == [("conf/app.cfg", 4)]


def test_certificate_rows_without_their_begin_line_are_not_key_material(tmp_path: Path) -> None:
    gen = Gen(23)
    body = "".join(gen.b64(48) + "\n" for _ in range(20))
    cert = "-----BEGIN CERTIFICATE-----\n" + body + "-----END CERTIFICATE-----\n"
    rows = cert.splitlines()
    new = "\n".join(rows[:10] + [gen.b64(48) for _ in range(4)] + rows[14:]) + "\n"
    patch = file_diff("certs/ca.txt", cert, new)
    assert not gate(patch, {}, repo_root=_repo(tmp_path, "certs/ca.txt", new)).report.blocked


def test_private_key_rows_without_their_begin_line_block_and_are_redacted(tmp_path: Path) -> None:
    gen = Gen(24)
    old = gen.pem(rows=20)
    rows = old.splitlines()
    fresh = [gen.b64(48) for _ in range(4)]
    new = "\n".join(rows[:10] + fresh + rows[14:]) + "\n"
    patch = file_diff("deploy/key.txt", old, new)
    result = gate(patch, {}, repo_root=_repo(tmp_path, "deploy/key.txt", new), redact=True)
    assert [f.kind for f in result.report.findings] == ["Private Key", "Private Key"]     # old rows and new rows
    assert not any(row in result.patch for row in fresh + rows[10:14])


def test_redaction_replaces_the_whole_token_not_what_a_regex_matched() -> None:
    long_key = "sk_live_" + Gen(25).alnum(99)
    result = gate(file_diff("pay.py", None, f"KEY = '{long_key}'\n"), {}, repo_root=None, redact=True)
    assert long_key[20:] not in result.patch and "[REDACTED " in result.patch
    jwt = Gen(26).jwt()
    result = gate("", {"task": f"the token {jwt} fails"}, repo_root=None, redact=True)
    assert jwt.rsplit(".", 1)[1] not in result.texts["task"]


def test_dotenv_behind_a_byte_order_mark_is_read() -> None:
    password = Gen(27).password()
    patch = file_diff("config/.env.staging", None, f"\ufeffDB_PASSWORD={password}\n")
    result = gate(patch, {}, repo_root=None, redact=True)
    assert result.report.findings and password not in result.patch


def test_placeholder_only_dotenv_is_not_a_sensitive_file() -> None:
    patch = file_diff(".env", None, "SECRET_KEY=changethis\nPOSTGRES_PASSWORD=changethis\nDOMAIN=localhost\n")
    assert not gate(patch, {}, repo_root=None).report.blocked
