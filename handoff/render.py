"""All terminal output: human text on stderr, JSON on stdout, colour only on a TTY.

Stages never print; commands hand what they have to an `Output`.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, TextIO

from handoff.errors import mask_secrets

_COLOURS = {"red": "31", "green": "32", "yellow": "33", "blue": "34", "magenta": "35", "cyan": "36",
            "bold": "1", "dim": "2"}


def _wants_colour(stream: TextIO) -> bool:
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return hasattr(stream, "isatty") and stream.isatty()


class Output:
    """One place for what a command shows: `say` for people (stderr), `json` for programs (stdout)."""

    def __init__(self, json_mode: bool = False, quiet: bool = False) -> None:
        self.json_mode = json_mode
        self.quiet = quiet
        self.colour = _wants_colour(sys.stderr)

    def style(self, text: str, colour: str) -> str:
        if not self.colour or colour not in _COLOURS:
            return text
        return f"\x1b[{_COLOURS[colour]}m{text}\x1b[0m"

    def say(self, text: str = "", colour: str | None = None) -> None:
        """A line for a person, on stderr; secrets masked."""
        if self.quiet:
            return
        line = mask_secrets(text)
        print(self.style(line, colour) if colour else line, file=sys.stderr, flush=True)

    def warn(self, text: str) -> None:
        self.say(f"warning: {text}", "yellow")

    def json(self, obj: Any, *, mask: bool = True) -> None:
        """One JSON document (or one JSON Lines record) on stdout; `mask=False` prints exact bytes."""
        text = json.dumps(obj, ensure_ascii=False)
        sys.stdout.write((mask_secrets(text) if mask else text) + "\n")
        sys.stdout.flush()

    def result(self, obj: Any, human: str | None = None) -> None:
        """A command's outcome: JSON on stdout with --json, otherwise `human` on stdout."""
        if self.json_mode:
            self.json(obj)
        elif human is not None:
            sys.stdout.write(mask_secrets(human) + "\n")
            sys.stdout.flush()


def _kb(size: int) -> str:
    return f"{size / 1000:.1f} KB" if size < 1_000_000 else f"{size / 1_000_000:.1f} MB"


def repo_summary_lines(repo: Any) -> list[str]:
    """A human summary of a RepoContext: where Devin starts, what it gets, what it does not."""
    if repo is None:
        return ["repo:     (not in a git repository: the task goes without repository context)"]
    head = repo.head[:12] if repo.head else "(no commits yet)"
    lines = [
        f"repo:     {repo.slug or '(no remote)'}" + (f"  [{repo.remote_url}]" if repo.remote_url else ""),
        f"branch:   {repo.branch or '(detached HEAD)'} at {head}",
        f"base:     {repo.base[:12] if repo.base else '(unknown to the remote)'}"
        + (f", {len(repo.unpushed)} unpushed commit(s) carried in the patch" if repo.unpushed and repo.base else ""),
    ]
    included = [f for f in repo.files if f.included]
    lines.append(f"changes:  {len(repo.files)} file(s), {_kb(len(repo.patch.encode('utf-8')))} sent"
                 f" of {_kb(repo.total_diff_bytes)} (budget {_kb(repo.max_diff_bytes)})")
    for change in repo.files[:50]:
        mark = " " if change.included else "!"
        counts = "binary" if change.binary else f"+{change.added} -{change.removed}"
        extra = "" if change.included else f"  (left out: {change.omitted_reason or 'left out'})"
        name = f"{change.old_path} -> {change.path}" if change.old_path else change.path
        lines.append(f"  {mark} {change.status:<9} {counts:<14} {name}{extra}")
    if len(repo.files) > 50:
        lines.append(f"  … and {len(repo.files) - 50} more ({len(included)} included in total)")
    lines.extend(f"note:     {warning}" for warning in repo.warnings)
    return lines


def findings_lines(report: Any) -> list[str]:
    """One line per secret finding: place, type and masked preview — never the value."""
    lines = []
    for finding in report.findings:
        lines.append(f"  {finding.source}:{finding.line}: {finding.kind}  {finding.preview}")
    return lines


def findings_json(report: Any) -> dict[str, Any]:
    return {
        "blocked": report.blocked,
        "redacted": report.redacted,
        "allowed": report.allowed,
        "scanned_bytes": report.scanned_bytes,
        "findings": [{"file": f.source, "line": f.line, "type": f.kind, "preview": f.preview}
                     for f in report.findings],
    }
