"""The sockets under the Devin client (handoff/devin/client.py): an overall deadline per request, and the
proxy the environment names.

httpx's timeouts bound each socket operation, so a server that trickles one byte every few seconds never
trips them. Here every connect, read and write waits at most what is left of the request's deadline (set
with `deadline()` around the request), so a request ends when its deadline passes, whatever the server does.

The proxy comes from the usual variables (`https_proxy`, `http_proxy`, `all_proxy`, `no_proxy`, either
case), chosen here rather than by httpx so the transport keeps the deadline and errors can name the proxy
(without its credentials) instead of the API host it was meant to reach.
"""

from __future__ import annotations

import os
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import httpcore

from handoff.devin._http import httpx
from handoff.errors import ConfigError

_DEADLINE: ContextVar[float | None] = ContextVar("handoff_request_deadline", default=None)
PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")


@dataclass(frozen=True)
class RequestDeadline:
    at: float  # time.monotonic()
    seconds: float

    @property
    def passed(self) -> bool:
        return time.monotonic() >= self.at


@contextmanager
def deadline(seconds: float) -> Iterator[RequestDeadline]:
    """Every socket operation inside this block ends at the latest `seconds` from now (real time)."""
    limit = RequestDeadline(time.monotonic() + seconds, seconds)
    token = _DEADLINE.set(limit.at)
    try:
        yield limit
    finally:
        _DEADLINE.reset(token)


def _capped(timeout: float | None, error: type[Exception]) -> float | None:
    """`timeout` shortened to what is left of the deadline; `error` once nothing is left."""
    at = _DEADLINE.get()
    if at is None:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        raise error("the request's overall deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _capped(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _capped(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        tls = self._stream.start_tls(ssl_context, server_hostname, _capped(timeout, httpcore.ConnectTimeout))
        return _DeadlineStream(tls)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        self._backend = backend

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Any = None) -> httpcore.NetworkStream:
        stream = self._backend.connect_tcp(host, port, _capped(timeout, httpcore.ConnectTimeout),
                                           local_address=local_address, socket_options=socket_options)
        return _DeadlineStream(stream)

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Any = None) -> httpcore.NetworkStream:  # pragma: no cover - unused
        stream = self._backend.connect_unix_socket(path, _capped(timeout, httpcore.ConnectTimeout),
                                                   socket_options=socket_options)
        return _DeadlineStream(stream)

    def sleep(self, seconds: float) -> None:  # pragma: no cover - httpcore's retries are off
        self._backend.sleep(seconds)


@dataclass(frozen=True)
class Proxy:
    url: str        # as configured (may carry credentials: never shown)
    variable: str   # the environment variable it came from

    @property
    def shown(self) -> str:
        """The proxy for a message: scheme, host and port; credentials replaced by ***."""
        parsed = httpx.URL(self.url)
        port = f":{parsed.port}" if parsed.port else ""
        auth = "***@" if parsed.userinfo else ""
        return f"{parsed.scheme}://{auth}{parsed.host}{port}"


def _env(name: str) -> tuple[str, str] | None:
    for variable in (name.lower(), name.upper()):
        value = os.environ.get(variable, "").strip()
        if value:
            return variable, value
    return None


def proxy_for(url: str) -> Proxy | None:
    """The proxy the environment names for `url`, None when there is none or `no_proxy` exempts its host."""
    target = httpx.URL(url)
    found = _env(f"{target.scheme}_proxy") or _env("all_proxy")
    if found is None:
        return None
    no_proxy = _env("no_proxy")
    if no_proxy and urllib.request.proxy_bypass_environment(target.host, {"no": no_proxy[1]}):
        return None
    variable, value = found
    if "://" not in value:
        value = f"http://{value}"  # what curl and httpx assume
    proxy = Proxy(value, variable)
    try:
        scheme = httpx.URL(value).scheme
        usable = scheme in PROXY_SCHEMES and bool(httpx.URL(value).host)
    except (httpx.InvalidURL, ValueError):
        scheme, usable = "", False
    if not usable:
        what = f"{scheme}:// is not supported" if scheme not in PROXY_SCHEMES else "it is not a valid URL"
        raise ConfigError(f"{variable} cannot be used as a proxy ({what})",
                          "use http://, https://, socks5:// or socks5h://HOST:PORT, or unset it")
    return proxy


def make_transport(proxy: Proxy | None, *, verify: bool) -> httpx.HTTPTransport:
    """An httpx transport through `proxy` whose sockets keep the request deadline."""
    transport = httpx.HTTPTransport(verify=verify, proxy=proxy.url if proxy else None)
    pool = getattr(transport, "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if backend is not None:  # httpcore keeps its backend here (1.x); without it, httpx's own timeouts remain
        pool._network_backend = _DeadlineBackend(backend)  # type: ignore[union-attr]
    return transport
