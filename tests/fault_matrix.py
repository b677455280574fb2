"""The fault matrix: for every API call and every fault, what DevinClient is expected to do.

One table (MATRIX) drives tests/test_fault_matrix.py and bench/fault_table.py (the README table).
Each fault strikes ONCE (times=1) against the simulator; the expectations encode the retry policy
handoff/devin/client.py implements (see its _MODES comment), per key kind where the two APIs differ.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CALLS = ("create", "get", "messages", "send", "list", "archive", "self")
KINDS = ("v3", "v1")

# Read timeout rows: the simulator stalls SLOW_SECONDS, the client gives up after READ_TIMEOUT.
READ_TIMEOUT = 0.25
SLOW_SECONDS = 0.6
RETRY_AFTER = 1


@dataclass(frozen=True)
class Fault:
    """A row: the simulator fault to inject and its options."""

    label: str
    sim_fault: str
    opts: dict[str, Any] = field(default_factory=dict)
    note: str = ""


FAULTS: tuple[Fault, ...] = (
    Fault("429 + Retry-After", "429", {"retry_after": RETRY_AFTER}, "refused before the call"),
    Fault("500", "500", {"after": True}, "the call happened, then 500"),
    Fault("502", "502", {"after": True}, "the call happened, then 502"),
    Fault("503", "503", {}, "refused before the call"),
    Fault("dropped connection", "drop", {}, "the call happened, no answer"),
    Fault("read timeout", "slow", {"seconds": SLOW_SECONDS}, f"answer after {SLOW_SECONDS} s > read timeout"),
    Fault("invalid JSON", "bad_json", {}, "the call happened, 200 with a broken body"),
    Fault("HTML error page", "html", {}, "nginx 502 page before the call"),
    Fault("401", "401", {}, ""),
    Fault("403", "403", {}, ""),
    Fault("404", "404", {}, ""),
)
FAULTS_BY_LABEL = {f.label: f for f in FAULTS}


@dataclass(frozen=True)
class Expect:
    """What one call does under one fault.

    error: None when the call succeeds, else the class name from handoff.devin (its exit_code is checked).
    requests: how many requests of the call's own kind reached the simulator (2 = retried once).
    lookup: a create looked its client tag up (GET list) after an ambiguous failure.
    delivered: send only - how many copies of the message the session holds afterwards.
    """

    error: str | None = None
    exit_code: int | None = None
    requests: int = 1
    lookup: bool = False
    delivered: int | None = None
    concern: str = ""  # behaviour we believe is wrong for a user (reported, still asserted as implemented)
    how: str = "retried"  # how a second request came about, for the table
    bug: str = ""      # breaks a stated invariant: the test is a strict xfail until handoff/devin/client.py is fixed

    @property
    def retried(self) -> bool:
        return self.requests > 1

    def cell(self) -> str:
        """A short Markdown cell: 'retried → ok', 'exit 4', 'lookup → 1 session'."""
        if self.lookup and self.error:
            text = f"lookup, not resent → exit {self.exit_code}, kept for `retry`"
        elif self.lookup:
            text = "lookup → 1 session" if self.requests == 1 else "lookup, resent → 1 session"
        elif self.error:
            text = f"{'retried → ' if self.retried else ''}exit {self.exit_code}"
        else:
            text = f"{self.how} → ok" if self.retried else "ok"
        if self.delivered is not None and self.delivered > 1:
            text += f" ({self.delivered}× delivered)"
        if self.bug:
            return "✗ 2 sessions (bug)"
        return text + (" ⚠" if self.concern else "")


OK_RETRIED = Expect(requests=2)
UNREACHABLE = Expect("UnreachableError", 5)
AUTH = Expect("AuthError", 4)
NOT_FOUND = Expect("NotFoundError", 2)
CREATE_RESENT = Expect(requests=2)                  # provably refused: sent again, no lookup needed
CREATE_LOOKUP_FOUND = Expect(lookup=True)           # the session exists: the lookup adopts it
CREATE_LOOKUP_RESENT = Expect(requests=2, lookup=True)  # nothing was created: lookup empty, then resent
# Timed out: the create may still be running, so it is never resent; the outbox keeps it for `retry`.
CREATE_KEPT_FOR_RETRY = Expect("AmbiguousCreate", 5, lookup=True)


def _same(expect: Expect) -> dict[str, Expect]:
    return {"v3": expect, "v1": expect}


def _row(create: Expect, read: Expect, send: Expect, *, v3_create: Expect | None = None,
         v1_get: Expect | None = None, v1_send: Expect | None = None) -> dict[str, dict[str, Expect]]:
    """A fault's row: GETs (get, messages, list, self, archive) share `read`; overrides where the APIs differ."""
    v1_get = v1_get or read
    v1_send = v1_send or send
    return {
        "create": {"v3": v3_create or create, "v1": create},
        "get": {"v3": read, "v1": v1_get},
        "messages": {"v3": read, "v1": v1_get},   # v1 messages are the session GET
        "send": {"v3": send, "v1": v1_send},
        "list": _same(read),
        "archive": {"v3": read},       # v1 has no archive
        "self": _same(read),                      # v1: a GET /v1/sessions?limit=1 key check
    }


# MATRIX[fault label][call][key kind] -> Expect
MATRIX: dict[str, dict[str, dict[str, Expect]]] = {
    "429 + Retry-After": _row(CREATE_RESENT, OK_RETRIED, Expect(requests=2, delivered=1)),
    "500": _row(CREATE_LOOKUP_FOUND, OK_RETRIED, Expect("UnreachableError", 5, delivered=1)),
    "502": _row(CREATE_LOOKUP_FOUND, OK_RETRIED, Expect("UnreachableError", 5, delivered=1)),
    "503": _row(CREATE_RESENT, OK_RETRIED, Expect(requests=2, delivered=1)),
    "dropped connection": _row(CREATE_LOOKUP_FOUND, OK_RETRIED, Expect("UnreachableError", 5, delivered=1)),
    "read timeout": _row(CREATE_KEPT_FOR_RETRY, OK_RETRIED, Expect("UnreachableError", 5, delivered=1)),
    "invalid JSON": _row(CREATE_LOOKUP_FOUND, OK_RETRIED, Expect(delivered=1)),
    # A 502 page may come from a gateway after the message landed: send is not repeated.
    "HTML error page": _row(CREATE_LOOKUP_RESENT, OK_RETRIED, Expect("UnreachableError", 5, delivered=0)),
    "401": _row(AUTH, AUTH, Expect("AuthError", 4, delivered=0)),
    "403": _row(AUTH, AUTH, Expect("AuthError", 4, delivered=0)),
    # v1 session paths answer a 404 by trying the legacy singular /v1/session/{id} once
    "404": _row(NOT_FOUND, NOT_FOUND, Expect("NotFoundError", 2, delivered=0),
                v1_get=Expect(requests=2, how="singular path"),
                v1_send=Expect(requests=2, delivered=1, how="singular path")),
}


def sim_call(call: str, kind: str) -> str:
    """The simulator's request kind behind a client call (v1 messages = get, v1 self = list)."""
    if kind == "v1":
        return {"messages": "get", "self": "list"}.get(call, call)
    return call


def cells() -> list[tuple[str, str, str, Expect]]:
    """(fault label, call, key kind, expectation) for every cell that exists."""
    return [(label, call, kind, by_kind[kind])
            for label, row in MATRIX.items() for call, by_kind in row.items() for kind in KINDS if kind in by_kind]


def markdown_table() -> str:
    """Rows = faults, columns = calls; a cell shows v3, and v1 after a slash when it differs."""
    lines = ["| fault | " + " | ".join(CALLS) + " |", "|---" * (len(CALLS) + 1) + "|"]
    for fault in FAULTS:
        row = MATRIX[fault.label]
        shown = []
        for call in CALLS:
            v3, v1 = row[call]["v3"], row[call].get("v1")
            text = v3.cell()
            if v1 is not None and v1.cell() != text:
                text += f" / v1: {v1.cell()}"
            shown.append(text)
        lines.append(f"| {fault.label} | " + " | ".join(shown) + " |")
    concerns = sorted({e.concern for *_, e in cells() if e.concern} | {e.bug for *_, e in cells() if e.bug})
    lines.append("")
    lines.append("Each fault strikes once. exit 2 = usage/not found, 4 = config/auth, 5 = API unreachable. "
                 "Archive is v3 only. Every create ends with exactly one session (a kept one lands later).")
    lines.extend(f"- ⚠ {text}" for text in concerns)
    return "\n".join(lines)


# -- persistent faults and bad input ------------------------------------------------------------------------
# Faults that do not go away after one strike, and input refused before anything is sent. Each row names the
# test that proves it (tests/<module>.py::<test>); tests/test_fault_matrix.py checks those tests exist.

@dataclass(frozen=True)
class Persistent:
    fault: str
    outcome: str
    exit_code: int
    proof: str  # "module::test function"


PERSISTENT: tuple[Persistent, ...] = (
    Persistent("server trickles its answer (a byte at a time, forever)",
               "each request ends at its overall deadline (40 s), retried within the budget, one line per wait", 5,
               "test_client_edges::test_status_against_a_trickling_server_ends_with_exit_5_and_shows_each_retry"),
    Persistent("API refuses connections for longer than the retry budget",
               "retried with backoff (8 attempts, 60 s at most), one line per wait", 5,
               "test_api::test_connection_refused_is_retried_then_unreachable"),
    Persistent("429/503 with Retry-After as seconds or an HTTP date (also one already past)",
               "waits as asked (shown as one line), never under 1 s", 0,
               "test_client_edges::test_retry_after_seconds_or_date_never_under_the_floor"),
    Persistent("HTTP(S)_PROXY / ALL_PROXY points at a dead proxy",
               "the error names the proxy and its variable (credentials masked), not the API host", 5,
               "test_client_edges::test_a_dead_proxy_is_named_without_its_credentials"),
    Persistent("ALL_PROXY=socks5://…", "calls go through the SOCKS proxy", 0,
               "test_client_edges::test_a_socks5_proxy_from_all_proxy_carries_the_calls"),
    Persistent("proxy with an unsupported scheme (socks4://, ftp://)", "refused before any request", 4,
               "test_client_edges::test_an_unusable_proxy_scheme_is_a_config_error_at_once"),
    Persistent("DEVIN_API_KEY with a trailing CR or spaces (a Windows .env)", "stripped; the call works", 0,
               "test_input_validation::test_whitespace_around_the_key_is_stripped"),
    Persistent("DEVIN_API_KEY with inner whitespace, a control or a non-ASCII character",
               "refused before any request; no part of it printed or stored", 4,
               "test_input_validation::test_a_key_a_header_cannot_carry_is_refused_at_once_and_never_echoed"),
    Persistent("API URL not https (http only on loopback), with user:pw@, ?query, #fragment, or malformed",
               "refused at once with the setting's name", 2,
               "test_input_validation::test_a_bad_api_url_is_a_usage_error_at_once"),
    Persistent("`--task -` / `--context -` / `--context-file` over 1 MB", "refused, never cut", 2,
               "test_input_validation::test_stdin_past_the_limit_is_an_error_not_a_cut"),
    Persistent("standard input closed (`--task -`, `--context -`, `mcp`)", "a one-line usage error", 2,
               "test_input_validation::test_closed_stdin_is_a_usage_error"),
    Persistent("standard output closed (`create --json >&-`)", "runs; the session is journaled, no crash", 0,
               "test_input_validation::test_closed_stdout_under_json_is_no_crash"),
    Persistent("task and context larger than the prompt budget", "refused, never cut", 2,
               "test_prompt_budget::test_texts_too_large_for_the_budget_are_an_error"),
    Persistent("thousands of untracked files (an un-ignored node_modules/)",
               "prompt within its budget (100 KB), files counted per top folder, real size shown", 0,
               "test_prompt_budget::test_thousands_of_untracked_files_stay_within_the_budget_and_the_summary_says"
               "_the_real_size"),
)


def persistent_table() -> str:
    lines = ["| fault | what happens | exit |", "|---|---|---|"]
    lines += [f"| {row.fault} | {row.outcome} | {row.exit_code} |" for row in PERSISTENT]
    return "\n".join(lines)
