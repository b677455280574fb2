"""Scripted faults (`Simulator.inject`): status codes, dropped connections, slow, broken and HTML answers."""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any

from handoff.simulator.model import _Reply, _Request

CALLS = ("create", "get", "messages", "send", "list", "archive", "self", "terminate", "upload", "any")


STATUS_FAULTS = ("429", "500", "502", "503", "504", "401", "403", "404")


FAULTS = (*STATUS_FAULTS, "drop", "drop_before", "slow", "bad_json", "html")


_HTML_502 = (b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1>"
             b"</center><hr><center>nginx</center></body></html>")


_BROKEN_JSON = b'{"session_id": "devin-'


@dataclass
class _Fault:
    call: str
    kind: str
    remaining: int
    opts: dict[str, Any]


class FaultsMixin:
    """Fault scripting and the faulty answers; mixed into Simulator."""

    def inject(self, call: str, fault: str, times: int = 1, **opts: Any) -> None:
        """Make the next `times` calls of kind `call` ('any' = every kind) fail with `fault`.

        Faults are consumed in the order injected. Options: '429' retry_after (seconds or an HTTP date;
        None leaves the header out, default 1); 'slow' seconds (default 2.0); status faults after=True
        (do the call, then answer with the error, e.g. a create that happened but answered 500);
        detail (error text). 'drop' does the call, then closes the connection without an answer;
        'drop_before' closes it without doing anything.
        """
        if call not in CALLS:
            raise ValueError(f"call must be one of {', '.join(CALLS)}")
        if fault not in FAULTS:
            raise ValueError(f"fault must be one of {', '.join(FAULTS)}")
        if times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._faults.append(_Fault(call, fault, times, dict(opts)))

    def clear_faults(self) -> None:
        """Drop every fault not yet consumed."""
        with self._lock:
            self._faults.clear()

    @property
    def pending_faults(self) -> list[tuple[str, str, int]]:
        """(call, fault, remaining) not yet consumed."""
        with self._lock:
            return [(f.call, f.kind, f.remaining) for f in self._faults]

    def _take_fault(self, call: str) -> _Fault | None:
        for fault in self._faults:
            if fault.call in (call, "any"):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _fail_early(self, handler: BaseHTTPRequestHandler, request: _Request, fault: _Fault) -> bool:
        """Faults that strike before the call is done; True when they already answered (or hung up)."""
        if fault.kind == "slow":
            self._stopping.wait(float(fault.opts.get("seconds", 2.0)))  # stop() cuts the wait short
            return False
        if fault.kind == "drop_before":
            self._drop(handler)
        elif fault.kind == "html":
            self._send(handler, _Reply(502, content_type="text/html; charset=utf-8", raw=_HTML_502))
        elif fault.kind in STATUS_FAULTS and not fault.opts.get("after"):
            self._send(handler, self._fault_reply(request, fault))
        else:
            return False
        return True

    def _fault_reply(self, request: _Request, fault: _Fault) -> _Reply:
        status = int(fault.kind)
        reply = self._error(request, status, str(fault.opts.get("detail") or HTTPStatus(status).phrase))
        if status == 429:
            retry_after = fault.opts.get("retry_after", 1)
            if retry_after is not None:
                reply.headers["Retry-After"] = str(retry_after)
        return reply

    @staticmethod
    def _drop(handler: BaseHTTPRequestHandler) -> None:
        handler.close_connection = True  # the server closes the socket with nothing written
