"""The Python SDK's transport against a real `charter serve --auth` and a real HTTP proxy started here.

What an app behind a corporate proxy, sending to a collector that wants a write key, would notice:
the key goes in a header of its choosing (or the endpoint's user, or `?key=`), events arrive, a
missing key is reported rather than dropped, and requests take the proxy that HTTP_PROXY names
unless NO_PROXY lists the collector, or the one passed as `proxy`.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import http.client
import http.server
import ipaddress
import json
import socket
import ssl
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.codegen.pysdk import FakeCollector, Served, collected, payment, sdk
from tests.conftest import charter_serve

WRITE_KEY = "sdk-key-0123456789abcdef"


class Proxy(Served):
    """A forward HTTP proxy (absolute-form requests, RFC 9112 3.2.2) on a stdlib server thread; records each
    request it forwards as (method, target, headers)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        self._serve(self._handler())

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                headers = dict(self.headers.items())
                proxy.seen.append((self.command, self.path, headers))
                body = self.rfile.read(int(headers.get("Content-Length", "0")))
                target = urllib.parse.urlsplit(self.path)  # absolute-form: the proxy must be told the URL
                upstream = http.client.HTTPConnection(target.hostname or "", target.port, timeout=10)
                try:
                    hop = {"proxy-authorization", "proxy-connection", "connection", "keep-alive"}
                    forwarded = {k: v for k, v in headers.items() if k.lower() not in hop}
                    path = target.path + (f"?{target.query}" if target.query else "")
                    upstream.request("POST", path, body, forwarded)
                    answer = upstream.getresponse()
                    data = answer.read()
                finally:
                    upstream.close()
                self.send_response(answer.status)
                self.send_header("Content-Type", answer.getheader("Content-Type") or "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_CONNECT(self) -> None:
                """A tunnel to `host:port` (what an https:// collector is reached through): bytes both ways."""
                proxy.seen.append((self.command, self.path, dict(self.headers.items())))
                host, _, port = self.path.rpartition(":")
                upstream = socket.create_connection((host, int(port)), timeout=10)
                self.send_response(200, "Connection established")
                self.end_headers()
                self.close_connection = True
                _pipe(self.connection, upstream)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


def _pipe(client: socket.socket, upstream: socket.socket) -> None:
    def copy(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    back = threading.Thread(target=copy, args=(upstream, client), daemon=True)
    back.start()
    copy(client, upstream)
    back.join(10)
    upstream.close()


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`charter serve --sink memory --auth <file>` with one write key for every namespace."""
    tmp = tmp_path_factory.mktemp("auth-collector")
    auth = tmp / "auth.json"
    auth.write_text(json.dumps({"keys": [{"name": "sdk", "key": WRITE_KEY, "namespaces": ["*"]}]}))
    with charter_serve(tmp, "--sink", "memory", "--auth", str(auth)) as url:
        yield url


@pytest.fixture
def proxy() -> Iterator[Proxy]:
    with Proxy() as p:
        yield p


@pytest.fixture(autouse=True)
def no_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with no proxy variables, whatever the machine has; a test sets the ones it needs."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def _good_ids(url: str) -> list[str]:
    return [e["id"] for e in httpx.get(f"{url}/v1/memory/good", timeout=5, trust_env=False).json()]  # not via the proxy


def _send(endpoint: str, **options: Any) -> tuple[list[str | None], list[Any]]:
    """Track two payments and flush; the ids and what on_failure received."""
    failures: list[Any] = []
    with sdk.Tracker(endpoint, on_failure=failures.append, max_retries=0, **options) as tracker:
        ids = [tracker.track(payment()), tracker.track(payment())]
        assert tracker.flush(timeout=10)
    return ids, failures


def _with_userinfo(url: str, user: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return parts._replace(netloc=f"{user}@{parts.netloc}").geturl()


@pytest.mark.parametrize(
    "how",
    [
        pytest.param("bearer", id="authorization-bearer-header"),
        pytest.param("basic", id="key-as-endpoint-user"),
        pytest.param("query", id="key-in-endpoint-query"),
    ],
)
def test_a_write_key_gets_events_into_a_collector_that_wants_one(collector: str, how: str) -> None:
    endpoint, options = collector, {}
    if how == "bearer":
        options = {"headers": {"Authorization": f"Bearer {WRITE_KEY}"}}
    elif how == "basic":
        endpoint = _with_userinfo(collector, WRITE_KEY)
    else:
        endpoint = f"{collector}/?key={WRITE_KEY}"
    ids, failures = _send(endpoint, **options)
    assert failures == []
    assert set(ids) <= set(_good_ids(collector))


def test_without_the_key_the_collector_refuses_and_on_failure_says_401(collector: str) -> None:
    ids, failures = _send(collector, headers={"Authorization": "Bearer not-the-key-0123456789"})
    assert list(collected(failures)) == [("refused", i) for i in ids]
    assert "answered 401" in failures[0].message
    assert not set(ids) & set(_good_ids(collector))


def test_requests_go_through_the_proxy_http_proxy_names(
    collector: str, proxy: Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    ids, failures = _send(collector, headers={"Authorization": f"Bearer {WRITE_KEY}"})
    assert failures == []
    assert set(ids) <= set(_good_ids(collector))
    [(method, target, headers)] = proxy.seen  # one batch, one request
    assert (method, target) == ("POST", f"{collector}/v1/events")
    assert headers["Authorization"] == f"Bearer {WRITE_KEY}"
    assert headers["Content-Encoding"] == "gzip"


@pytest.mark.parametrize("listed", ["127.0.0.1", "localhost,127.0.0.1", "*"])
def test_no_proxy_listing_the_collector_sends_directly(
    collector: str, proxy: Proxy, monkeypatch: pytest.MonkeyPatch, listed: str
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", listed)
    ids, failures = _send(collector, headers={"Authorization": f"Bearer {WRITE_KEY}"})
    assert failures == []
    assert set(ids) <= set(_good_ids(collector))
    assert proxy.seen == []


def test_an_explicit_proxy_is_used_with_its_credentials(collector: str, proxy: Proxy) -> None:
    with_credentials = _with_userinfo(proxy.url, "ops:s%40cret")
    ids, failures = _send(collector, headers={"Authorization": f"Bearer {WRITE_KEY}"}, proxy=with_credentials)
    assert failures == []
    assert set(ids) <= set(_good_ids(collector))
    [(_, target, headers)] = proxy.seen
    assert target == f"{collector}/v1/events"
    assert headers["Proxy-Authorization"] == "Basic " + base64.b64encode(b"ops:s@cret").decode()


def test_trust_env_false_ignores_http_proxy(collector: str, proxy: Proxy, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    ids, failures = _send(collector, headers={"Authorization": f"Bearer {WRITE_KEY}"}, trust_env=False)
    assert failures == []
    assert set(ids) <= set(_good_ids(collector))
    assert proxy.seen == []


def test_an_unreachable_proxy_is_a_network_error_reported_after_retries(
    collector: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Proxy() as gone:
        dead = gone.url
    monkeypatch.setenv("HTTP_PROXY", dead)
    ids, failures = _send(collector, headers={"Authorization": f"Bearer {WRITE_KEY}"})
    assert list(collected(failures)) == [("undeliverable", i) for i in ids]
    assert "ConnectionRefusedError" in failures[0].message


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({"headers": {"X-Key": "a\r\nInjected: 1"}}, "without CR, LF or NUL", id="header-value-with-newline"),
        pytest.param({"headers": {"Bad Name": "v"}}, "is not an HTTP token", id="header-name-with-space"),
        pytest.param({"headers": {"Content-Type": "text/plain"}}, "is set by the tracker itself", id="tracker-owned-header"),
        pytest.param({"proxy": "socks5://127.0.0.1:1080"}, "must be an http:// URL", id="proxy-not-http"),
    ],
)  # fmt: skip
def test_options_that_could_never_work_fail_at_construction_with_the_fix(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sdk.Tracker("http://127.0.0.1:9", **options)


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that is its own CA, and its key: (cert.pem, key.pem)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "charter test collector")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    (tmp / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    (tmp / "key.pem").write_bytes(pem)
    return tmp / "cert.pem", tmp / "key.pem"


def test_an_https_collector_is_reached_through_a_connect_tunnel_the_proxy_cannot_read(
    proxy: Proxy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = _self_signed(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # OpenSSL's trust store for this test: the test's own CA
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    fake = FakeCollector()
    fake.server.socket = context.wrap_socket(fake.server.socket, server_side=True)
    with fake:
        https = fake.url.replace("http://", "https://")
        failures: list[Any] = []
        with sdk.Tracker(https, headers={"Authorization": f"Bearer {WRITE_KEY}"}, on_failure=failures.append) as t:
            event_id = t.track(payment())
            assert t.flush(timeout=10)
        [request] = fake.wait_for_requests(1)
    assert failures == []
    assert (request.ids, request.headers["Authorization"]) == ([event_id], f"Bearer {WRITE_KEY}")
    [(method, target, headers)] = proxy.seen
    assert (method, target) == ("CONNECT", https.removeprefix("https://"))
    assert "Authorization" not in headers  # the write key travels inside TLS, unseen by the proxy
