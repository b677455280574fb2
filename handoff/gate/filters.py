"""The gate's false-positive filters: what a plugin flags but is not a secret, and what is public by design.

After a plugin reports a value (handoff/gate/detectors.py), detect-secrets' own heuristic filters and these
drop it when it is a placeholder, a default login of a local service, a reference to a secret rather than the
secret, a digest, an SRI hash, a binary fixture, prose, or a value whose name says it is meant to be seen
(publishable keys, site keys, certificate pins, public JWK members). Vendor-specific detections (AWS, GitHub,
…) are never filtered by the "looks like code" heuristics.
"""

from __future__ import annotations

import base64
import binascii
import re
import urllib.parse
from collections import Counter
from collections.abc import Callable
from itertools import pairwise
from typing import TYPE_CHECKING

from handoff.gate.plugin_loader import heuristics
from handoff.lazy_regex import lazy_compile

if TYPE_CHECKING:
    from handoff.gate.detectors import PluginSpec

CREDENTIAL_WORDS = lazy_compile(
    r"key|token|secret|passw|pwd|auth|credential|bearer|private|session|cookie|salt|signing|api", re.IGNORECASE)
_SRI = lazy_compile(r"^sha(?:1|256|384|512)-")
_BINARY_MAGIC = (b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"%PDF", b"\x1f\x8b", b"PK\x03\x04", b"BM", b"RIFF",
                 b"\x00\x00\x01\x00", b"wOF", b"OTTO", b"\x00\x01\x00\x00", b"<svg", b"<?xml", b"\x7fELF")
_PLACEHOLDERS = lazy_compile(
    r"^(?:x+|\*+|\.+|-+|_+|#+|none|null|nil|true|false|undefined|todo|tbd|<[^>]*>|\{\{.*\}\}|%\(\w+\)s"
    r"|(?:your|my|the|some)[-_ ]?(?:api[-_ ]?|access[-_ ]?|auth[-_ ]?|app[-_ ]?|db[-_ ]?)?"
    r"(?:key|token|secret|password|pass|pwd)s?"
    # default credentials of local services (docker-compose, CI services, .env.example)
    r"|postgres|postgresql|mysql|mariadb|root|admin|guest|user|test|dev|local|default|pass|secret|password"
    r"|passwd|pwd|demo|docker|app|minioadmin|rabbitmq|redis|mongo|sa|foo|bar|baz|qux|quux|value|something"
    r"|.*(?:changeme|change_me|change-me|changethis|change_this|change-this|example|placeholder|dummy|sample"
    r"|redacted|replace[-_]?me|[-_]here|xxxx|\*\*\*\*|…).*)$",
    re.IGNORECASE)
_EXAMPLE_HOSTS = lazy_compile(r"^(?:[\w-]+\.)*(?:example\.(?:com|org|net)|[\w-]+\.(?:example|test|invalid))$",
                            re.IGNORECASE)
# `secret_name = "…"`, `passwordField: …`: the value names or points to a secret, it is not one.
_REFERENCE_NAME = lazy_compile(
    r"(?:name|names|ref|id|ids|type|types|kind|path|file|filename|field|env|var|label|prompt|length|len|policy"
    r"|manager|provider|store|hint|regex|pattern|mode|version|count|min|max|enabled|required|format|header"
    r"|url|uri|arn|location|source|class|message|msg|text|title|placeholder|description|help|error)$",
    re.IGNORECASE)
_IDENTIFIER = lazy_compile(r"^[A-Za-z][A-Za-z_.-]*$")
_KEYWORD_IN_NAME = lazy_compile(r"key|pass|pwd|secret|token", re.IGNORECASE)
_NAME_BEFORE_VALUE = lazy_compile(r"([A-Za-z][\w.-]*)[\"'\]]*\s*(?:[:=!]=?=?|=>|:=|\()\s*[@\"'`]*$")


def is_false_positive(spec: PluginSpec, value: str, line: str, path: str) -> bool:
    heuristic = heuristics()
    if heuristic.is_sequential_string(value) or heuristic.is_templated_secret(value) \
            or heuristic.is_not_alphanumeric_string(value) or _is_filler(value):
        return True
    if spec.name in ("BasicAuthDetector", "UrlPasswordDetector"):
        return _is_local_or_default_login(value.rsplit(":", 1)[-1], line)
    if spec.family == "vendor":
        return False
    if (heuristic.is_potential_uuid(value) or heuristic.is_likely_id_string(value, line)
            or heuristic.is_prefixed_with_dollar_sign(value)):
        return True
    if spec.module == "rules":          # a catalogue rule's structure already says where the value is
        return _is_wordy(value) or _is_keyword_false_positive(value, line, named=False) or _is_example_basic(value)
    if spec.family == "keyword":
        return _is_indirect_reference(line, value) or _is_keyword_false_positive(value, line)
    return _is_entropy_false_positive(spec, value, line)


def _is_local_or_default_login(password: str, line: str) -> bool:
    """`postgres://app:app@db`, `amqp://guest:guest@localhost`: development defaults, not secrets."""
    plain = urllib.parse.unquote(password)
    if _PLACEHOLDERS.match(password) or password.startswith(("$", "{", "<", "%")) or " " in plain \
            or all(_PLACEHOLDERS.match(part) for part in re.split(r"[^A-Za-z0-9]+", plain) if part):
        return True
    host = re.search(r":" + re.escape(password) + r"@([\w.-]+)", line)
    if host and _EXAMPLE_HOSTS.match(host.group(1)) and not _is_random_password(plain):
        return True             # documentation hosts (RFC 2606): example.com, *.example, *.test, *.invalid
    # A real password stays a secret on localhost too; only `user:user@` style defaults are let through.
    return any(match.group(1) == password
               for match in re.finditer(r"://([^:/@\s]*):" + re.escape(password) + r"@", line))


def _is_random_password(value: str) -> bool:
    """`kq8!Zt2mPw9x`: long, digits and lowercase with capitals or symbols, no sample word. A documentation host
    does not make it a sample (a host is what people scrub before sharing; the password they forget)."""
    plain = value.lower().translate(_LEET)
    return (len(value) >= 10 and any(ch.isdigit() for ch in value) and any(ch.islower() for ch in value)
            and (any(ch.isupper() for ch in value) or not value.isalnum()) and not _SAMPLE_WORD.search(plain))


_LEET = str.maketrans("013457@$", "oieastas")
_SAMPLE_WORD = lazy_compile(r"pass|secret|word|admin|test|example|demo|sample|changeme|qwerty|letmein")


# detect-secrets' is_indirect_reference (`secret = get_secret()`, `key = headers['apikey']`) without its
# leading `([^\v=!:]*)\s*`, which can match empty anyway and makes the search quadratic in the line length.
_INDIRECT_REFERENCE = lazy_compile(r"(?::=?|[!=]{1,3})\s*[\w.-]+[\[\(][^\v]*[\]\)]")


def _is_indirect_reference(line: str, value: str = "") -> bool:
    """`secret = get_secret()`; but not `connect(host=h, password='s3cr3t')`, where the value is a literal."""
    if len(line) > 1000 or not _INDIRECT_REFERENCE.search(line):
        return False
    if not value:
        return True
    if _is_wordy(value):
        return True         # `Model(password='IAmSensitive')` in a docstring: words, not a credential
    quoted = re.escape(value)
    return not re.search(r"[\w\]\\\"'-]\s*(?:=|:)\s*(?:[\"'`]|\\\")" + quoted + r"(?:[\"'`]|\\\")", line)


def _is_filler(value: str) -> bool:
    """`ACxxxxxxxxxxxxxxxx`, `AKIA0000000000000000`: one character makes up half the value."""
    return len(value) >= 8 and Counter(value).most_common(1)[0][1] * 2 > len(value)


def is_placeholder(value: str) -> bool:
    """Empty, a reference (`${VAR}`), or an obvious placeholder (`changethis`, `<your-token>`, `xxxx`)."""
    value = value.strip()
    return (not value or value.startswith(("$", "{{", "%(", "<")) or bool(_PLACEHOLDERS.match(value))
            or bool(_EXAMPLE_PASSWORD.match(value)) or _is_filler(value))


def _is_keyword_false_positive(value: str, line: str, named: bool = True) -> bool:
    value = value.strip()
    if any(ch.isspace() for ch in value):          # prose: "Enter your password"
        return True
    if value.endswith(("_", "-", "/", ":")) and _CONCATENATED.search(line, max(line.find(value), 0)):
        return True                                 # the prefix of a concatenation: "apk_user_" + …
    if _IDENTIFIER.match(value) and _KEYWORD_IN_NAME.search(value):
        return True                                 # a name: "challengePassword", "db_secret_arn"
    if _PLACEHOLDERS.match(value) or value.startswith(("${", "{{", "%(", "os.environ", "process.env", "ENV[")):
        return True
    if _EXAMPLE_PASSWORD.match(value) or _DESCRIPTIVE.fullmatch(value) or _SHORT_WORD.fullmatch(value):
        return True                                 # "password123", "just-for-generating-client", "weak"
    if not named:
        return False
    position = line.find(value)
    name = _NAME_BEFORE_VALUE.search(line, 0, position) if position > 0 else None
    return bool(name and _REFERENCE_NAME.search(name.group(1)))


_EXAMPLE_PASSWORD = lazy_compile(
    r"^(?:password|passw0rd|passwd|pass|secret|admin|test|testing|qwerty|letmein|welcome|changeme|hunter)"
    r"\d{0,4}[!.]?$", re.IGNORECASE)
_DESCRIPTIVE = lazy_compile(r"[A-Za-z]+(?:[-_.][A-Za-z]+){2,}")       # three or more words: a description
_SHORT_WORD = lazy_compile(r"[a-z]{1,10}")                              # one lowercase word: "weak", "incorrect"
_CONCATENATED = lazy_compile(r"[\"'`]\s*(?:\+|\.\s|\|\||,\s*\w+\))|\$\{|%s|\{\}")

# Public by design: values whose name says they are meant to be seen (publishable/site/public keys,
# certificate pins, JWKS public members), and prefixes of publishable keys.
_PUBLIC_NAME = lazy_compile(
    r"publishable|public|sitekey|site[-_]key|site_?id|pin[-_]sha|(?:^|[^a-z])pin(?:s|ned)?(?:[^a-z]|$)|spki|fingerprint"
    r"|vapid|application_?server_?key|search[-_]?(?:only|api)?[-_]?key|searchkey|anon[-_]?key|measurement_?id"
    r"|client[-_]?id|app[-_]?id|tracking|integrity|checksum|digest|sha(?:1|256|384|512)|hash|nonce|salt_?rounds",
    re.IGNORECASE)
_PUBLIC_PREFIX = lazy_compile(r"^(?:pk_(?:live|test)_|sb_publishable_|pk\.eyJ|6L[\w-]{38}$|0x4AAAAAAA|BP[\w-]{80,}$)")
_JWK_PUBLIC_MEMBER = lazy_compile(r"[\"'](?:n|e|x|y|x5c|x5t|x5t#S256|kid|crv|kty|use|alg)[\"']\s*:\s*\[?\s*[\"']$")
_SEARCH_CONTEXT = lazy_compile(r"indexName|docsearch|searchOnly|search_only|algoliasearch|typesense|meilisearch",
                             re.IGNORECASE)
_I18N_PATH = lazy_compile(r"(?:^|/)(?:locales?|i18n|l10n|lang|langs|languages|translations?|messages)(?:/|$)"
                        r"|\.(?:po|pot|xliff|xlf|strings|arb|resx)$|(?:^|/)[a-z]{2}(?:[-_][A-Za-z]{2})?\.(?:json|ya?ml)$")


def is_public(spec: PluginSpec, value: str, line: str, path: str, nearby: Callable[[], str] | None) -> bool:
    """Values that are public by design, or words, not secrets."""
    if spec.name == "JwtTokenDetector":
        return _is_public_jwt(value)
    if spec.family == "vendor":
        return False
    if _PUBLIC_PREFIX.match(value):
        return True
    position = line.find(value)
    before = line[:position] if position >= 0 else line
    name = _NAME_BEFORE_VALUE.search(before)
    if name and _PUBLIC_NAME.search(name.group(1)):
        return True
    if _JWK_PUBLIC_MEMBER.search(before) or re.search(r"(?:pin-sha256|sha256/)\s*=?\s*[\"']?$", before):
        return True
    if _is_word(value) and (_I18N_PATH.search(path) or not value.isascii()):
        return True                 # a translation of "password"/"secret", not one
    # a search-only key of a hosted search service, shipped to browsers
    return nearby is not None and bool(_SEARCH_CONTEXT.search(nearby()))


_CAMEL_PART = lazy_compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")


def _is_wordy(value: str) -> bool:
    """`Proxy-Authorization`, `options`, `ACAccountCredential`: names and words, not credentials.
    Random letters split into humps of one or two characters; words into longer ones."""
    if not re.fullmatch(r"[A-Za-z]+(?:[-_.][A-Za-z]+)*", value):
        return False
    parts = _CAMEL_PART.findall(value)
    return bool(parts) and sum(map(len, parts)) / len(parts) >= 4


def _is_example_basic(value: str) -> bool:
    """`Basic dXNlcjpwYXNz`: HTTP Basic credentials whose password is a placeholder (`user:pass`)."""
    if len(value) > 200 or not re.fullmatch(r"[A-Za-z0-9+/]+={0,2}", value):
        return False
    try:
        user, _, password = base64.b64decode(value + "=" * (-len(value) % 4)).decode("utf-8").partition(":")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return False
    return bool(_) and (password == user or is_placeholder(password) or _SHORT_WORD.fullmatch(password) is not None)


def _is_word(value: str) -> bool:
    return bool(re.fullmatch(r"[^\W\d_]+(?:[ '-][^\W\d_]+)*[.?!]?", value))


def _is_public_jwt(value: str) -> bool:
    """A JWT whose payload says it is the public/anonymous role (e.g. a Supabase anon key)."""
    parts = value.split(".")
    if len(parts) < 2:
        return False
    try:
        payload = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return False
    return bool(re.search(r"\"role\"\s*:\s*\"(?:anon|public)\"", payload))


def _is_entropy_false_positive(spec: PluginSpec, value: str, line: str) -> bool:
    if _SRI.match(value) or "integrity" in line:
        return True           # subresource-integrity / lock-file hashes
    if _is_ordered(value):
        return True           # an alphabet or option list: "ABC…xyz0123456789-_", "46abcefl…BCDM"
    credential_context = bool(CREDENTIAL_WORDS.search(line.replace(value, " ")))
    if not credential_context and _is_indirect_reference(line):
        return True           # `x = f("…")`: detect-secrets' indirect-reference heuristic
    if spec.name == "HexHighEntropyString":
        # Bare hex strings in code are digests, commit shas and ids; hex secrets are named as such.
        return not credential_context
    if credential_context:
        return False
    return len(value) >= 200 or _decodes_to_fixture(value)


def has_credential_context(value: str, line: str) -> bool:
    """A credential word (key, token, password, …) on the line, outside the value itself."""
    return bool(CREDENTIAL_WORDS.search(line.replace(value, " ")))


def _is_ordered(value: str) -> bool:
    rising = sum(1 for left, right in pairwise(value) if right > left)
    return rising >= 0.9 * (len(value) - 1)


def _decodes_to_fixture(value: str) -> bool:
    """Base64 of a known binary format or of readable text: test data, not a key."""
    data = value.replace("-", "+").replace("_", "/")
    try:
        raw = base64.b64decode(data + "=" * (-len(data) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
    if raw.startswith(_BINARY_MAGIC):
        return True
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    printable = sum(ch.isprintable() or ch in "\n\t" for ch in text)
    return len(text) >= 12 and printable == len(text) and text.count(" ") >= 2
