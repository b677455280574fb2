"""The Devin client at its edges: an overall deadline against a trickling server, visible retry waits with
Retry-After (seconds or a date, never under the floor), proxies from the environment (SOCKS works; a
dead proxy is named, its credentials masked). Raw socket servers on 127.0.0.1 where a real server would not
misbehave that way; the project's simulator everywhere else; time from a fake clock."""

from __future__ import annotations

import contextlib
import secrets
import socket
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from email.utils import formatdate

import pytest
from helpers import run_cli_here

from handoff import devin as api
from handoff.config import Settings
from handoff.devin import client as client_module
from handoff.devin.client import RETRY_AFTER_FLOOR, DevinClient
from handoff.runtime import FakeClock, Wait
from handoff.simulator import Simulator

PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


def a_key() -> str:
    return "cog_" + secrets.token_hex(16)  # generated: no key-shaped literal in the repo


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch):
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(step_seconds=600) as running:
        yield running


def _sim_session(sim: Simulator, key: str) -> str:
    with DevinClient(Settings(key, sim.org_id, None, sim.base_url)) as client:
        return client.create({"prompt": "edge task", "title": "edge"}, client_tag=api.new_client_tag()).session_id


class _RawServer:
    """A TCP server on 127.0.0.1 whose connections are served by `serve(conn)` in daemon threads."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            self.serve(conn)

    def serve(self, conn: socket.socket) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def close(self) -> None:
        self._listener.close()

    def __enter__(self) -> _RawServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _read_request_head(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


class Trickler(_RawServer):
    """Answers every request with a valid HTTP answer, one byte every `every` seconds: each read succeeds
    long before any read timeout, so only an overall deadline ends the request."""

    every = 0.02

    def serve(self, conn: socket.socket) -> None:
        _read_request_head(conn)
        body = b'{"session_id": "devin-' + b"0" * 4000 + b'"}'
        answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
        for byte in answer + body:
            conn.sendall(bytes([byte]))
            time.sleep(self.every)


class Socks5Relay(_RawServer):
    """A minimal SOCKS5 proxy (no auth, CONNECT only) relaying to wherever the client asks; records targets."""

    def __init__(self) -> None:
        self.targets: list[tuple[str, int]] = []
        super().__init__()

    def serve(self, conn: socket.socket) -> None:
        greeting = conn.recv(2)
        conn.recv(greeting[1])                      # the offered methods
        conn.sendall(b"\x05\x00")                   # no authentication
        _version, _cmd, _rsv, atyp = conn.recv(4)
        if atyp == 1:
            host = socket.inet_ntoa(conn.recv(4))
        elif atyp == 3:
            host = conn.recv(conn.recv(1)[0]).decode()
        else:
            host = socket.inet_ntop(socket.AF_INET6, conn.recv(16))
        port = struct.unpack("!H", conn.recv(2))[0]
        self.targets.append((host, port))
        with socket.create_connection((host, port), timeout=5) as upstream:
            conn.sendall(b"\x05\x00\x00\x01" + socket.inet_aton("127.0.0.1") + struct.pack("!H", 0))
            threading.Thread(target=_pipe, args=(upstream, conn), daemon=True).start()
            _pipe(conn, upstream)


def _pipe(source: socket.socket, target: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            target.sendall(chunk)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# -- an overall deadline per request --------------------------------------------------------------------

def test_a_trickling_server_is_cut_at_the_request_deadline() -> None:
    clock = FakeClock()
    with Trickler() as server:
        settings = Settings(a_key(), "org-edge", None, f"http://127.0.0.1:{server.port}")
        client = DevinClient(settings, read_timeout=5.0, request_deadline=0.3, retry_budget=0.0,
                             runtime=clock.runtime())
        started = time.monotonic()
        with client, pytest.raises(api.UnreachableError) as caught:
            client.get("devin-" + "a" * 32)
        took = time.monotonic() - started
    assert 0.25 <= took < 4.5, took  # cut at 0.3 s, before the 5 s read timeout (each byte came within 0.02 s)
    assert "did not finish answering within the 0.3 s" in caught.value.message
    assert caught.value.exit_code == 5


def test_status_against_a_trickling_server_ends_with_exit_5_and_shows_each_retry(fake_clock, monkeypatch) -> None:
    monkeypatch.setattr(client_module, "REQUEST_DEADLINE", 0.1)
    with Trickler() as server:
        started = time.monotonic()
        done = run_cli_here("status", "devin-" + "b" * 32, env={
            "DEVIN_API_URL": f"http://127.0.0.1:{server.port}", "DEVIN_API_KEY": a_key(), "DEVIN_ORG_ID": "org-edge"})
        took = time.monotonic() - started
    assert done.code == 5, done
    waits = [line for line in done.stderr.splitlines() if "retrying in" in line]
    assert 1 <= len(waits) <= api.MAX_ATTEMPTS - 1, done.stderr  # one line before each new attempt
    assert server.connections >= 1
    assert all("API did not answer in time (ReadTimeout), retrying in" in line for line in waits)
    assert "did not finish answering within the 0.1 s a request may take" in done.stderr.splitlines()[-1]
    assert took < 10, took  # at most 8 attempts of 0.1 s each (slack for a loaded machine); backoff on the fake clock


# -- visible retries and Retry-After ----------------------------------------------------------------------

def _client_with_events(sim: Simulator, key: str, clock: FakeClock, events: list[Wait]) -> DevinClient:
    runtime = replace(clock.runtime(), on_wait=events.append)
    return DevinClient(Settings(key, sim.org_id, None, sim.base_url), retry_budget=120.0, runtime=runtime)


@pytest.mark.parametrize(("retry_after", "expected"), [
    ("past date", RETRY_AFTER_FLOOR),      # a date already gone is not "no backoff"
    ("0", RETRY_AFTER_FLOOR),
    ("future date", 30.0),
    ("7", 7.0),
])
def test_retry_after_seconds_or_date_never_under_the_floor(sim: Simulator, retry_after: str, expected: float) -> None:
    clock = FakeClock(now=1_700_000_000.0)  # the fake wall clock is what an HTTP date is measured against
    header = {"past date": formatdate(clock.now - 3600, usegmt=True),
              "future date": formatdate(clock.now + 30, usegmt=True)}.get(retry_after, retry_after)
    key = a_key()
    session_id = _sim_session(sim, key)
    events: list[Wait] = []
    with _client_with_events(sim, key, clock, events) as client:
        sim.inject("get", "429", times=1, retry_after=header)
        assert client.get(session_id).session_id == session_id
    assert clock.slept == [pytest.approx(expected, abs=1.0)]
    assert [e.reason for e in events] == ["API rate limit (429)"]
    assert events[0].line() == f"API rate limit (429), retrying in {expected:.0f} s…"


def test_every_wait_is_told_before_it_is_slept_with_the_status_that_caused_it(sim: Simulator) -> None:
    clock = FakeClock()
    key = a_key()
    session_id = _sim_session(sim, key)
    events: list[Wait] = []
    with _client_with_events(sim, key, clock, events) as client:
        sim.inject("get", "503", times=1)
        sim.inject("get", "500", times=1)
        sim.inject("get", "drop_before", times=1)
        client.get(session_id)
    assert [e.reason for e in events] == ["API busy (503)", "API failed (500)",
                                          "API unreachable (RemoteProtocolError)"]
    assert [e.seconds for e in events] == clock.slept
    assert [e.attempt for e in events] == [1, 2, 3]


def test_the_cli_shows_one_line_per_wait_on_stderr(sim: Simulator, fake_clock) -> None:
    key = a_key()
    session_id = _sim_session(sim, key)
    sim.inject("get", "503", times=2)
    done = run_cli_here("status", session_id, "--json",
                        env={"DEVIN_API_URL": sim.base_url, "DEVIN_API_KEY": key, "DEVIN_ORG_ID": sim.org_id})
    assert done.code == 0, done
    lines = [line for line in done.stderr.splitlines() if "retrying" in line]
    assert len(lines) == 2 and all(line.startswith("devin-handoff: API busy (503), retrying in ") for line in lines)
    assert done.json()["session_id"] == session_id  # stdout stays pure JSON
    assert len(fake_clock.slept) == 2


# -- proxies ------------------------------------------------------------------------------------------------

def test_a_socks5_proxy_from_all_proxy_carries_the_calls(sim: Simulator, monkeypatch) -> None:
    key = a_key()
    session_id = _sim_session(sim, key)
    with Socks5Relay() as relay:
        monkeypatch.setenv("ALL_PROXY", f"socks5://127.0.0.1:{relay.port}")
        done = run_cli_here("status", session_id, "--json",
                            env={"DEVIN_API_URL": sim.base_url, "DEVIN_API_KEY": key, "DEVIN_ORG_ID": sim.org_id})
    assert done.code == 0, done
    assert done.json()["session_id"] == session_id
    sim_port = int(sim.base_url.rsplit(":", 1)[1])
    assert relay.targets and all(port == sim_port for _, port in relay.targets)


def test_no_proxy_exempts_a_host(sim: Simulator, monkeypatch) -> None:
    key = a_key()
    session_id = _sim_session(sim, key)
    monkeypatch.setenv("ALL_PROXY", f"socks5://127.0.0.1:{_closed_port()}")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with DevinClient(Settings(key, sim.org_id, None, sim.base_url)) as client:
        assert client.proxy is None
        assert client.get(session_id).session_id == session_id


@pytest.mark.parametrize("variable", ["HTTPS_PROXY", "https_proxy", "ALL_PROXY"])
def test_a_dead_proxy_is_named_without_its_credentials(fake_clock, monkeypatch, variable: str) -> None:
    port = _closed_port()
    password = secrets.token_hex(8)
    monkeypatch.setenv(variable, f"http://proxyuser:{password}@127.0.0.1:{port}")
    done = run_cli_here("status", "devin-" + "c" * 32, env={"DEVIN_API_KEY": a_key(), "DEVIN_ORG_ID": "org-edge"})
    assert done.code == 5, done
    last = done.stderr.strip().splitlines()[-1]
    assert f"could not connect to the proxy http://***@127.0.0.1:{port} ({variable})" in last, last
    assert f"check {variable}" in last
    assert password not in done.stderr and "proxyuser" not in done.stderr
    assert f"proxy http://***@127.0.0.1:{port} failed (ConnectError), retrying in" in done.stderr


@pytest.mark.parametrize("value", ["socks4://127.0.0.1:1080", "ftp://127.0.0.1:21"])
def test_an_unusable_proxy_scheme_is_a_config_error_at_once(monkeypatch, value: str) -> None:
    monkeypatch.setenv("ALL_PROXY", value)
    done = run_cli_here("status", "devin-" + "d" * 32, env={"DEVIN_API_KEY": a_key(), "DEVIN_ORG_ID": "org-edge"})
    assert done.code == 4, done
    assert "ALL_PROXY cannot be used as a proxy" in done.stderr and "Traceback" not in done.stderr
