"""Line scanner behind the secret gate: a cheap pre-filter in front of detect-secrets' own plugins.

detect-secrets runs every plugin on every line (~0.1 MB/s). Here each plugin has a *trigger*, a
regex that matches every line the plugin could flag (its literal prefixes, its keywords, or a
quoted token long enough to pass its entropy limit). A line reaches a plugin only when that
plugin's trigger matches it, and `detect_secrets` is not even imported while no line is a
candidate. Finding candidates uses a few dozen literal-led "needle" scans over the whole text (C
speed) instead of one big alternation, which Python's `re` would try branch by branch at every
position; each needle also names the plugins it stands for, so a line is routed only to those.

After the plugins (loaded by handoff/gate/plugin_loader.py), the filters in handoff/gate/filters.py drop
values that are not secrets.
"""

from __future__ import annotations

import bisect
import math
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate

from handoff.gate import filters, plugin_loader
from handoff.gate.catalogue import RULES
from handoff.lazy_regex import lazy_compile

PRIVATE_KEY = "Private Key"
AWS_KEY = "AWS Access Key"
KEYWORD = "Secret Keyword"

# ---------------------------------------------------------------------------------------------
# Plugins and their triggers

_B64 = r"A-Za-z0-9+/\\_=-"   # Base64HighEntropyString's charset (regular + url-safe base64, padding)
_KEYWORDS = (  # KeywordDetector's DENYLIST
    r"api_?key|auth_?key|service_?key|account_?key|db_?key|database_?key|priv_?key|private_?key"
    r"|client_?key|db_?pass|database_?pass|key_?pass|password|passwd|pwd|secret|contrase(?:ñ|n)a"
)


@dataclass(frozen=True)
class PluginSpec:
    name: str        # detect-secrets class name (also what a baseline's plugins_used calls it)
    module: str      # detect_secrets.plugins.<module>
    trigger: str     # matches (at least) every line the plugin can flag
    family: str      # "vendor" (a fixed token shape), "keyword" or "entropy"


PLUGINS: tuple[PluginSpec, ...] = (
    PluginSpec("ArtifactoryDetector", "artifactory", r"AKC[a-zA-Z0-9]{10}|AP[\dABCDEF][a-zA-Z0-9]{8}", "vendor"),
    PluginSpec("AWSKeyDetector", "aws", r"A3T[A-Z0-9]|ABIA|ACCA|AKIA|ASIA|(?i:aws)", "vendor"),
    PluginSpec("AzureStorageKeyDetector", "azure_storage_key", r"AccountKey=", "vendor"),
    PluginSpec("BasicAuthDetector", "basic_auth", r"://[^\s/?#@]+@", "vendor"),
    PluginSpec("CloudantDetector", "cloudant",
               r"(?i:cl(?:ou(?:dant)?)?[-_]?(?:api)?(?:key|pw|pass|token)|cloudant)", "vendor"),
    PluginSpec("DiscordBotTokenDetector", "discord",
               r"[MNO][a-zA-Z\d_-]{23,25}\.[a-zA-Z\d_-]{6}\.[a-zA-Z\d_-]{27}", "vendor"),
    PluginSpec("GitHubTokenDetector", "github_token", r"gh[pousr]_", "vendor"),
    PluginSpec("GitLabTokenDetector", "gitlab_token",
               r"gl(?:pat|dt|ft|soat|rt|cbt|imt|ptt|agent|oas)-|GR1348941", "vendor"),
    PluginSpec("IbmCloudIamDetector", "ibm_cloud_iam",
               r"(?i:(?:key|pwd|pass(?:word)?|token)[\"'\]]{0,2}[ =:>]+[\"']?[\w-]{44})", "vendor"),
    PluginSpec("IbmCosHmacDetector", "ibm_cos_hmac", r"(?i:secret[-_]?(?:access)?[-_]?key)", "vendor"),
    PluginSpec("JwtTokenDetector", "jwt", r"eyJ", "vendor"),
    PluginSpec("MailchimpDetector", "mailchimp", r"-us\d", "vendor"),
    PluginSpec("NpmDetector", "npm", r"_authToken=", "vendor"),
    PluginSpec("OpenAIDetector", "openai", r"T3BlbkFJ", "vendor"),
    PluginSpec("PrivateKeyDetector", "private_key", r"PRIVATE KEY|PuTTY-User-Key-File-|OpenVPN Static key",
               "vendor"),
    PluginSpec("PypiTokenDetector", "pypi_token", r"pypi-AgE", "vendor"),
    PluginSpec("SendGridDetector", "sendgrid", r"SG\.", "vendor"),
    PluginSpec("SlackDetector", "slack", r"(?i:xox[abposr]-|hooks\.slack\.com)", "vendor"),
    PluginSpec("SoftlayerDetector", "softlayer",
               r"(?i:sl[-_]?(?:api)?[-_]?(?:key|pwd|pass|token)|softlayer)", "vendor"),
    PluginSpec("SquareOAuthDetector", "square_oauth", r"sq0csp-", "vendor"),
    PluginSpec("StripeDetector", "stripe", r"[rs]k_live_", "vendor"),
    PluginSpec("TelegramBotTokenDetector", "telegram_token", r"\d{8}:[\w-]{35}", "vendor"),
    PluginSpec("TwilioKeyDetector", "twilio", r"(?:AC|SK)[a-z0-9]{32}", "vendor"),
    # The rule catalogue's plugins (handoff/gate/catalogue.py): triggered by each rule's keywords.
    *(PluginSpec(rule.class_name, "rules", rule.trigger or (
        ("(?i:" if rule.ignore_case else "(?:") + "|".join(re.escape(k) for k in rule.keywords) + ")"),
                 "keyword" if rule.generic else "vendor") for rule in RULES),
    PluginSpec("KeywordDetector", "keyword", f"(?i:{_KEYWORDS})", "keyword"),
    # An entropy above the limit needs that many distinct characters: > 4.5 bits -> 23, > 3.0 -> 9.
    PluginSpec("Base64HighEntropyString", "high_entropy_strings",
               f"\"[{_B64}]{{23,}}\"|'[{_B64}]{{23,}}'", "entropy"),
    PluginSpec("HexHighEntropyString", "high_entropy_strings",
               r"\"[0-9a-fA-F]{9,}\"|'[0-9a-fA-F]{9,}'", "entropy"),
)
# IPPublicDetector is left out on purpose: a public IP address is not a credential.

_TRIGGERS = tuple((spec, lazy_compile(spec.trigger)) for spec in PLUGINS)   # most triggers never run

# Coarse scan over the whole text: needle -> the plugins it stands for. For each plugin, wherever its
# trigger matches, one of its needles matches too. Each needle starts with a literal, so `re` finds
# it with a fast substring search instead of trying a big alternation at every position.
_AWS, _ENTROPY_B64, _ENTROPY_HEX, _KEYWORD = "AWSKeyDetector", "Base64HighEntropyString", "HexHighEntropyString", \
    "KeywordDetector"
_ASSIGNED = ("KeywordDetector", "IbmCloudIamDetector", "CloudantDetector", "SoftlayerDetector")
_CASED_NEEDLES: tuple[tuple[str, frozenset[str]], ...] = tuple(
    (pattern, frozenset(names)) for pattern, names in (
        (r"AKC[a-zA-Z0-9]{10}", ["ArtifactoryDetector"]), (r"AP[\dABCDEF][a-zA-Z0-9]{8}", ["ArtifactoryDetector"]),
        ("A3T", [_AWS]), ("ABIA", [_AWS]), ("ACCA", [_AWS]), ("AKIA", [_AWS]), ("ASIA", [_AWS]),
        ("AccountKey=", ["AzureStorageKeyDetector"]), (r"://[^\s/?#@]+@", ["BasicAuthDetector"]),
        (r"\.[a-zA-Z\d_-]{6}\.[a-zA-Z\d_-]{27}", ["DiscordBotTokenDetector"]),
        (r"gh[pousr]_", ["GitHubTokenDetector"]), ("GR1348941", ["GitLabTokenDetector"]),
        (r"gl(?:pat|dt|ft|soat|rt|cbt|imt|ptt|agent|oas)-", ["GitLabTokenDetector"]),
        ("eyJ", ["JwtTokenDetector"]), (r"-us\d", ["MailchimpDetector"]), ("_authToken=", ["NpmDetector"]),
        ("T3BlbkFJ", ["OpenAIDetector"]), ("PRIVATE KEY", ["PrivateKeyDetector"]),
        ("PuTTY-User-Key-File-", ["PrivateKeyDetector"]), ("OpenVPN Static key", ["PrivateKeyDetector"]),
        ("pypi-AgE", ["PypiTokenDetector"]),
        (r"SG\.", ["SendGridDetector"]), ("sq0csp-", ["SquareOAuthDetector"]), ("k_live_", ["StripeDetector"]),
        (r":[\w-]{35}", ["TelegramBotTokenDetector"]), (r"AC[a-z0-9]{32}", ["TwilioKeyDetector"]),
        (r"SK[a-z0-9]{32}", ["TwilioKeyDetector"]),
        (f"\"[{_B64}]{{23,}}\"", [_ENTROPY_B64]), (f"'[{_B64}]{{23,}}'", [_ENTROPY_B64]),
        (r"\"[0-9a-fA-F]{9,}\"", [_ENTROPY_HEX]), (r"'[0-9a-fA-F]{9,}'", [_ENTROPY_HEX]),
        *((re.escape(keyword), [rule.class_name])
          for rule in RULES if not rule.ignore_case for keyword in rule.keywords),
    ))
# Searched in the case-folded text: every case-insensitive trigger contains one of these.
_FOLDED_NEEDLES: tuple[tuple[str, frozenset[str]], ...] = tuple(
    (pattern, frozenset(names)) for pattern, names in (
        ("key", [*_ASSIGNED, "IbmCosHmacDetector"]), ("pw", _ASSIGNED), ("pass", _ASSIGNED),
        ("token", _ASSIGNED[1:]), ("secret", [_KEYWORD, "IbmCosHmacDetector"]), ("contrase", [_KEYWORD]),
        ("aws", [_AWS]), ("cloudant", ["CloudantDetector"]), ("softlayer", ["SoftlayerDetector"]),
        (r"xox[abposr]-", ["SlackDetector"]), (r"hooks\.slack\.com", ["SlackDetector"]),
        *((re.escape(keyword.lower()), [rule.class_name]) for rule in RULES if rule.ignore_case
          for keyword in rule.keywords),
    ))


def _split_literals(needles: tuple[tuple[str, frozenset[str]], ...]) -> tuple[
        tuple[tuple[str, frozenset[str]], ...], tuple[tuple[re.Pattern[str], frozenset[str]], ...]]:
    """Literal needles (see _LiteralSearch) apart from patterns; only the patterns are compiled."""
    literals: dict[str, set[str]] = {}
    patterns = []
    for needle, names in needles:
        text = needle.replace("\\", "")
        if re.escape(text) == needle:
            literals.setdefault(text, set()).update(names)
        else:
            patterns.append((re.compile(needle), names))
    # Literals that share their first three characters, one of them punctuation ("sk-", "dp."), are
    # searched as that prefix: one pass over the text instead of several.
    groups: dict[str, list[str]] = {}
    for literal in literals:
        groups.setdefault(literal[:3], []).append(literal)
    for prefix, members in groups.items():
        if len(members) > 1 and not prefix.isalnum():
            for member in members:
                literals.setdefault(prefix, set()).update(literals.pop(member))
    return tuple((literal, frozenset(names)) for literal, names in literals.items()), tuple(patterns)


@dataclass(frozen=True)
class _LiteralSearch:
    """Many literals in few passes. Python's `re` tries an alternation at every position unless the
    first character rules a position out, which it checks in C against a set: so literals that end in
    punctuation (`ghp_`, `sk-`, `dp.`) are searched reversed, in the reversed text, where they start with
    a rare character; those that start with one (`AKIA`, `--token`) forwards; the rest with str.find."""

    reversed_: re.Pattern[str] | None
    forward: re.Pattern[str] | None
    finds: tuple[str, ...]
    names: dict[str, frozenset[str]]

    @classmethod
    def build(cls, literals: tuple[tuple[str, frozenset[str]], ...]) -> _LiteralSearch:
        names = dict(literals)
        ends_odd = [lit for lit in names if not lit[-1].isalnum()]
        starts_odd = [lit for lit in names if lit[-1].isalnum() and not lit[0].islower()]
        rest = tuple(lit for lit in names if lit[-1].isalnum() and lit[0].islower())
        # An alternation reports only the longest literal at a position: it stands for the shorter ones that
        # match there too (forwards, `EAAA` for `EAA`; in the reversed text, a literal for those it ends with).
        for long in starts_odd:
            names[long] = names[long].union(*(names[lit] for lit in starts_odd if long.startswith(lit)))
        for long in ends_odd:
            names[long] = names[long].union(*(names[lit] for lit in ends_odd if long.endswith(lit)))

        def alternation(items: list[str]) -> re.Pattern[str] | None:
            return re.compile("|".join(re.escape(item) for item in sorted(items, key=len, reverse=True))) \
                if items else None
        return cls(alternation([lit[::-1] for lit in ends_odd]), alternation(starts_odd), rest, names)

    def positions(self, text: str) -> Iterator[tuple[int, frozenset[str]]]:
        """(offset, plugins) of literal hits; at least one per line that holds any literal."""
        if self.reversed_ is not None:
            backwards, size = text[::-1], len(text)
            for match in _overlapping(self.reversed_, backwards):
                yield size - match.end(), self.names[match.group()[::-1]]
        if self.forward is not None:
            for match in _overlapping(self.forward, text):
                yield match.start(), self.names[match.group()]
        for literal in self.finds:
            names, find = self.names[literal], text.find
            at = find(literal)
            while at >= 0:
                yield at, names
                at = find(literal, text.find("\n", at) + 1 or len(text))   # one hit per line is enough


def _overlapping(pattern: re.Pattern[str], text: str) -> Iterator[re.Match[str]]:
    """Every match, also those that start inside an earlier one (`EAAKIA…`: `EAA` hides `AKIA` from finditer)."""
    match = pattern.search(text)
    while match is not None:
        yield match
        match = pattern.search(text, match.start() + 1)


_CASED_LITERALS, _CASED_PATTERNS = _split_literals(_CASED_NEEDLES)
_FOLDED_LITERALS, _FOLDED_PATTERNS = _split_literals(_FOLDED_NEEDLES)
_CASED_SEARCH = _LiteralSearch.build(_CASED_LITERALS)
_FOLDED_SEARCH = _LiteralSearch.build(_FOLDED_LITERALS)
ALL_PLUGINS = frozenset(spec.name for spec in PLUGINS)
# Characters that `re.IGNORECASE` equates with an ASCII letter but `str.lower()` does not.
_FOLD_ODD = lazy_compile("[\u0130\u0131\u017f\u212a]")
_FOLD_MAP = {"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"}


def _fold(text: str) -> str:
    """Lower-case with the same length as `text`, so offsets and line numbers carry over."""
    if not text.isascii() and _FOLD_ODD.search(text):
        text = _FOLD_ODD.sub(lambda m: _FOLD_MAP[m.group()], text)
    return text.lower()


def candidate_lines(text: str, lines: list[str] | None = None) -> dict[int, set[str]]:
    """0-based indices of the lines of `text` (split on "\\n") that some plugin could flag -> those plugins."""
    if lines is None:
        lines = text.split("\n")
    starts = [0, *accumulate(len(line) + 1 for line in lines)]
    found: dict[int, set[str]] = {}
    folded = _fold(text)
    for haystack, search in ((text, _CASED_SEARCH), (folded, _FOLDED_SEARCH)):
        for at, names in search.positions(haystack):
            index = bisect.bisect_right(starts, at) - 1
            known = found.get(index)
            if known is None:
                found[index] = set(names)
            else:
                known |= names
    for haystack, needles in ((text, _CASED_PATTERNS), (folded, _FOLDED_PATTERNS)):
        for needle, names in needles:
            search = needle.search
            match = search(haystack)
            while match:
                index = bisect.bisect_right(starts, match.start()) - 1
                known = found.get(index)
                if known is None:
                    found[index] = set(names)
                else:
                    known |= names
                match = search(haystack, starts[index + 1])      # one hit per line is enough
    return found


@dataclass(frozen=True)
class FileProfile:
    """How a file is scanned, from its name."""

    entropy: bool = True     # run the high-entropy plugins (off for lock files, generated files)
    dotenv: bool = False     # KEY=value lines: quote the value so the plugins see it as a string
    keyword: bool = True     # run KeywordDetector (off for the baseline file, which names secrets)


_LOCK_FILES = frozenset({
    "brewfile.lock.json", "cartfile.resolved", "composer.lock", "gemfile.lock", "package.resolved",
    "package-lock.json", "npm-shrinkwrap.json", "podfile.lock", "yarn.lock", "pipfile.lock", "poetry.lock",
    "cargo.lock", "packages.lock.json", "pnpm-lock.yaml", "go.sum", "go.work.sum", "uv.lock", "pdm.lock",
    "flake.lock", "mix.lock", "pubspec.lock", "gradle.lockfile", "bun.lock", "deno.lock", "conan.lock",
    "paket.lock", "project.assets.json",
})
# detect-secrets' is_non_text_file list (binary and generated formats), plus source maps and snapshots.
_NO_ENTROPY_EXTENSIONS = frozenset({
    ".7z", ".bin", ".bmp", ".bz2", ".class", ".css", ".dmg", ".doc", ".eot", ".exe", ".gif", ".gz", ".ico",
    ".iml", ".ipr", ".iws", ".jar", ".jpg", ".jpeg", ".lock", ".map", ".mo", ".pdf", ".png", ".prefs", ".psd",
    ".rar", ".realm", ".s7z", ".sum", ".svg", ".tar", ".tif", ".tiff", ".ttf", ".webp", ".woff", ".woff2",
    ".xls", ".xlsx", ".zip", ".lockfile", ".snap",
})
_MINIFIED = lazy_compile(r"[.-]min\.(?:js|mjs|cjs|css)$|\.bundle\.js$|\.chunk\.js$", re.IGNORECASE)
BASELINE_NAME = ".secrets.baseline"


@lru_cache(maxsize=4096)
def profile_for(path: str) -> FileProfile:
    name = os.path.basename(path).lower()
    if name == BASELINE_NAME:            # holds hashes of secrets, never secrets
        return FileProfile(entropy=False, keyword=False)
    generated = (
        name in _LOCK_FILES
        or os.path.splitext(name)[1] in _NO_ENTROPY_EXTENSIONS
        or "swagger" in path.lower()      # detect-secrets' is_swagger_file
        or bool(_MINIFIED.search(name))
    )
    dotenv = name.startswith(".env") or name.endswith(".env") or name == ".envrc"
    return FileProfile(entropy=not generated, dotenv=dotenv)


TEXT_PROFILE = FileProfile()
_LONG_LINE = 1000     # longer lines are minified or generated code: high-entropy plugins skip them


def plugins_for_line(line: str, profile: FileProfile = TEXT_PROFILE,
                     names: frozenset[str] | set[str] = ALL_PLUGINS) -> tuple[PluginSpec, ...]:
    """The plugins among `names` whose trigger matches `line` (the ones worth running on it)."""
    entropy = profile.entropy and len(line) <= _LONG_LINE
    return tuple(
        spec for spec, trigger in _routed(frozenset(names))
        if (entropy or spec.family != "entropy")
        and (profile.keyword or spec.family == "vendor")
        and trigger.search(line)
        and (spec.family != "entropy" or _entropy_possible(spec.name, line))
    )


# Shannon entropy is at most log2 of the number of distinct characters, so a value can pass an entropy
# plugin's limit only with more than 2**limit distinct ones (default limits: 4.5 bits for base64 -> 23,
# 3.0 for hex -> 9; the gate never changes them). Every value a plugin reads lies within one run of its
# charset, so a line whose runs all have fewer distinct characters cannot be flagged: a quoted commit id
# or a hex digest then never loads detect-secrets.
_ENTROPY_LIMITS = {_ENTROPY_B64: 4.5, _ENTROPY_HEX: 3.0}
_ENTROPY_CHARSETS = {_ENTROPY_B64: _B64, _ENTROPY_HEX: "0-9a-fA-F"}
_ENTROPY_RUNS = {
    name: (lazy_compile(f"[{_ENTROPY_CHARSETS[name]}]{{{least},}}"), least)
    for name, least in ((name, math.floor(2 ** limit) + 1) for name, limit in _ENTROPY_LIMITS.items())
}


def _entropy_possible(name: str, line: str) -> bool:
    runs, least_distinct = _ENTROPY_RUNS[name]
    return any(len(set(run.group())) >= least_distinct for run in runs.finditer(line))


@lru_cache(maxsize=1024)
def _routed(names: frozenset[str]) -> tuple[tuple[PluginSpec, re.Pattern[str]], ...]:
    """The (plugin, trigger) pairs for `names`, in PLUGINS order (few distinct sets occur: cached)."""
    return tuple(pair for pair in _TRIGGERS if pair[0].name in names)


def is_candidate(line: str, path: str = "") -> bool:
    """True when the pre-filter lets `line` through to at least one plugin."""
    profile = profile_for(path) if path else TEXT_PROFILE
    if profile.dotenv:
        return bool(plugins_for_line(dotenv_quote(line), profile))
    names = candidate_lines(line).get(0)
    return bool(names) and bool(plugins_for_line(line, profile, names))


_DOTENV = lazy_compile(r"^(\s*(?:export\s+)?[A-Za-z_][\w.-]*\s*=\s*)([^\s'\"#][^\s#]*)(.*)$")


def dotenv_quote(line: str) -> str:
    """`KEY=value` -> `KEY="value"`: detect-secrets only considers quoted strings (or keyword forms)."""
    match = _DOTENV.match(line)
    return f'{match.group(1)}"{match.group(2)}"{match.group(3)}' if match else line


# ---------------------------------------------------------------------------------------------
# Scanning one line


@dataclass(frozen=True)
class Hit:
    kind: str        # detect-secrets secret_type
    value: str       # the raw value: used to redact; never shown
    family: str
    reported: str = ""   # the value as detect-secrets reports (and hashes) it, when that differs
    prefix: str = ""     # what a masked preview may show: a vendor prefix, never a generic password's start

    @property
    def hashed_values(self) -> tuple[str, ...]:
        """The values a baseline entry may hash (detect-secrets hashes e.g. only "ghp" of a GitHub token)."""
        return (self.value, self.reported) if self.reported and self.reported != self.value else (self.value,)


# Their regexes capture only the token's prefix ("ghp"), or an optional part: take the whole match.
_WHOLE_MATCH_PLUGINS = frozenset({"GitHubTokenDetector", "GitLabTokenDetector"})
_RANK = {"vendor": 0, "keyword": 1, "entropy": 2}


def scan_line(line: str, path: str, profile: FileProfile = TEXT_PROFILE,
              specs: Iterable[PluginSpec] | None = None, nearby: Callable[[], str] | None = None) -> list[Hit]:
    """Secrets in one line (the pre-filter already let it through), false positives dropped."""
    if specs is None:
        specs = plugins_for_line(line, profile)
    if not line.isascii():
        line = _LONE_SURROGATE.sub("\ufffd", line)   # detect-secrets hashes values as UTF-8
    hits: dict[str, Hit] = {}
    for spec in specs:
        if spec.name == _ENTROPY_HEX and not filters.CREDENTIAL_WORDS.search(line):
            continue        # its finds would all be dropped below (bare hex is a digest or an id)
        if spec.family == "entropy" and "integrity" in line:
            continue        # the same: subresource-integrity and lock-file hashes
        for kind, value, reported in _plugin_values(spec, line, path):
            if not value or filters.is_false_positive(spec, value, line, path) \
                    or filters.is_public(spec, value, line, path, nearby):
                continue
            if spec.family == "vendor":
                value = whole_token(line, value, spec.name)
            known = hits.get(value)
            if known is None or _RANK[spec.family] < _RANK[known.family]:
                hits[value] = Hit(kind=kind, value=value, family=spec.family, reported=reported,
                                  prefix=vendor_prefix(spec, value))
    if not any(hit.kind == PRIVATE_KEY for hit in hits.values()):
        # detect-secrets lists the usual headers but not e.g. "BEGIN ENCRYPTED PRIVATE KEY", PuTTY v3, OpenVPN.
        match = PRIVATE_KEY_BEGIN.search(line)
        if match:
            hits[match.group()] = Hit(kind=PRIVATE_KEY, value=match.group(), family="vendor")
    return _drop_overlaps(list(hits.values()))


def _drop_overlaps(hits: list[Hit]) -> list[Hit]:
    """One value seen by two plugins (a JWT in an Authorization header) is one finding: the most specific."""
    if len(hits) < 2:
        return hits
    kept = []
    for hit in hits:
        if not any(other is not hit and hit.value in other.value and (
                _RANK[other.family] < _RANK[hit.family] or len(other.value) > len(hit.value)) for other in hits):
            kept.append(hit)
    return kept


_TOKEN_TAIL = lazy_compile(r"[A-Za-z0-9_+/=-]*")
_JWT_TAIL = lazy_compile(r"[A-Za-z0-9_+/=.-]*")


def whole_token(line: str, value: str, plugin: str = "") -> str:
    """The whole token around a match: a regex that stops after 24 characters of a 99-character key, or
    before a JWT's signature, must not leave the rest of it behind when the value is redacted."""
    start = line.find(value)
    if start < 0:
        return value
    tail = (_JWT_TAIL if plugin == "JwtTokenDetector" else _TOKEN_TAIL).match(line, start + len(value))
    whole = value + (tail.group() if tail else "")
    return whole.rstrip(".") or value


_AWS_PREFIX = lazy_compile(r"^(?:A3T[A-Z0-9]|ABIA|ACCA|AKIA|ASIA)")
_SHOWN_PREFIX = {"GitHubTokenDetector": 4, "SlackDetector": 5, "StripeDetector": 8, "SendGridDetector": 3,
                 "JwtTokenDetector": 3, "PypiTokenDetector": 5, "SquareOAuthDetector": 7, "NpmDetector": 0}


def vendor_prefix(spec: PluginSpec, value: str) -> str:
    """The vendor prefix a masked preview may show (`ghp_`, `AKIA`, `sk-ant-`); "" for anything generic."""
    if spec.family != "vendor":
        return ""
    if spec.module == "rules":
        rule = _RULES_BY_CLASS[spec.name]
        return rule.prefix if value.startswith(rule.prefix) else ""
    if spec.name == "AWSKeyDetector":
        match = _AWS_PREFIX.match(value)
        return match.group() if match else ""
    if spec.name == "GitLabTokenDetector":
        dash = value.find("-")
        return value[:dash + 1] if 0 < dash <= 8 else ""
    return value[:_SHOWN_PREFIX.get(spec.name, 0)]


_RULES_BY_CLASS = {rule.class_name: rule for rule in RULES}


def _plugin_values(spec: PluginSpec, line: str, path: str) -> list[tuple[str, str, str]]:
    """(type, value, value as detect-secrets reports it) for each secret the plugin sees in `line`."""
    plugin = plugin_loader.plugin(spec)
    found = plugin.analyze_line(filename=path, line=line, line_number=0, context=None)
    if spec.name not in _WHOLE_MATCH_PLUGINS:
        return [(secret.type, secret.secret_value, secret.secret_value) for secret in found]
    values = []
    for regex in plugin.denylist:
        for match in regex.finditer(line):
            reported = next((group for group in match.groups() if group), match.group())
            values.append((plugin.secret_type, match.group(), reported))
    return values


_LONE_SURROGATE = lazy_compile("[\ud800-\udfff]")
PRIVATE_KEY_BEGIN = lazy_compile(r"BEGIN[A-Z0-9 ]* PRIVATE KEY(?: BLOCK)?|BEGIN OpenVPN Static key V1"
                               r"|PuTTY-User-Key-File-\d: \S+")

