"""Secret gate (detect-secrets): nothing leaves the machine before it has passed over those exact bytes.

CONTRACT (owned by the secret-gate work; the CLI, the hooks and the MCP server rely on these names).

`gate()` scans every line of the patch that would be sent (added, removed, context and header
lines) and every text (task, context, …), each attributed to its file and line. It honours the
repo's `.secrets.baseline` (hashed secrets per file, unless audited `"is_secret": true`; and its
exclude-files / exclude-lines / exclude-secrets regex filters) and detect-secrets' inline
`pragma: allowlist secret` / `pragma: allowlist nextline secret`. Changed sensitive files
(`.env`, keys, keystores, tfstate, …) are findings by name. With `redact=True` found values are
replaced by `[REDACTED <type>]` instead of blocking. Detection is detect-secrets' plugins behind
a pre-filter (see handoff/gate/detectors.py); a finding carries a masked preview, never the value.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from handoff.gate import detectors as scan
from handoff.gate import filters, structure
from handoff.gate.baseline import PRAGMA, PRAGMA_NEXTLINE, Baseline, load_baseline
from handoff.gate.sensitive import is_sensitive_path
from handoff.lazy_regex import lazy_compile

SENSITIVE_FILE = "Sensitive file"


@dataclass(frozen=True)
class Finding:
    source: str      # file path inside the patch, or "task" / "context" / "commits" for those texts
    line: int        # 1-based; new-file line for +/context lines, old-file line for - lines, line in a text;
                     # 0 for a diff header line (diff --git, ---/+++, rename, the text after a hunk's @@)
    kind: str        # detect-secrets type ("AWS Access Key", …) or "Sensitive file"
    preview: str     # masked; never the value


@dataclass(frozen=True)
class ScanReport:
    findings: tuple[Finding, ...]
    allowed: int             # matches let through by .secrets.baseline or `pragma: allowlist secret`
    scanned_bytes: int
    redacted: bool = False   # True when --redact replaced the findings' values in what is sent

    @property
    def blocked(self) -> bool:
        return bool(self.findings) and not self.redacted


@dataclass(frozen=True)
class GateResult:
    report: ScanReport
    patch: str                   # the patch as given, or redacted
    texts: dict[str, str]        # the texts as given, or redacted


def gate(patch: str, texts: Mapping[str, str], *, repo_root: str | None, redact: bool = False) -> GateResult:
    """Scan exactly what would be sent; with `redact`, return it with every finding's value replaced."""
    baseline = load_baseline(repo_root)
    patch_scan = _PatchScan(patch or "", baseline, repo_root)
    findings = list(patch_scan.findings)
    allowed = patch_scan.allowed
    text_scans = {key: _TextScan(key, value or "", baseline) for key, value in texts.items()}
    for text_scan in text_scans.values():
        findings.extend(text_scan.findings)
        allowed += text_scan.allowed
    scanned = _utf8_len(patch or "") + sum(_utf8_len(value or "") for value in texts.values())
    redacted = redact and bool(findings)
    out_patch, out_texts = patch, dict(texts)
    if redacted:
        values = {edit.value: edit.kind for scanned_ in (patch_scan, *text_scans.values())
                  for edit in scanned_.edits if edit.kind != scan.PRIVATE_KEY}
        out_patch = _redact_everywhere(patch_scan.redacted(), values)
        out_texts = {key: _redact_everywhere(text_scans[key].redacted(), values) for key in texts}
    report = ScanReport(findings=tuple(findings), allowed=allowed, scanned_bytes=scanned, redacted=redacted)
    return GateResult(report=report, patch=out_patch, texts=out_texts)


# ---------------------------------------------------------------------------------------------
# Masking


def mask(value: str, prefix: str = "") -> str:
    """A preview that tells values apart without showing them: `AKIA…(20 chars)`, `…(9 chars)`.

    At most a vendor prefix is shown (a fixed, public part of the format), and only while it leaves
    most of the value hidden; never the first characters of a password or a generic token.
    """
    if prefix and value.startswith(prefix) and len(prefix) * 2 <= len(value):
        return f"{prefix}…({len(value)} chars)"
    return f"…({len(value)} chars)"


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8", "replace"))


# ---------------------------------------------------------------------------------------------
# Sensitive files (which names: handoff/gate/sensitive.py)

_PUBLIC_PEM_NAMES = (".pem",)
_ENV_ASSIGNMENT = lazy_compile(r"^\s*(?:export\s+)?([A-Za-z_][\w.-]*)\s*=\s*[\"']?([^\"'#\s]*)")
_PRIVATE_PEM = lazy_compile(r"PRIVATE KEY|OpenVPN Static key")


# ---------------------------------------------------------------------------------------------
# Scanning


@dataclass(frozen=True)
class _Edit:
    index: int       # line index in the split text
    value: str
    kind: str
    skip: int = 0    # characters at the start of the line that are not content (the diff prefix)


_REDACTED_KEY = "[REDACTED Private Key]"
_KEY_ROW_IN_PATCH = lazy_compile(r"\n[-+][ \t]*[\"']?[A-Za-z0-9+/]{60,76}={0,2}[\"']?[ \t]*\r?\n")
_CREDENTIAL_FILES = frozenset({".pgpass", "pgpass.conf", ".netrc", "_netrc", ".npmrc", "config.json"})
_KEY_INLINE = lazy_compile(
    r"(?:-----|---- )?BEGIN(?:[A-Z0-9 ]* PRIVATE KEY(?: BLOCK)?| OpenVPN Static key V1)(?: ----|-----)?"
    r"(?:.*?(?:-----|---- )?END(?:[A-Z0-9 ]* PRIVATE KEY(?: BLOCK)?| OpenVPN Static key V1)(?: ----|-----)?|.*)"
    r"|PuTTY-User-Key-File-\d.*")
_KEY_END = lazy_compile(r"END[A-Z0-9 ]* PRIVATE KEY|END OpenVPN Static key|^Private-MAC:")
# What the lines of a key block look like: base64 rows, `Header: value` rows (Proc-Type, PuTTY), blanks.
_HEADER_IN_QUOTES = lazy_compile(r"-*\s*[\"']")
_KEY_MATERIAL = lazy_compile(r"[A-Za-z0-9+/]{16,}")
_KEY_BODY = lazy_compile(r"^\s*[\"']?(?:[A-Za-z0-9+/=]{4,}|[A-Za-z][\w-]*: .*|)\s*[\"']?[,;+]?\s*(?:\\n)?[\"']?\s*$")


class _Scan:
    """Common part of a patch scan and a text scan: hits -> findings, allowances, redaction edits."""

    def __init__(self, lines: list[str], baseline: Baseline) -> None:
        self.lines = lines
        self.baseline = baseline
        self.findings: list[Finding] = []
        self.allowed = 0
        self.edits: list[_Edit] = []
        self.key_lines: dict[int, int] = {}     # line index -> prefix length, for key-block bodies
        self.seen: dict[int, set[str]] = {}        # line index -> values already reported there
        self.finding_lines: list[int] = []          # line index of each finding (-1: not a line)
        self.aws_ids: list[tuple[int, str, int, int, str]] = []

    def scan_line(self, index: int, text: str, path: str, profile: scan.FileProfile,
                  source: str, number: int, skip: int, plugins: frozenset[str] | set[str]) -> None:
        text = text.lstrip("\ufeff")          # a BOM must not hide the first line of a file
        if self.baseline.excludes_line(text):
            return
        if profile.dotenv:
            text, plugins = scan.dotenv_quote(text), scan.ALL_PLUGINS
        if len(text) > structure.WINDOW:
            self._scan_windows(index, text, path, profile, source, number, skip)
        specs = scan.plugins_for_line(text, profile, plugins)
        if specs:
            hits = scan.scan_line(text, path, profile, specs, nearby=lambda: self._nearby(index))
            if hits:
                self._record(index, text, hits, path, source, number, skip)
        if len(text) <= structure.WINDOW and structure.may_have_views(path, text):
            for view in structure.line_views(path, text, self._following_texts(index, text)):
                self.scan_view(index, view, path, profile, source, number, skip)

    def scan_view(self, index: int, view: structure.View, path: str, profile: scan.FileProfile,
                  source: str, number: int, skip: int, named_entropy: bool = False,
                  names: set[str] | None = None) -> None:
        """Scan a view of a line (see handoff/gate/structure.py); findings land on the line it came from."""
        if names is None:
            names = scan.candidate_lines(view.text).get(0)
        if not names:
            return
        specs = scan.plugins_for_line(view.text, profile, names)
        if not specs:
            return
        target = self._line_at(index, view.offset)
        if target is None:
            return
        hits = scan.scan_line(view.text, path, profile, specs, nearby=lambda: self._nearby(target))
        if named_entropy:
            hits = [hit for hit in hits
                    if hit.family != "entropy" or filters.has_credential_context(hit.value, view.text)]
        if view.real or view.kind:
            hits = [scan.Hit(kind=view.kind or hit.kind, value=view.real or hit.value, family=hit.family,
                             prefix="" if view.real else hit.prefix) for hit in hits]
        if hits:
            self._record(target, self.lines[target][skip:], hits, path, source, number + view.offset, skip)

    def _scan_windows(self, index: int, text: str, path: str, profile: scan.FileProfile,
                      source: str, number: int, skip: int) -> None:
        """Keyword and entropy checks on the pieces of a long line; in minified code an entropy find
        counts only when a credential word stands beside it."""
        pieces = structure.windows(text)
        candidates = scan.candidate_lines("\n".join(pieces), pieces)     # one pre-filter pass for all
        for position, names in candidates.items():
            self.scan_view(index, structure.View(pieces[position]), path, profile, source, number, skip,
                           named_entropy=True, names=names)

    def _record(self, index: int, text: str, hits: list[scan.Hit], path: str, source: str, number: int,
                skip: int) -> None:
        pragma = bool(PRAGMA.search(text)) or self._nextline_pragma(index)
        for hit in hits:
            seen = self.seen.setdefault(index, set())
            if hit.value in seen or (hit.family != "vendor" and any(hit.value in value for value in seen)):
                continue
            seen.add(hit.value)
            if pragma or self.baseline.excludes_secret(hit.value) or any(
                    self.baseline.allows(path, value) for value in hit.hashed_values):
                self.allowed += 1
                continue
            if hit.kind == scan.PRIVATE_KEY:
                body = self._key_block(index, hit.value)
                if body is None:
                    continue
                preview = f"key block ({body + 1} lines)"
            else:
                preview = mask(hit.value, hit.prefix)
            if hit.kind == scan.AWS_KEY:
                self.aws_ids.append((index, source, number, skip, path))
            self.edits.append(_Edit(index, hit.value, hit.kind, skip))
            self.findings.append(Finding(source=source, line=number, kind=hit.kind, preview=preview))
            self.finding_lines.append(index)

    def _line_at(self, index: int, offset: int) -> int | None:
        if not offset:
            return index
        for count, (following, _prefix) in enumerate(self._following_lines(index), start=1):
            if count == offset:
                return following
        return None

    def _following_texts(self, index: int, text: str) -> list[str]:
        if not structure.needs_following(text):
            return []
        out = []
        for following, prefix in self._following_lines(index):
            out.append(self.lines[following][prefix:].rstrip("\r"))
            if len(out) >= 40:
                break
        return out

    def _nearby(self, index: int) -> str:
        return "\n".join(self.lines[max(0, index - 4):index + 5])

    def finish(self) -> None:
        """Checks that need every finding first: bare AWS secret keys beside a key id."""
        for index, source, number, skip, path in self.aws_ids:
            start = max(0, index - 5)
            window = [line[skip:] for line in self.lines[start:index + 6]]
            for near, value in structure.aws_secrets_near(window, index - start):
                near += start
                seen = self.seen.setdefault(near, set())
                if value in seen:
                    continue
                seen.add(value)
                if self.baseline.allows(path, value) or PRAGMA.search(self.lines[near]):
                    self.allowed += 1
                    continue
                self.edits.append(_Edit(near, value, structure.AWS_SECRET_KIND, skip))
                self.findings.append(Finding(source=source, line=number + self._distance(index, near),
                                             kind=structure.AWS_SECRET_KIND, preview=mask(value)))
                self.finding_lines.append(near)
        self._fold_into_key_blocks()

    def _fold_into_key_blocks(self) -> None:
        """A find inside a key block's body is part of that key: one finding, redacted with the block."""
        if not self.key_lines:
            return
        kept = [(finding, index) for finding, index in zip(self.findings, self.finding_lines, strict=True)
                if finding.kind == scan.PRIVATE_KEY or index not in self.key_lines]
        self.findings = [finding for finding, _index in kept]
        self.finding_lines = [index for _finding, index in kept]
        self.edits = [edit for edit in self.edits if edit.kind == scan.PRIVATE_KEY or edit.index not in self.key_lines]

    def _distance(self, index: int, near: int) -> int:
        return near - index

    def _nextline_pragma(self, index: int) -> bool:
        previous = self._previous_line(index)
        return previous is not None and bool(PRAGMA_NEXTLINE.search(previous))

    def _previous_line(self, index: int) -> str | None:
        return self.lines[index - 1] if index > 0 else None

    def _key_block(self, index: int, header: str) -> int | None:
        """Mark the body of a private key that starts on `index`; return how many lines it has.

        None when the header is only a string in code (`b"-----BEGIN … PRIVATE KEY-----"` followed
        by its closing quote, and no key material on the next lines): parsers, not keys.
        """
        line = self.lines[index]
        begin = line.find(header)
        end_of_header = begin + len(header) if begin >= 0 else len(line)
        if _KEY_END.search(line, end_of_header):
            return 0       # the whole key is on this line (e.g. a JSON string with \n escapes)
        quoted = bool(_HEADER_IN_QUOTES.match(line, end_of_header))
        count, material = 0, False
        pending: dict[int, int] = {}
        for body_index, prefix in self._following_lines(index, both_sides=True):
            body = self.lines[body_index][prefix:].rstrip("\r")
            if not _KEY_BODY.match(body) and not _KEY_END.search(body):
                break
            pending[body_index] = prefix
            count += 1
            material = material or bool(_KEY_MATERIAL.search(body))
            if _KEY_END.search(body):
                break
        if quoted and not material:
            return None
        self.key_lines.update(pending)
        return count

    def _following_lines(self, index: int, both_sides: bool = False) -> Iterator[tuple[int, int]]:
        """(line index, prefix length) of the lines after `index` in the same stream."""
        for following in range(index + 1, len(self.lines)):
            yield following, 0

    def redacted_lines(self) -> list[str]:
        out = list(self.lines)
        by_line: dict[int, list[_Edit]] = {}
        for edit in self.edits:
            by_line.setdefault(edit.index, []).append(edit)
        for index, edits in by_line.items():
            skip = edits[0].skip
            out[index] = out[index][:skip] + _redact_line(out[index][skip:], edits)
        for index, prefix in self.key_lines.items():
            crlf = "\r" if out[index].endswith("\r") else ""
            out[index] = out[index][:prefix] + _REDACTED_KEY + crlf
        return out


def _redact_line(body: str, edits: list[_Edit]) -> str:
    """Replace each found value in one line; longest first, so overlapping finds do not clash."""
    for edit in sorted(edits, key=lambda e: len(e.value), reverse=True):
        if edit.kind == scan.PRIVATE_KEY:
            body = _KEY_INLINE.sub(_REDACTED_KEY, body, count=1)
        elif edit.value in body:
            body = body.replace(edit.value, f"[REDACTED {edit.kind}]")
        elif not any(other.value in edit.value or edit.value in other.value for other in edits if other is not edit):
            # Seen only through a sanitised copy of the line: withhold the whole line.
            crlf = "\r" if body.endswith("\r") else ""
            body = f"[REDACTED {edit.kind}]{crlf}"
    return body


class _TextScan(_Scan):
    """One of the texts (task, context, …): line numbers within the text."""

    def __init__(self, key: str, text: str, baseline: Baseline) -> None:
        lines = text.split("\n")
        super().__init__(lines, baseline)
        for index, plugins in sorted(scan.candidate_lines(text, lines).items()):
            self.scan_line(index, lines[index].rstrip("\r"), key, scan.TEXT_PROFILE, key, index + 1, 0, plugins)
        self.finish()

    def redacted(self) -> str:
        return "\n".join(self.redacted_lines())


# ---------------------------------------------------------------------------------------------
# Unified diffs

_HUNK = lazy_compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_COMBINED_HUNK = lazy_compile(r"^(@@@+) ")
_C_ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}


class _Section:
    """One file of the patch."""

    def __init__(self, start: int) -> None:
        self.start = start
        self.end = start
        self.old: str | None = None
        self.new: str | None = None
        self.body_start: int | None = None     # first hunk / binary line: what --redact withholds
        self.first_number = 0
        self.hunks = 0
        self.deleted = False
        self.created = False
        self.binary = False
        self.rows: list[tuple[int, str, int]] | None = None    # see _PatchScan._rows

    @property
    def path(self) -> str:
        return self.new or self.old or "patch"

    def source_for(self, side: str) -> str:
        return (self.old or self.path) if side == "-" else self.path

    def paths(self) -> set[str]:
        return {path for path in (self.old, self.new) if path}


def _unquote(name: str) -> str:
    """A path as git prints it: C-quoted when it holds odd characters."""
    name = name.rstrip("\r").rstrip("\t")
    if len(name) < 2 or not (name.startswith('"') and name.endswith('"')):
        return name
    out = bytearray()
    body, i = name[1:-1], 0
    while i < len(body):
        char = body[i]
        if char == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt in "01234567" and re.match(r"[0-7]{3}", body[i + 1:i + 4]):
                out.append(int(body[i + 1:i + 4], 8) & 0xFF)
                i += 4
                continue
            out.append(_C_ESCAPES.get(nxt, ord(nxt) if ord(nxt) < 128 else 63))
            i += 2
            continue
        out.extend(char.encode("utf-8", "replace"))
        i += 1
    return out.decode("utf-8", "replace")


def _diff_path(name: str) -> str | None:
    name = _unquote(name.strip())
    if name == "/dev/null":
        return None
    return name[2:] if name[:2] in ("a/", "b/") else name


def _git_line_paths(rest: str) -> tuple[str | None, str | None]:
    """`a/x b/y` from a `diff --git` line (names may hold spaces or be quoted)."""
    rest = rest.rstrip("\r")
    quoted = re.findall(r'"(?:[^"\\]|\\.)*"', rest)
    if len(quoted) == 2:
        return _diff_path(quoted[0]), _diff_path(quoted[1])
    half = (len(rest) - 1) // 2
    if len(rest) % 2 == 1 and rest[half] == " " and rest[2:half] == rest[half + 3:]:
        return _diff_path(rest[:half]), _diff_path(rest[half + 1:])
    cut = rest.rfind(" b/")
    if cut > 0:
        return _diff_path(rest[:cut]), _diff_path(rest[cut + 1:])
    return None, _diff_path(rest) if rest else None


@dataclass
class _Pending:
    index: int
    section: _Section
    side: str        # "+", "-", " " or "h" (header)
    number: int
    plugins: frozenset[str] | set[str]   # the plugins the pre-filter let this line through to


class _PatchScan(_Scan):
    """Walk a unified git diff: find each line's file and number, scan the candidates."""

    def __init__(self, patch: str, baseline: Baseline, repo_root: str | None = None) -> None:
        lines = patch.split("\n")
        super().__init__(lines, baseline)
        self.repo_root = repo_root
        self.sections: list[_Section] = []
        self.sensitive_sections: list[_Section] = []
        candidates = scan.candidate_lines(patch, lines) if patch else {}
        pending = self._walk(candidates)
        self._scan_pending(pending)
        self._scan_structures(patch)
        self.finish()
        self._flag_sensitive_files()

    # -- structure ------------------------------------------------------------------------------

    def _walk(self, candidates: dict[int, set[str]]) -> list[_Pending]:
        pending: list[_Pending] = []
        section: _Section | None = None
        old_no = new_no = old_left = new_left = combined = 0
        in_hunk = every_line = False
        for index, raw in enumerate(self.lines):
            if in_hunk:
                first = raw[:1]
                # Inline for the common case: this loop runs once per line of the patch.
                if combined:
                    side = self._combined_side(raw, combined)
                elif first == "+" and new_left > 0:
                    side = "+"
                elif first == "-" and old_left > 0:
                    side = "-"
                elif (first == " " or not raw) and old_left > 0 and new_left > 0:
                    side = " "
                else:
                    side = "\\" if first == "\\" else None
                if side is not None:
                    if side == "\\":
                        continue
                    if side != "+":
                        old_no += 1
                        old_left -= 1
                    if side != "-":
                        new_no += 1
                        new_left -= 1
                    if not section.first_number:
                        section.first_number = old_no if side == "-" else new_no
                    if every_line or index in candidates:
                        names = scan.ALL_PLUGINS if every_line else candidates[index]
                        pending.append(_Pending(index, section, side, old_no if side == "-" else new_no, names))
                    if not combined and old_left <= 0 and new_left <= 0:
                        in_hunk = False
                    continue
                in_hunk = False
            if raw.startswith(("diff --git ", "diff --cc ", "diff --combined ")) or (
                    raw.startswith("--- ") and (section is None or section.hunks)):
                if section is not None:
                    section.end = index
                section = _Section(index)
                self.sections.append(section)
                if raw.startswith("diff --git "):
                    section.old, section.new = _git_line_paths(raw[len("diff --git "):])
                elif raw.startswith("diff --"):
                    section.new = section.old = _diff_path(raw.split(" ", 2)[2])
            if section is None:
                section = _Section(index)
                self.sections.append(section)
            if raw.startswith("@@"):
                hunk = _HUNK.match(raw)
                many = _COMBINED_HUNK.match(raw)
                in_hunk = bool(hunk or many)
                if in_hunk:
                    section.hunks += 1
                    if section.body_start is None:
                        section.body_start = index
                    profiles = [scan.profile_for(path) for path in section.paths()]
                    every_line = any(profile.dotenv for profile in profiles)
                if hunk:
                    combined = 0
                    old_no, new_no = int(hunk.group(1)) - 1, int(hunk.group(3)) - 1
                    old_left = int(hunk.group(2) or 1)
                    new_left = int(hunk.group(4) or 1)
                    old_no, new_no = max(old_no, 0), max(new_no, 0)
                    in_hunk = old_left > 0 or new_left > 0
                elif many:
                    combined = len(many.group(1)) - 1
                    numbers = re.findall(r"[-+](\d+)", raw)
                    old_no = int(numbers[0]) - 1 if numbers else 0
                    new_no = int(numbers[-1]) - 1 if numbers else 0
            else:
                self._header(section, raw, index)
            if index in candidates:
                pending.append(_Pending(index, section, "h", 0, candidates[index]))
        if section is not None:
            section.end = len(self.lines)
        return pending

    @staticmethod
    def _combined_side(raw: str, parents: int) -> str | None:
        """'+', '-', ' ' or '\\' for a line of a combined (merge) diff hunk; None when the hunk is over."""
        prefix = raw[:parents]
        if len(prefix) < parents or prefix.strip("+- "):
            return "\\" if raw.startswith("\\") else None
        return "-" if "-" in prefix else "+" if "+" in prefix else " "

    @staticmethod
    def _header(section: _Section, raw: str, index: int) -> None:
        for prefix, attribute in (("--- ", "old"), ("+++ ", "new"), ("rename from ", "old"),
                                  ("rename to ", "new"), ("copy from ", "old"), ("copy to ", "new")):
            if raw.startswith(prefix):
                path = _diff_path(raw[len(prefix):]) if prefix[0] in "-+" else _unquote(raw[len(prefix):])
                if path is None:
                    setattr(section, "deleted" if attribute == "new" else "created", True)
                setattr(section, attribute, path)
                return
        if raw.startswith("deleted file mode"):
            section.deleted = True
        elif raw.startswith("new file mode"):
            section.created = True
        elif raw.startswith(("Binary files ", "GIT binary patch")):
            section.binary = True
            if section.body_start is None:
                section.body_start = index

    # -- scanning -------------------------------------------------------------------------------

    def _scan_pending(self, pending: list[_Pending]) -> None:
        for item in pending:
            section = item.section
            side = item.side
            path = section.source_for(side)
            if self.baseline.excludes_file(path):
                continue
            skip = 0 if side == "h" else 1
            text = self.lines[item.index][skip:].rstrip("\r")
            profile = scan.profile_for(path) if side != "h" else scan.TEXT_PROFILE
            self.scan_line(item.index, text, path, profile, path, item.number, skip, item.plugins)

    # -- structure --------------------------------------------------------------------------------

    def _scan_structures(self, patch: str) -> None:
        """Whole-file structures (credentials files, Kubernetes data) and key bodies without their BEGIN line."""
        wants_data = "-data:" in patch or "kind: Secret" in patch or '"auths"' in patch
        wants_keys = bool(_KEY_ROW_IN_PATCH.search(patch))
        if not (wants_data or wants_keys or any(
                os.path.basename(section.path).lower() in _CREDENTIAL_FILES or structure.transformer_kind(section.path)
                for section in self.sections)):
            return
        for section in self.sections:
            if not section.hunks or self.baseline.excludes_file(section.path):
                continue
            name = os.path.basename(section.path).lower()
            if wants_data or name in _CREDENTIAL_FILES:
                self._section_views(section)
            if wants_keys:
                self._key_bodies(section)
            if structure.transformer_kind(section.path) and not section.deleted:
                self._transformed(section)

    def _transformed(self, section: _Section) -> None:
        """Run detect-secrets' file-type transformer over the whole file: the new file as the patch has it,
        or the working-tree file of a modified one, keeping only what the change touched."""
        rows = self._side_rows(section, "+ ")
        if not rows:
            return
        if section.created:
            text = "\n".join(row for _index, row, _number in rows) + "\n"
        else:
            text = self._working_file(section) or ""
        if not text or not scan.candidate_lines(text):
            return
        lines = structure.transformed_lines(section.path, text)
        if not lines:
            return
        by_number = {number: index for index, _row, number in rows}
        changed = sorted(number for index, _row, number in rows if self.lines[index][:1] == "+")
        starts = [number for number, line in enumerate(lines, start=1) if line]
        for position, number in enumerate(starts):
            following = starts[position + 1] if position + 1 < len(starts) else text.count("\n") + 2
            inside = [line for line in changed if number <= line < following]
            if not section.created and not inside:
                continue
            # The value starts on `number`; a block scalar's key may sit above the hunk: then the finding
            # lands on the first changed line of its block.
            target = number if number in by_number else (inside[0] if inside else None)
            if target is None:
                continue
            self.scan_view(by_number[target], structure.View(lines[number - 1]), section.path,
                           scan.profile_for(section.path), section.path, target, 1)

    def _rows(self, section: _Section) -> list[tuple[int, str, int]]:
        """(line index, side, line number) of the section's hunk lines (walked again: rarely needed)."""
        if section.rows is None:
            rows: list[tuple[int, str, int]] = []
            old_no = new_no = old_left = new_left = 0
            for index in range(section.start, section.end):
                raw = self.lines[index]
                hunk = _HUNK.match(raw) if raw.startswith("@@") else None
                if hunk:
                    old_no, new_no = max(int(hunk.group(1)) - 1, 0), max(int(hunk.group(3)) - 1, 0)
                    old_left, new_left = int(hunk.group(2) or 1), int(hunk.group(4) or 1)
                    continue
                first = raw[:1]
                if first == "+" and new_left > 0:
                    new_no, new_left = new_no + 1, new_left - 1
                    rows.append((index, "+", new_no))
                elif first == "-" and old_left > 0:
                    old_no, old_left = old_no + 1, old_left - 1
                    rows.append((index, "-", old_no))
                elif (first == " " or not raw) and old_left > 0 and new_left > 0:
                    old_no, new_no, old_left, new_left = old_no + 1, new_no + 1, old_left - 1, new_left - 1
                    rows.append((index, " ", new_no))
            section.rows = rows
        return section.rows

    def _side_rows(self, section: _Section, sides: str) -> list[tuple[int, str, int]]:
        return [(index, self.lines[index][1:].rstrip("\r"), number) for index, side, number in self._rows(section)
                if side in sides]

    def _section_views(self, section: _Section) -> None:
        for sides in ("+ ", "-"):
            rows = self._side_rows(section, sides)
            if not rows or (sides == "-" and section.created):
                continue
            path = section.source_for(sides[0])
            texts = [text for _index, text, _number in rows]
            for position, view in structure.file_views(path, texts):
                index, _text, number = rows[position]
                if sides == "+ " and self.lines[index][:1] == " " and section.created is False and \
                        not self._near_change(section, index):
                    continue
                self.scan_view(index, view, path, scan.profile_for(path), path, number, 1)

    def _near_change(self, section: _Section, index: int) -> bool:
        return any(side in "+-" and abs(row - index) <= 3 for row, side, _number in self._rows(section))

    def _key_bodies(self, section: _Section) -> None:
        for sides in ("+", "-"):
            rows = self._side_rows(section, sides + " ")
            for run in structure.key_body_runs([(index, text) for index, text, _number in rows]):
                indices = [rows[position][0] for position in run]
                if any(index in self.key_lines for index in indices if self.lines[index][:1] == sides):
                    continue
                if not any(self.lines[index][:1] == sides for index in indices):
                    continue
                around = "\n".join(self.lines[section.start:section.end])
                if not structure.is_key_body(section.path, around, self._working_file(section)):
                    continue
                for index in indices:
                    self.key_lines[index] = 1
                first = rows[run[0]]
                self.findings.append(Finding(source=section.source_for(sides), line=first[2], kind=scan.PRIVATE_KEY,
                                             preview=f"key block ({len(run)} lines, header outside the change)"))
                self.finding_lines.append(first[0])

    def _working_file(self, section: _Section) -> str | None:
        """The file as it is in the working tree (what the hunk changed), when the repo is at hand."""
        if not self.repo_root or not section.new:
            return None
        try:
            with open(os.path.join(self.repo_root, section.new), encoding="utf-8", errors="replace") as handle:
                return handle.read(2_000_000)
        except OSError:
            return None

    def _previous_line(self, index: int) -> str | None:
        """The line before `index` in the same file version (new for +/context, old for -)."""
        side = self.lines[index][:1]
        if not side or side not in "+- ":
            return None
        other = "-" if side in "+ " else "+"
        for previous in range(index - 1, -1, -1):
            line = self.lines[previous]
            first = line[:1]
            if first == other or first == "\\":
                continue
            return line[1:] if first in "+- " and not line.startswith(("+++ ", "--- ")) else None
        return None

    def _following_lines(self, index: int, both_sides: bool = False) -> Iterator[tuple[int, int]]:
        """Lines after `index` in the same file version, up to the end of its section (both versions:
        removed and added lines after a context line, e.g. the body of a key rotated in place)."""
        side = self.lines[index][:1]
        if side not in "+- " or not side:
            return
        other = "" if both_sides and side == " " else "-" if side in "+ " else "+"
        for following in range(index + 1, len(self.lines)):
            line = self.lines[following]
            first = line[:1]
            if (other and first == other) or first == "\\":
                continue
            if first not in "+- " or line.startswith(("+++ ", "--- ")) or not line:
                return
            yield following, 1

    def _flag_sensitive_files(self) -> None:
        for section in self.sections:
            paths = section.paths()
            if not paths or any(self.baseline.excludes_file(path) for path in paths):
                continue
            sensitive = sorted(path for path in paths if is_sensitive_path(path))
            if sensitive and all(path.lower().endswith(_PUBLIC_PEM_NAMES) for path in sensitive):
                body = "\n".join(self.lines[section.body_start or section.end:section.end])
                if "BEGIN" in body and not _PRIVATE_PEM.search(body):
                    sensitive = []          # certificates and public keys in a .pem: public by design
            dotenv_only = all(scan.profile_for(path).dotenv for path in sensitive)
            if sensitive and dotenv_only and not self._has_env_secret(section):
                sensitive = []              # a .env of placeholders and settings: nothing secret in it
            if sensitive:
                self.findings.append(Finding(source=sensitive[-1], line=max(section.first_number, 1),
                                             kind=SENSITIVE_FILE, preview=_describe(section)))
                self.finding_lines.append(-1)
                self.sensitive_sections.append(section)

    def _has_env_secret(self, section: _Section) -> bool:
        """A `.env` counts as a secret file when one of its credential-named variables has a real value."""
        for index in range(section.body_start or section.end, section.end):
            match = _ENV_ASSIGNMENT.match(self.lines[index][1:].lstrip("\ufeff"))
            if match and structure.is_credential_name(match.group(1)) and not filters.is_placeholder(match.group(2)):
                return True
        return False

    def redacted(self) -> str:
        out = self.redacted_lines()
        # A sensitive file's hunks are withheld whole: its header stays (so the reader sees the file
        # changed) and one marker line replaces the content. That file's patch no longer applies.
        for section in sorted(self.sensitive_sections, key=lambda s: s.start, reverse=True):
            start = section.body_start if section.body_start is not None else section.end
            marker = f"[REDACTED {SENSITIVE_FILE}: content of {section.path} withheld]"
            end = section.end
            if end == len(out) and out and out[-1] == "" and end - 1 >= start:
                end -= 1          # keep the patch's final newline
            out[start:end] = [marker]
        return "\n".join(out)


def _describe(section: _Section) -> str:
    state = "deleted" if section.deleted else "new" if section.created else "changed"
    if section.binary:
        return f"{state} binary file"
    return f"{state} file"


def _redact_everywhere(text: str, values: Mapping[str, str]) -> str:
    """A found value may also sit on lines the plugins did not flag (e.g. a comment): replace it there too."""
    for value in sorted(values, key=len, reverse=True):
        if len(value) >= 8 and value in text:
            text = text.replace(value, f"[REDACTED {values[value]}]")
    return text
