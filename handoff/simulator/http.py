"""The simulator's HTTP side: routing paths to calls, reading requests, writing answers, the server."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import socketserver
import threading
import time
import uuid
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qs, urlsplit

from handoff.lazy_regex import lazy_compile
from handoff.simulator.faults import _BROKEN_JSON, STATUS_FAULTS
from handoff.simulator.model import _Reply, _Request

if TYPE_CHECKING:
    from handoff.simulator import Simulator


_V1_ROUTES: list[tuple[re.Pattern[str], dict[str, str]]] = [
    (re.compile(r"^/v1/attachments$"), {"POST": "upload"}),
    (re.compile(r"^/v1/sessions$"), {"POST": "create", "GET": "list"}),
    (re.compile(r"^/v1/sessions?/(?P<sid>[^/]+)$"), {"GET": "get", "DELETE": "terminate"}),
    (re.compile(r"^/v1/sessions?/(?P<sid>[^/]+)/message$"), {"POST": "send"}),
]


# org may be left out by org-scoped service users (resolved from the credential)
_V3_SESSIONS = lazy_compile(
    r"^/v3/organizations/(?:(?P<org>[^/]+)/)?sessions(?:/(?P<sid>[^/]+)(?:/(?P<sub>messages|archive))?)?$")


_V3_METHODS: dict[tuple[bool, str | None], dict[str, str]] = {
    (False, None): {"POST": "create", "GET": "list"},
    (True, None): {"GET": "get", "DELETE": "terminate"},
    (True, "messages"): {"GET": "messages", "POST": "send"},
    (True, "archive"): {"POST": "archive"},
}


_V3_ATTACHMENTS = lazy_compile(r"^/v3/organizations/(?:(?P<org>[^/]+)/)?attachments$")


def _route(method: str, path: str) -> tuple[str, dict[str, str | None], bool]:
    """(call kind, path params, method allowed); call 'other' for unknown paths."""
    if path.startswith("/v1/"):
        for pattern, methods in _V1_ROUTES:
            match = pattern.match(path)
            if match:
                return methods.get(method, "other"), match.groupdict(), method in methods
    elif path == "/v3/self":
        return ("self" if method == "GET" else "other"), {}, method == "GET"
    elif path.startswith("/v3/") and _V3_ATTACHMENTS.match(path):
        params: dict[str, str | None] = _V3_ATTACHMENTS.match(path).groupdict()  # type: ignore[union-attr]
        return ("upload" if method == "POST" else "other"), params, method == "POST"
    elif path.startswith("/v3/"):
        match = _V3_SESSIONS.match(path)
        if match:
            methods = _V3_METHODS[(match["sid"] is not None, match["sub"])]
            return methods.get(method, "other"), match.groupdict(), method in methods
    return "other", {}, False


class _Server(ThreadingHTTPServer):
    """Threaded server that knows its open connections, so stop() can cut kept-alive ones."""

    daemon_threads = True

    def __init__(self, simulator: Simulator, port: int) -> None:
        self.simulator = simulator
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", port), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls getfqdn(), a DNS lookup; start-up must stay fast and offline
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "127.0.0.1", self.server_address[1]

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that hang up (timeouts, dropped answers) are part of the game, not errors to print."""

    def close_connections(self) -> None:
        with self.connections_lock:
            open_sockets = list(self.connections)
        for sock in open_sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real clients see it
    server_version = "devin-simulator"
    sys_version = ""
    timeout = 30  # an idle kept-alive connection does not hold a thread for ever

    def setup(self) -> None:
        super().setup()
        # headers and body go out in two writes; without NODELAY, Nagle + delayed ACK add ~40 ms per answer
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _dispatch(self) -> None:
        cast(_Server, self.server).simulator._serve(self)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _dispatch

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: tests and the demo print what they need."""


class HttpMixin:
    """One request in, one answer out (faults applied); mixed into Simulator."""

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        request = self._read(handler)
        with self._lock:
            fault = self._take_fault(request.call)
            uploaded = {name: {"filename": f[0], "size": len(f[1])} for name, f in (request.files or {}).items()}
            self.requests.append({
                "method": request.method, "path": request.path, "query": request.query,
                "body": request.body if request.files is None else {"files": uploaded},
                "auth_kind": self._auth_kind(request.key), "call": request.call,
                "fault": fault.kind if fault else None, "at": time.monotonic(),
            })
        if fault is not None and self._fail_early(handler, request, fault):
            return
        with self._lock:
            reply = self._process(request)
        if fault is not None:
            if fault.kind == "drop":
                return self._drop(handler)
            if fault.kind == "bad_json":
                reply = _Reply(200, raw=_BROKEN_JSON)
            elif fault.kind in STATUS_FAULTS:  # after=True: the call happened, the answer is an error
                reply = self._fault_reply(request, fault)
        self._send(handler, reply)

    @staticmethod
    def _read(handler: BaseHTTPRequestHandler) -> _Request:
        url = urlsplit(handler.path)
        try:
            length = int(handler.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        raw = handler.rfile.read(length) if length > 0 else b""
        body: Any = None
        invalid = False
        files = None
        kind = handler.headers.get("Content-Type") or ""
        if raw and kind.lower().startswith("multipart/form-data"):
            files = _multipart(kind, raw)
            invalid = files is None
            raw = b""
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                invalid = True
        auth = handler.headers.get("Authorization") or ""
        scheme, _, token = auth.partition(" ")
        key = token.strip() if scheme.lower() == "bearer" and token.strip() else None
        api = "v1" if url.path.startswith("/v1/") else "v3" if url.path.startswith("/v3/") else None
        call, params, allowed = _route(handler.command, url.path)
        return _Request(method=handler.command, path=url.path, query=parse_qs(url.query, keep_blank_values=True),
                        body=body, body_invalid=invalid, key=key, api=api, call=call, params=params,
                        allowed=allowed, files=files)

    @staticmethod
    def _auth_kind(key: str | None) -> str | None:
        """The key's family for the request log; never the key."""
        if key is None:
            return None
        return "apk" if key.startswith("apk_") else "cog" if key.startswith("cog_") else "other"

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, reply: _Reply) -> None:
        data = reply.raw if reply.raw is not None else json.dumps(reply.body).encode()
        try:
            handler.send_response(reply.status)
            handler.send_header("Content-Type", reply.content_type)
            handler.send_header("Content-Length", str(len(data)))
            handler.send_header("X-Request-Id", f"req-{uuid.uuid4().hex[:16]}")
            for name, value in reply.headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(data)
        except OSError:
            handler.close_connection = True  # the client left (timed out); nothing to tell it

    def _error(self, request: _Request, status: int, detail: str,
               errors: list[dict[str, Any]] | None = None) -> _Reply:
        """v3: RFC 9457 problem+json; v1 (and unknown prefixes): FastAPI's {"detail": …}."""
        if request.api != "v3":
            return _Reply(status, {"detail": errors if errors is not None else detail})
        problem: dict[str, Any] = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status,
                                   "detail": detail, "instance": request.path}
        if errors is not None:
            problem["errors"] = errors
        return _Reply(status, problem, content_type="application/problem+json")


def _multipart(content_type: str, raw: bytes) -> dict[str, tuple[str, bytes]] | None:
    """multipart/form-data fields that carry a file: name -> (file name, bytes); None when unreadable."""
    from email.parser import BytesParser
    from email.policy import HTTP

    message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n"
                                                  + raw)
    if not message.is_multipart():
        return None
    files: dict[str, tuple[str, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        filename = part.get_filename()
        if isinstance(name, str) and filename:
            files[name] = (filename, part.get_payload(decode=True) or b"")
    return files
