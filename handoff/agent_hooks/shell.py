"""Finding `devin-handoff create|scan …` (or `git handoff …`) calls in a shell command line.

A small shell-word parser: separators, redirections, `VAR=value` and wrapper prefixes, `cd DIR`
between commands, and `sh -c '…'`. When it cannot tell, it raises Unparsable and the hooks allow
the command (the CLI gates anyway).
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterator
from dataclasses import dataclass

HANDOFF_PROGRAMS = {"devin-handoff", "git-handoff"}
SHELLS = {"sh", "bash", "zsh", "dash", "ksh"}
WRAPPERS = {"exec", "command", "nohup", "time", "builtin", "noglob", "{", "!"}
SEPARATORS = {"&&", "||", ";", "|", "&", "|&", ";;", "\n", "(", ")"}


@dataclass(frozen=True)
class HandoffCall:
    """One `devin-handoff <subcommand> ARGS` found in a shell command, and the directory it would run in."""

    subcommand: str
    args: tuple[str, ...]
    cwd: str


class Unparsable(Exception):
    """The command line cannot be read reliably; hooks then allow it (the CLI gates anyway)."""


def shell_words(command: str) -> list[str]:
    """Shell-like tokens, with `&&`, `;`, `|`, `(`, newlines … as their own tokens."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars="();<>|&\n")
    lexer.whitespace = " \t\r"
    lexer.whitespace_split = True
    try:
        return list(lexer)
    except ValueError as exc:  # unbalanced quotes and the like
        raise Unparsable(str(exc)) from None


def _is_redirection(token: str) -> bool:
    return bool(token) and set(token) <= set("<>&|") and ("<" in token or ">" in token)


def split_commands(words: list[str]) -> Iterator[list[str]]:
    """Simple commands between separators, with redirections (`2>&1`, `> log`, `<<EOF`) removed."""
    current: list[str] = []
    skip_next = False
    for word in words:
        if skip_next:
            skip_next = False
            continue
        if word in SEPARATORS:
            if current:
                yield current
            current = []
        elif _is_redirection(word):
            if current and current[-1] in ("0", "1", "2"):
                current.pop()  # the fd number of `2>&1`
            skip_next = True
        else:
            current.append(word)
    if current:
        yield current


def _is_assignment(word: str) -> bool:
    name, sep, _ = word.partition("=")
    return bool(sep) and name.isidentifier()


def _strip_prefixes(words: list[str]) -> list[str]:
    """Drop `VAR=value`, `env [-opts] VAR=value`, `exec`, `command`, `time`, … before the program."""
    index = 0
    while index < len(words):
        word = words[index]
        if _is_assignment(word) or word in WRAPPERS:
            index += 1
        elif word == "env":
            index += 1
            while index < len(words) and words[index].startswith("-"):
                index += 1
        else:
            break
    return words[index:]


def _change_dir(cwd: str, target: str | None) -> str:
    if target is None or target == "~":
        return os.path.expanduser("~")
    if target == "-":
        raise Unparsable("cd -")
    path = os.path.join(cwd, os.path.expanduser(os.path.expandvars(target)))
    if not os.path.isdir(path):
        raise Unparsable(f"no directory {target}")
    return os.path.normpath(path)


def _git_handoff_args(args: list[str], cwd: str) -> tuple[list[str], str] | None:
    """`git [-C dir] [-c k=v] … handoff ARGS` -> (ARGS, dir); None when it is another git command."""
    index = 0
    while index < len(args):
        word = args[index]
        if word == "-C" and index + 1 < len(args):
            cwd = _change_dir(cwd, args[index + 1])
            index += 2
        elif word == "-c" and index + 1 < len(args):
            index += 2
        elif word.startswith("-"):
            index += 1
        else:
            break
    if index < len(args) and args[index] == "handoff":
        return args[index + 1:], cwd
    return None


def _handoff_args(words: list[str], cwd: str) -> tuple[list[str], str] | None:
    """The CLI's arguments when this simple command runs devin-handoff; None otherwise."""
    program = os.path.basename(words[0])
    rest = words[1:]
    if program in HANDOFF_PROGRAMS:
        return rest, cwd
    if program == "git":
        return _git_handoff_args(rest, cwd)
    if program.startswith("python") and rest[:2] == ["-m", "handoff"]:
        return rest[2:], cwd
    if program in ("uvx", "pipx") and rest:
        tail = rest[1:] if program == "pipx" and rest[0] == "run" else rest
        if tail and os.path.basename(tail[0]) in HANDOFF_PROGRAMS:
            return tail[1:], cwd
    return None


def find_handoff_calls(command: str, cwd: str, depth: int = 0) -> list[HandoffCall]:
    """Every `devin-handoff create|scan …` (or `git handoff …`) the command line would run.

    Follows `cd DIR` between commands and `sh -c '…'`. Raises Unparsable when it cannot tell.
    """
    if "handoff" not in command:  # the fast path for every unrelated command
        return []
    calls: list[HandoffCall] = []
    for simple in split_commands(shell_words(command)):
        words = _strip_prefixes(simple)
        if not words:
            continue
        program = os.path.basename(words[0])
        if program == "cd":
            cwd = _change_dir(cwd, words[1] if len(words) > 1 else None)
            continue
        if program in SHELLS and depth < 3:
            script = _shell_script(words[1:])
            if script is not None:
                calls.extend(find_handoff_calls(script, cwd, depth + 1))
            continue
        found = _handoff_args(words, cwd)
        if found is None:
            continue
        args, call_cwd = found
        if args and not args[0].startswith("-"):
            calls.append(HandoffCall(subcommand=args[0], args=tuple(args[1:]), cwd=call_cwd))
    return calls


def _shell_script(args: list[str]) -> str | None:
    """The script of `bash -c SCRIPT` / `bash -lc SCRIPT`."""
    for index, word in enumerate(args):
        if word.startswith("-") and not word.startswith("--") and "c" in word[1:]:
            return args[index + 1] if index + 1 < len(args) else None
        if not word.startswith("-"):
            return None
    return None
