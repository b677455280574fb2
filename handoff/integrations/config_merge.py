"""Merging devin-handoff's entries into agent config files, as text, without disturbing anything else.

JSON files are parsed, changed in memory and written back only when the data changed (indented like the
original). TOML is edited textually, one table at a time, and checked with a TOML parser afterwards.
AGENTS.md gets a section between marker comments. Every function here is pure: text in, text out;
unreadable or malformed input is a one-line ConfigError naming the file, raised before anything is written.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from handoff.errors import ConfigError
from handoff.lazy_regex import lazy_compile

MARK_START = "<!-- devin-handoff:start -->"
MARK_END = "<!-- devin-handoff:end -->"
CODEX_COMMENT = "# devin-handoff MCP server (written by `devin-handoff install codex`; the key comes from env_vars)"

# A hook handler is ours when its command runs `devin-handoff hook` (bare, quoted, as an absolute path,
# or as `python -m handoff hook` when the CLI runs from a checkout).
_OUR_HOOK = lazy_compile(r"(devin-handoff['\"]?|-m\s+handoff)\s+hook\b")


# -- reading and parsing --------------------------------------------------------------------------

def read_text(path: Path) -> str | None:
    """A file's text, None when it does not exist; unreadable files are a one-line ConfigError."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise ConfigError(f"{path} is a directory, expected a file", "move it away; nothing was changed") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text", "fix or move it; nothing was changed") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}", "fix its permissions; nothing was changed") from None


def load_json_object(path: Path, text: str | None) -> dict[str, Any]:
    if text is None or not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})",
                          "fix or move it; nothing was changed") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} does not hold a JSON object", "fix or move it; nothing was changed")
    return data


def dump_json(data: dict[str, Any], like: str | None) -> str:
    """JSON text indented like the file it replaces (2 spaces for a new file)."""
    indent: int | str = 2
    match = re.search(r"^( +|\t)\S", like or "", re.MULTILINE)
    if match:
        indent = "\t" if match.group(1) == "\t" else len(match.group(1))
    return json.dumps(data, indent=indent, ensure_ascii=False) + "\n"


def _expect(value: Any, kind: type, path: Path, where: str) -> Any:
    if not isinstance(value, kind):
        raise ConfigError(f"{path}: {where} is not a JSON {'object' if kind is dict else 'array'}",
                          "fix or move it; nothing was changed")
    return value


def edit_json(path: Path, before: str | None, change: Callable[[dict[str, Any]], None]) -> str | None:
    """`before` with `change` applied to its JSON object: the same text when the data did not change,
    None when nothing is left (the file held only our entries)."""
    data = load_json_object(path, before)
    new = copy.deepcopy(data)
    change(new)
    if new == data:
        return before
    return dump_json(new, before) if new else None


# -- JSON merges: MCP servers and hooks ------------------------------------------------------------------

def set_mcp_server(path: Path, name: str, entry: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        servers = _expect(data.setdefault("mcpServers", {}), dict, path, "mcpServers")
        servers[name] = entry
    return change


def remove_mcp_server(path: Path, name: str) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        servers = data.get("mcpServers")
        if not isinstance(servers, dict) or name not in servers:
            return
        del servers[name]
        if not servers:
            del data["mcpServers"]
    return change


def is_our_handler(handler: Any) -> bool:
    return isinstance(handler, dict) and bool(_OUR_HOOK.search(str(handler.get("command", ""))))


def _group_is_ours(group: Any) -> bool:
    return isinstance(group, dict) and any(is_our_handler(h) for h in group.get("hooks") or [])


def _strip_our_groups(groups: list[Any]) -> list[Any]:
    """Matcher groups without our handlers; groups left with no handler are dropped."""
    kept = []
    for group in groups:
        if not _group_is_ours(group):
            kept.append(group)
            continue
        others = [h for h in group["hooks"] if not is_our_handler(h)]
        if others:
            kept.append({**group, "hooks": others})
    return kept


def merge_claude_hooks(path: Path, ours: dict[str, list[Any]], *, remove: bool = False
                       ) -> Callable[[dict[str, Any]], None]:
    """Claude Code settings: event -> matcher groups -> handlers. Other hooks are kept as they are."""
    def change(data: dict[str, Any]) -> None:
        if remove and "hooks" not in data:
            return
        hooks = _expect(data.setdefault("hooks", {}), dict, path, "hooks")
        for event in ours:
            groups = _expect(hooks.get(event, []), list, path, f"hooks.{event}")
            if not remove and [g for g in groups if _group_is_ours(g)] == ours[event]:
                continue  # already installed, wherever the user moved it
            kept = _strip_our_groups(groups)
            if not remove:
                kept += copy.deepcopy(ours[event])
            if kept:
                hooks[event] = kept
            else:
                hooks.pop(event, None)
        if not hooks:
            del data["hooks"]
    return change


def merge_flat_hooks(path: Path, ours: dict[str, list[Any]], *, remove: bool = False
                     ) -> Callable[[dict[str, Any]], None]:
    """Cursor hooks.json: {"version": 1, "hooks": {event: [handlers]}}."""
    def change(data: dict[str, Any]) -> None:
        if remove and "hooks" not in data:
            return
        if not remove:
            data.setdefault("version", 1)
        hooks = _expect(data.setdefault("hooks", {}), dict, path, "hooks")
        for event in ours:
            handlers = _expect(hooks.get(event, []), list, path, f"hooks.{event}")
            if not remove and [h for h in handlers if is_our_handler(h)] == ours[event]:
                continue
            kept = [h for h in handlers if not is_our_handler(h)]
            if not remove:
                kept += copy.deepcopy(ours[event])
            if kept:
                hooks[event] = kept
            else:
                hooks.pop(event, None)
        if remove and not hooks and set(data) <= {"version", "hooks"}:
            data.clear()  # nothing but our scaffolding is left
    return change


# -- TOML: one table, edited as text ------------------------------------------------------------------

def _toml_loads(path: Path, text: str) -> dict[str, Any] | None:
    """Parsed TOML, or None when no parser is available (Python 3.10 without tomli)."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ModuleNotFoundError:
            return None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML ({exc})", "fix or move it; nothing was changed") from None


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a valid TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {type(value).__name__}")


def render_toml_table(name: tuple[str, ...], values: dict[str, Any]) -> list[str]:
    lines = [CODEX_COMMENT, f"[{'.'.join(name)}]"]
    lines += [f"{key} = {toml_value(value)}" for key, value in values.items()]
    return lines


_HEADER = lazy_compile(r"^\s*(\[\[?)\s*(.+?)\s*\]\]?\s*(#.*)?$")


def _split_key(key: str) -> tuple[str, ...]:
    parts = re.findall(r'\s*("(?:[^"\\]|\\.)*"|\'[^\']*\'|[^.\s]+)\s*(?:\.|$)', key)
    return tuple(p[1:-1] if p[:1] in "\"'" else p for p in parts)


def _header_key(line: str) -> tuple[str, ...] | None:
    match = _HEADER.match(line)
    if not match or line.lstrip().startswith("#"):
        return None
    return _split_key(match.group(2))


def _table_span(lines: list[str], name: tuple[str, ...]) -> tuple[int, int] | None:
    """Lines [start, end) of table `name` and its sub-tables, with our comment line above it."""
    start = next((i for i, line in enumerate(lines) if _header_key(line) == name), None)
    if start is None:
        return None
    end = start + 1
    while end < len(lines):
        key = _header_key(lines[end])
        if key is not None and key[:len(name)] != name:
            break
        end += 1
    if end < len(lines):  # blank lines and comments just above the next table belong to it
        while end - 1 > start and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")):
            end -= 1
    if start > 0 and lines[start - 1].strip() == CODEX_COMMENT:
        start -= 1
    return start, end


def _without(data: dict[str, Any], name: tuple[str, ...]) -> dict[str, Any]:
    data = copy.deepcopy(data)
    parent = data.get(name[0])
    if isinstance(parent, dict):
        parent.pop(name[1], None)
        if not parent:
            del data[name[0]]
    return data


def _verify_toml(path: Path, parsed: dict[str, Any] | None, after: str, name: tuple[str, ...],
                 values: dict[str, Any] | None) -> None:
    """The edited text must parse to the old data with only our table changed."""
    if parsed is None:
        return
    try:
        new = _toml_loads(path, after)
    except ConfigError:
        new = None
    expected = _without(parsed, name)
    if values is not None:
        expected.setdefault(name[0], {})[name[1]] = values
    if new is None or new != expected:
        raise ConfigError(f"could not merge [{'.'.join(name)}] into {path} as text without changing other "
                          "entries", "add the table by hand; nothing was changed")


def edit_toml_table(path: Path, before: str | None, name: tuple[str, ...],
                    values: dict[str, Any] | None) -> str | None:
    """`before` with table `name` set to `values` (or removed when None), every other line kept as it was.

    The same text when nothing changes; None when nothing would be left."""
    text = before or ""
    parsed = _toml_loads(path, text)
    current = (parsed or {}).get(name[0], {}).get(name[1]) if parsed is not None else None
    if parsed is not None and current == values:
        return before
    lines = text.splitlines()
    span = _table_span(lines, name)
    if span is None and current is not None:
        raise ConfigError(f"{path} defines [{'.'.join(name)}] in a form install cannot rewrite (dotted keys or "
                          "an inline table)", "edit that entry by hand; nothing was changed")
    if span is None and values is None:
        return before
    block = render_toml_table(name, values) if values is not None else []
    if span is None:
        new_lines = lines + ([""] if lines and lines[-1].strip() else []) + block
    else:
        start, end = span
        new_lines = lines[:start] + block + lines[end:]
        if values is None:
            while start > 0 and not new_lines[start - 1].strip() and (
                    start == len(new_lines) or not new_lines[start].strip()):
                del new_lines[start - 1]  # no double blank line where the table was
                start -= 1
    after = "\n".join(new_lines) + "\n" if new_lines else ""
    _verify_toml(path, parsed, after, name, values)
    return after if after.strip() else None


# -- AGENTS.md: a block between markers -------------------------------------------------------------

def set_marked_block(path: Path, text: str | None, block: str | None) -> str | None:
    """`text` with our marked block replaced, appended, or (block=None) removed."""
    if text is None:
        return block
    start = text.find(MARK_START)
    end = text.find(MARK_END, start) if start != -1 else -1
    if start != -1 and end == -1:
        raise ConfigError(f"{path} has '{MARK_START}' without '{MARK_END}'",
                          "fix the markers by hand; nothing was changed")
    if start == -1:
        if block is None:
            return text
        if not text.strip():
            return block
        return text + ("" if text.endswith("\n\n") else "\n" if text.endswith("\n") else "\n\n") + block
    end += len(MARK_END)
    if text[end:end + 1] == "\n":
        end += 1
    head, tail = text[:start], text[end:]
    if block is not None:
        return head + block + tail
    if head.endswith("\n\n") and (not tail.strip() or tail.startswith("\n")):
        head = head[:-1]  # the blank line install put before the block
    rest = head + tail
    return rest if rest.strip() else None
