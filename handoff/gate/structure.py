"""Structure that line-by-line scanning loses, turned back into lines the plugins understand ("views").

detect-secrets' plugins look at one line at a time and mostly at quoted strings. Real files hold
secrets in structures: unquoted YAML/INI/.env values, YAML block scalars, `- name: X` / `value: Y`
pairs, base64 `data:` of Kubernetes Secrets and kubeconfig `*-data` fields, credentials files
(`.netrc`, `.pgpass`, docker `config.json`, `.npmrc`), JSON-escaped code in notebooks, and lines
too long for the plugins. Each function here returns `View`s: a line of text for the plugins, and
the value to redact when it differs from what the plugins will find (a decoded base64 value is
redacted as its encoded form).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from handoff.lazy_regex import lazy_compile

_CODE_EXTENSIONS = frozenset(
    {
        ".py",
        ".pyi",
        ".js",
        ".mjs",
        ".cjs",
        ".jsx",
        ".ts",
        ".tsx",
        ".go",
        ".java",
        ".kt",
        ".kts",
        ".scala",
        ".rb",
        ".php",
        ".cs",
        ".c",
        ".h",
        ".cc",
        ".cpp",
        ".hpp",
        ".rs",
        ".swift",
        ".m",
        ".dart",
        ".lua",
        ".pl",
        ".r",
        ".jl",
        ".ex",
        ".exs",
        ".erl",
        ".clj",
        ".groovy",
        ".vue",
        ".svelte",
        ".html",
        ".htm",
        ".css",
        ".scss",
        ".sql",
    }
)


@lru_cache(maxsize=4096)
def is_code(path: str) -> bool:
    """Source code quotes its strings; config, env, docs and texts often do not."""
    return os.path.splitext(path.lower())[1] in _CODE_EXTENSIONS


@dataclass(frozen=True)
class View:
    text: str  # what the plugins see
    offset: int = 0  # line of the finding, relative to the line the view was built from
    real: str = ""  # the value to redact and report instead of the one the plugins find
    kind: str = ""  # the finding's type instead of the plugin's


# `KEY=value`, `key: value`, `export KEY=value`, `ENV KEY=value`, `- KEY=value`, `key = value`, `"key": value`
_ASSIGNMENT = lazy_compile(
    r"^(\s*(?:-\s+)?(?:export\s+|ENV\s+|ARG\s+|set\s+|setenv\s+)?[\"']?[A-Za-z_][\w.-]*[\"']?\s*(?:=|:|\s)\s*)"
    r"([^\s'\"#{}\[\]()|>&*!%@`][^\s#'\"()\[\]{}]*)\s*(?:#.*)?$"
)
# Names under which an unquoted value is worth a look (the same words the pre-filter's needles know).
_CREDENTIAL_NAME = lazy_compile(r"key|token|secret|passw|pwd|pass\b|auth|credential|private|cred", re.IGNORECASE)


def is_credential_name(name: str) -> bool:
    return bool(_CREDENTIAL_NAME.search(name))


# `… use API_SECRET=abc123 when …`: a KEY=value pasted into prose
_INLINE_ASSIGNMENT = lazy_compile(
    r"(?<![\w$])([A-Z][A-Z0-9_]*(?:KEY|SECRET|TOKEN|PASSWORD|PASSWD|PASS|PWD)[A-Z0-9_]*)"
    r"=([^\s'\"$<{][^\s'\"]*)"
)
_XML_ELEMENT = lazy_compile(r"<([\w:.-]*(?:pass|secret|token|key|pwd)[\w:.-]*)>([^<\s]{4,})</\1>", re.IGNORECASE)
_BLOCK_SCALAR = lazy_compile(r"^(\s*(?:-\s+)?[\"']?[\w.-]+[\"']?)\s*:\s*[|>][-+0-9]*\s*$")
_ENV_NAME = lazy_compile(r"^\s*-?\s*name:\s*[\"']?([A-Za-z_][\w.-]*)[\"']?\s*$")
_ENV_VALUE = lazy_compile(r"^\s*value:\s*[\"']?([^\"'\s][^\"']*?)[\"']?\s*$")


def may_have_views(path: str, text: str) -> bool:
    """Cheap test before line_views: code files only have XML elements and escaped quotes to look at."""
    return not is_code(path) or "</" in text or '\\"' in text


def needs_following(text: str) -> bool:
    """True when a line's views depend on the lines after it (a block scalar, a `- name:` entry)."""
    return ("name" in text or text.rstrip().endswith(("|", ">", "-", "+"))) and bool(
        _BLOCK_SCALAR.match(text) or _ENV_NAME.match(text)
    )


def line_views(path: str, text: str, following: list[str]) -> list[View]:
    """Views of one candidate line (`following`: the next few lines of the same file)."""
    views: list[View] = []
    if not is_code(path):
        match = _ASSIGNMENT.match(text)
        if match and _CREDENTIAL_NAME.search(match.group(1)):
            views.append(View(f'{match.group(1).rstrip()} "{match.group(2)}"'))
        block = _BLOCK_SCALAR.match(text)
        if block and _CREDENTIAL_NAME.search(block.group(1)):
            views.extend(_block_scalar(block.group(1), following))
        name = _ENV_NAME.match(text)
        if name and following and _CREDENTIAL_NAME.search(name.group(1)):
            value = _ENV_VALUE.match(following[0])
            if value:
                views.append(View(f'{name.group(1)}: "{value.group(1)}"', offset=1))
        for match in _INLINE_ASSIGNMENT.finditer(text):
            views.append(View(f'{match.group(1)}="{match.group(2)}"'))
    if "</" in text:
        for match in _XML_ELEMENT.finditer(text):
            views.append(View(f'{match.group(1)} = "{match.group(2)}"'))
    if '\\"' in text:
        views.append(View(text.replace('\\"', '"').replace("\\n", " ")))
    return views


def _block_scalar(key: str, following: list[str]) -> Iterator[View]:
    indent = None
    for offset, line in enumerate(following, start=1):
        stripped = line.strip()
        if not stripped:
            continue
        width = len(line) - len(line.lstrip())
        if indent is None:
            if width <= len(key) - len(key.lstrip()) or stripped.startswith(("-----BEGIN", "---- BEGIN")):
                return  # not a block, or a PEM block: the key detector reads those whole
            indent = width
        elif width < indent:
            return
        yield View(f'{key.strip()}: "{stripped}"', offset=offset)


# ---------------------------------------------------------------------------------------------
# Whole-file structure: credentials files, Kubernetes data, kubeconfig

_DATA_FIELD = lazy_compile(r"^(\s*)([\w.-]+)\s*:\s*[\"']?([A-Za-z0-9+/]{8,}={0,2})[\"']?\s*$")
_K8S_SECRET = lazy_compile(r"^kind:\s*Secret\s*$", re.MULTILINE)
_PGPASS = lazy_compile(r"^([^:#\s][^:]*):([^:]*):([^:]*):([^:]*):(.+)$")
_NETRC_PASSWORD = lazy_compile(r"\bpassword\s+(\S+)")
_DOCKER_AUTH = lazy_compile(r"\"(?:auth|identitytoken|registrytoken)\"\s*:\s*\"([A-Za-z0-9+/=_-]{8,})\"")
_NPMRC_AUTH = lazy_compile(r"(?:^|:)_(?:authToken|auth|password)\s*=\s*[\"']?([^\s\"'$][^\s\"']*)")


def file_views(path: str, lines: list[str]) -> Iterator[tuple[int, View]]:
    """(line position, view) for structures that span a file or depend on its kind."""
    name = os.path.basename(path).lower()
    if name in (".pgpass", "pgpass.conf"):
        for position, line in enumerate(lines):
            match = _PGPASS.match(line.strip())
            if match:
                yield position, View(f'password = "{match.group(5)}"', real=match.group(5))
    elif name in (".netrc", "_netrc"):
        for position, line in enumerate(lines):
            for match in _NETRC_PASSWORD.finditer(line):
                yield position, View(f'password = "{match.group(1)}"', real=match.group(1))
    elif name == ".npmrc":
        for position, line in enumerate(lines):
            match = _NPMRC_AUTH.search(line)
            if match:
                yield position, View(f'npm_password = "{match.group(1)}"', real=match.group(1))
    if name.endswith(".json") and '"auths"' in "\n".join(lines[:200]):
        for position, line in enumerate(lines):
            for match in _DOCKER_AUTH.finditer(line):
                yield from ((position, view) for view in _decoded(match.group(1), "docker_auth"))
    yield from _base64_data(lines)


def _base64_data(lines: list[str]) -> Iterator[tuple[int, View]]:
    """Kubernetes Secret `data:` values and kubeconfig `*-data` fields, decoded once."""
    secret = any(_K8S_SECRET.match(line) for line in lines)
    in_data, data_indent = False, -1
    for position, line in enumerate(lines):
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if stripped in ("data:", "binaryData:"):
            in_data, data_indent = secret, indent
            continue
        if in_data and stripped and indent <= data_indent:
            in_data = False
        match = _DATA_FIELD.match(line)
        if not match:
            continue
        key = match.group(2)
        if in_data or (key.lower().endswith("-data") and "key" in key.lower()):
            yield from ((position, view) for view in _decoded(match.group(3), key))


def _decoded(encoded: str, key: str) -> Iterator[View]:
    try:
        raw = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=False)
        text = raw.decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return
    if not text.strip() or (not text.isprintable() and "\n" not in text):
        return
    if "PRIVATE KEY" in text or "OpenVPN Static key" in text:
        yield View(text.strip().splitlines()[0], real=encoded, kind="Private Key")
        return
    if key == "docker_auth" and ":" in text:
        yield View(f'password = "{text.split(":", 1)[1]}"', real=encoded)
        return
    for line in text.splitlines()[:50]:
        if line.strip():
            yield View(f'{key}: "{line.strip()}"', real=encoded)


# ---------------------------------------------------------------------------------------------
# AWS secret keys: 40 base64 characters with no name of their own, beside a key id

AWS_KEY_ID = lazy_compile(r"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}(?![A-Z0-9])")
_AWS_SECRET = lazy_compile(r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
AWS_SECRET_KIND = "AWS Secret Access Key"


def aws_secrets_near(lines: list[str], position: int, reach: int = 5) -> Iterator[tuple[int, str]]:
    """Bare 40-character secret keys within `reach` lines of a key id at `position`."""
    for near in range(max(0, position - reach), min(len(lines), position + reach + 1)):
        for match in _AWS_SECRET.finditer(lines[near]):
            value = match.group()
            if _mixed(value):
                yield near, value


def _mixed(value: str) -> bool:
    return any(c.islower() for c in value) and any(c.isupper() for c in value) and any(c.isdigit() for c in value)


# ---------------------------------------------------------------------------------------------
# Long lines: keyword and entropy checks on windows

_SPLIT = lazy_compile(r"\\n|[,;{}\[\]\n]|&(?=\w+=)")
WINDOW = 1000


def windows(line: str) -> list[str]:
    """A long line cut where JSON, query strings and code separate values, unescaped, each piece <= WINDOW."""
    text = line.replace('\\"', '"')
    pieces = []
    for piece in _SPLIT.split(text):
        piece = piece.strip()
        while len(piece) > WINDOW:
            pieces.append(piece[:WINDOW])
            piece = piece[WINDOW // 2 :]
        if len(piece) >= 8:
            pieces.append(piece)
    return pieces


def json_decode_string(value: str) -> str:
    try:
        return json.loads(f'"{value}"')
    except ValueError:
        return value


# ---------------------------------------------------------------------------------------------
# Private key bodies whose BEGIN line is outside the hunk

KEY_ROW = lazy_compile(r"^\s*[\"']?([A-Za-z0-9+/]{60,76}={0,2})[\"']?\s*$")
_PUBLIC_BLOCK = lazy_compile(r"BEGIN (?:CERTIFICATE|PUBLIC KEY|RSA PUBLIC KEY|X509 CRL|PGP PUBLIC|CERTIFICATE REQUEST)")
_PRIVATE_BLOCK = lazy_compile(r"BEGIN[A-Z0-9 ]* PRIVATE KEY|BEGIN OpenVPN Static key")
_PUBLIC_FILES = (".crt", ".cer", ".pub", ".csr", ".asc", ".sig", ".gpg")


def key_body_runs(rows: list[tuple[int, str]], minimum: int = 3) -> Iterator[list[int]]:
    """Runs of >= `minimum` consecutive PEM-width base64 rows (positions into `rows`)."""
    run: list[int] = []
    for position, (_index, text) in enumerate(rows):
        if KEY_ROW.match(text):
            run.append(position)
            continue
        if len(run) >= minimum:
            yield run
        run = []
    if len(run) >= minimum:
        yield run


def is_key_body(path: str, around: str, working_file: str | None) -> bool:
    """Rows of a private key, judged by the working tree file when there is one, else by what is around."""
    if path.lower().endswith(_PUBLIC_FILES):
        return False
    if working_file is not None:
        return bool(_PRIVATE_BLOCK.search(working_file))
    return not _PUBLIC_BLOCK.search(around)


# ---------------------------------------------------------------------------------------------
# detect-secrets' own file-type transformers, for whole YAML and INI-style files

_YAML = (".yaml", ".yml")
_INI = (".ini", ".cfg", ".conf", ".cnf", ".pypirc", ".gitconfig")
_INI_NAMES = frozenset({"credentials", "config", ".pypirc", ".gitconfig", ".s3cfg", ".boto"})


def transformer_kind(path: str) -> str:
    """"yaml", "ini" or "" (no transformer for this file type)."""
    lower = path.lower()
    if lower.endswith(_YAML):
        return "yaml"
    if lower.endswith(_INI) or os.path.basename(lower) in _INI_NAMES:
        return "ini"
    return ""


def transformed_lines(path: str, text: str) -> list[str]:
    """The file as detect-secrets' transformers see it: line N holds `key: "value"` for a value that
    starts on line N (block scalars and unquoted values quoted). [] when the file does not parse."""
    import io

    from detect_secrets.transformers.exceptions import ParsingError

    kind = transformer_kind(path)
    if not kind:
        return []

    class _Named(io.StringIO):
        name = path

    try:
        if kind == "yaml":
            from detect_secrets.transformers.yaml import YAMLTransformer
            lines = YAMLTransformer().parse_file(_Named(text))
        else:
            from detect_secrets.transformers.config import ConfigFileTransformer, EagerConfigFileTransformer
            try:
                lines = ConfigFileTransformer().parse_file(_Named(text))
            except ParsingError:
                lines = EagerConfigFileTransformer().parse_file(_Named(text))
    except (ParsingError, ValueError, UnicodeError, RecursionError):
        return []
    return [line.replace("\n", " ") for line in lines]
