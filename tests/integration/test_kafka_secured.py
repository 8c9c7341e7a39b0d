"""Secured Kafka: a broker of its own with a SASL_SSL listener (scripts/kafka KAFKA_SECURE_PORT: a
throwaway CA made by openssl at start), reached over TLS with each SASL mechanism, mutual TLS
and OAUTHBEARER; a wrong password or an untrusted certificate stops `charter serve` in one line."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from collector.route import Record
from collector.settings import Settings
from collector.sinks.kafka import KafkaSink
from tests.conftest import payment
from tests.integration.conftest import KAFKA_SCRIPT, ROOT, SCHEMAS, TEST_KEYS, KafkaBroker, free_port, poll_until

pytestmark = pytest.mark.kafka
USER, PASSWORD = "charter", "charter-secret"  # scripts/kafka's defaults for its secured listener


@dataclass
class SecuredBroker(KafkaBroker):
    secure_port: int = 0

    @property
    def secure(self) -> str:
        return f"127.0.0.1:{self.secure_port}"

    @property
    def tls(self) -> Path:
        return self.data_dir / "tls"

    def _script(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, KAFKA_PORT=str(self.port), KAFKA_CONTROLLER_PORT=str(self.controller_port),
                   KAFKA_SECURE_PORT=str(self.secure_port), CHARTER_KAFKA_DIR=str(self.data_dir))  # fmt: skip
        result = subprocess.run([str(KAFKA_SCRIPT), *args], env=env, capture_output=True, text=True, timeout=240)
        if result.returncode != 0 and args[0] != "status":
            raise RuntimeError(f"scripts/kafka {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredBroker]:
    b = SecuredBroker(free_port(), free_port(), tmp_path_factory.mktemp("kafka-secured"), free_port())
    b.start()
    try:
        yield b
    finally:
        b.stop()


def flags(broker: SecuredBroker, mechanism: str = "SCRAM-SHA-256", password: str = PASSWORD) -> list[str]:
    return ["--kafka-bootstrap", broker.secure, "--kafka-security-protocol", "SASL_SSL",
            "--kafka-sasl-mechanism", mechanism, "--kafka-sasl-username", USER, "--kafka-sasl-password", password,
            "--kafka-ssl-cafile", str(broker.tls / "ca.pem")]  # fmt: skip


@pytest.fixture(scope="module")
def token_endpoint() -> Iterator[str]:
    """An OAuth token endpoint that hands out unsecured JWTs (the broker's default OAUTHBEARER validator)."""

    def b64(d: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            assert self.headers["Authorization"] == "Basic " + base64.b64encode(b"charter-id:charter-secret").decode()
            self.rfile.read(int(self.headers["Content-Length"]))
            now = int(time.time())
            token = f"{b64({'alg': 'none'})}.{b64({'sub': 'charter', 'iat': now, 'exp': now + 3600})}."
            body = json.dumps({"access_token": token, "token_type": "Bearer", "expires_in": 3600}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/token"
    server.shutdown()
    server.server_close()


def security_cases(broker: SecuredBroker, token_url: str) -> dict[str, dict[str, Any]]:
    ca = broker.tls / "ca.pem"
    sasl = {"kafka_security_protocol": "SASL_SSL", "kafka_ssl_cafile": ca, "kafka_sasl_username": USER,
            "kafka_sasl_password": PASSWORD}  # fmt: skip
    return {
        "plain": {**sasl, "kafka_sasl_mechanism": "PLAIN"},
        "scram-sha-256": {**sasl, "kafka_sasl_mechanism": "SCRAM-SHA-256"},
        "scram-sha-512": {**sasl, "kafka_sasl_mechanism": "SCRAM-SHA-512"},
        "mutual-tls": {
            **sasl,
            "kafka_sasl_mechanism": "PLAIN",
            "kafka_ssl_certfile": broker.tls / "client.pem",
            "kafka_ssl_keyfile": broker.tls / "client.key",
        },
        "oauthbearer": {
            **sasl,
            "kafka_sasl_mechanism": "OAUTHBEARER",
            "kafka_sasl_username": "charter-id",
            "kafka_options": (f"sasl.oauthbearer.token.endpoint.url={token_url}",),
        },
    }


@pytest.mark.parametrize("case", ["plain", "scram-sha-256", "scram-sha-512", "mutual-tls", "oauthbearer"])
async def test_the_kafka_sink_writes_over_sasl_ssl(
    broker: SecuredBroker, token_endpoint: str, case: str, run_id: str
) -> None:
    settings = Settings(sink="kafka", kafka_bootstrap=broker.secure, sink_timeout=10,
                        **security_cases(broker, token_endpoint)[case])  # fmt: skip
    topic = f"secured.{case}.{run_id}"
    sink = KafkaSink(settings, {topic: 1})
    await sink.start()  # creates the topic and reads its limits through the admin client, securely too
    try:
        assert await sink.send([Record("good", topic, b"k", b'{"id": "x"}', [])]) == []
        assert sink.ready()
    finally:
        await sink.stop()


def serve(*args: str) -> tuple[subprocess.Popen[bytes], str]:
    """`charter serve --sink kafka` with `args`, and its URL."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHARTER_")}
    cmd = [sys.executable, "-m", "collector.cli", "serve", "--sink", "kafka", "--schemas", str(SCHEMAS),
           "--keys", str(TEST_KEYS), "--port", str(port), *args]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return proc, f"http://127.0.0.1:{port}"


async def test_serve_and_decrypt_over_sasl_ssl(broker: SecuredBroker, run_id: str) -> None:
    proc, url = serve(*flags(broker), "--kafka-option", "linger.ms=1")
    try:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:

            async def ready() -> bool:
                assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
                try:
                    return (await http.get("/ready")).status_code == 200
                except httpx.TransportError:
                    return False

            await poll_until(ready, 60, "charter serve over SASL_SSL to be ready")
            event = {
                "schema": "com.acme.shop/payment/1",
                "id": f"sec-{run_id}",
                "data": payment(order_id=int(time.time())),
            }
            assert (await http.post("/v1/events", json=event)).json() == {"accepted": 1, "rejected": 0}
    finally:
        proc.terminate()
        proc.communicate(timeout=30)  # waits, and closes its stderr pipe
    out = subprocess.run(
        [sys.executable, "-m", "collector.cli", "decrypt", "payments", "--keys", str(TEST_KEYS), *flags(broker)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    mine = [json.loads(line) for line in out.stdout.splitlines() if f"sec-{run_id}" in line]
    assert [m["data"]["cc_number"] for m in mine] == ["4111111111111111"]  # decrypted: the same flags reached it


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param({"password": "wrong"}, "refused the SASL SCRAM-SHA-256 login of 'charter'", id="wrong-password"),
        pytest.param(
            {"no_ca": True}, "is not trusted (unable to get local issuer certificate)", id="untrusted-certificate"
        ),
    ],
)
def test_a_start_that_cannot_authenticate_stops_in_one_line(
    broker: SecuredBroker, change: dict[str, Any], expected: str
) -> None:
    args = flags(broker, password=change.get("password", PASSWORD))
    if change.get("no_ca"):
        args = args[: args.index("--kafka-ssl-cafile")]  # the system's CAs do not know the throwaway one
    proc, _ = serve(*args)
    _, err = proc.communicate(timeout=60)
    lines = err.decode().strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, err.decode()
    assert lines[0].startswith("error: cannot connect to Kafka: ") and expected in lines[0]
    assert "wrong" not in lines[0] and PASSWORD not in lines[0]  # the password is never echoed
