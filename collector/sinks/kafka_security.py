"""Secured Kafka clusters: TLS, SASL (PLAIN, SCRAM-SHA-256/512, OAUTHBEARER) and other producer properties.

Every Kafka client Charter makes (the sink's producer and admin clients, `charter decrypt`'s
consumer) is built with the same `KafkaSecurity`, from `--kafka-security-protocol`,
`--kafka-sasl-*`, `--kafka-ssl-*` and `--kafka-option KEY=VALUE` (Java client property names).
`preflight` connects once before the collector starts, so a wrong password or an untrusted
certificate stops `charter serve` with one line naming the cause: aiokafka's own start only
says that it could not bootstrap, so the cause is read from the exception's type here.

OAUTHBEARER fetches tokens with the OAuth client-credentials grant (as Java's OIDC login
handler does): `--kafka-option sasl.oauthbearer.token.endpoint.url=https://…`, the client id
and secret as `--kafka-sasl-username` and `--kafka-sasl-password`, an optional
`sasl.oauthbearer.scope`, and SASL extensions as `sasl.oauthbearer.extension.<name>=<value>`
(Confluent Cloud wants `logicalCluster` and `identityPoolId`).
"""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from aiokafka.abc import AbstractTokenProvider
from aiokafka.errors import (
    AuthenticationFailedError,
    IllegalSaslStateError,
    KafkaError,
    SaslAuthenticationFailed,
    UnsupportedSaslMechanismError,
)

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER")
# Java client properties Charter reads itself (everything else goes to the producer)
_HOSTNAME = "ssl.endpoint.identification.algorithm"
_KEY_PASSWORD = "ssl.key.password"
_TOKEN_URL = "sasl.oauthbearer.token.endpoint.url"
_SCOPE = "sasl.oauthbearer.scope"
_EXTENSION = "sasl.oauthbearer.extension."
_OWN = {_HOSTNAME, _KEY_PASSWORD, _TOKEN_URL, _SCOPE}
# producer properties a user may set: the rest are Charter's promise (acks=all, idempotence,
# batch sizes it cuts itself) or have their own flag
_PRODUCER = {"client_id": str, "request_timeout_ms": int, "metadata_max_age_ms": int, "retry_backoff_ms": int,
             "connections_max_idle_ms": int, "linger_ms": int, "compression_type": str, "api_version": str}  # fmt: skip
_FLAGS = {"bootstrap_servers": "--kafka-bootstrap", "security_protocol": "--kafka-security-protocol",
          "sasl_mechanism": "--kafka-sasl-mechanism", "sasl_plain_username": "--kafka-sasl-username",
          "sasl_plain_password": "--kafka-sasl-password", "sasl_jaas_config": "--kafka-sasl-username/-password",
          "ssl_truststore_location": "--kafka-ssl-cafile", "ssl_keystore_location": "--kafka-ssl-certfile",
          "acks": None, "enable_idempotence": None, "max_request_size": None, "max_batch_size": None}  # fmt: skip


class KafkaSecurityError(ValueError):
    """Settings that cannot work together; the message says which and the fix."""


class KafkaSecurity:
    """How Charter's Kafka clients authenticate and encrypt; one per process."""

    def __init__(
        self, protocol: str = "PLAINTEXT", mechanism: str | None = None, username: str | None = None,
        password: str | None = None, cafile: Path | None = None, certfile: Path | None = None,
        keyfile: Path | None = None, options: tuple[str, ...] = (),
    ) -> None:  # fmt: skip
        self.protocol, self.mechanism, self.username, self.password = protocol.upper(), mechanism, username, password
        self.cafile, self.certfile, self.keyfile = cafile, certfile, keyfile
        self.options = _parse(options)
        self._check()
        self._context = self._ssl_context() if self.protocol in ("SSL", "SASL_SSL") else None
        self._tokens = self._token_provider()
        self._producer = self._producer_options()

    @classmethod
    def of(cls, settings: Any) -> KafkaSecurity:
        """From the settings (or any object with the `kafka_*` fields)."""
        s = settings
        return cls(s.kafka_security_protocol, s.kafka_sasl_mechanism, s.kafka_sasl_username, s.kafka_sasl_password,
                   s.kafka_ssl_cafile, s.kafka_ssl_certfile, s.kafka_ssl_keyfile, tuple(s.kafka_options))  # fmt: skip

    def client(self) -> dict[str, Any]:
        """aiokafka arguments for any client (producer, admin, consumer) and for `create_conn`."""
        out: dict[str, Any] = {"security_protocol": self.protocol}
        if self._context is not None:
            out["ssl_context"] = self._context
        if self.protocol.startswith("SASL_"):
            out["sasl_mechanism"] = self.mechanism
            if self._tokens is not None:
                out["sasl_oauth_token_provider"] = self._tokens
            else:
                out["sasl_plain_username"], out["sasl_plain_password"] = self.username, self.password
        return out

    def producer(self) -> dict[str, Any]:
        """The `--kafka-option`s that are producer properties, as aiokafka arguments."""
        return dict(self._producer)

    def _check(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise KafkaSecurityError(f"--kafka-security-protocol {self.protocol!r}: one of {', '.join(PROTOCOLS)}")
        sasl = self.protocol.startswith("SASL_")
        if sasl and self.mechanism not in MECHANISMS:
            raise KafkaSecurityError(f"--kafka-security-protocol {self.protocol} needs --kafka-sasl-mechanism "
                                     f"({', '.join(MECHANISMS)})")  # fmt: skip
        if not sasl and (self.mechanism or self.username or self.password):
            raise KafkaSecurityError(f"--kafka-sasl-* is set but --kafka-security-protocol is {self.protocol}: "
                                     "use SASL_SSL (or SASL_PLAINTEXT)")  # fmt: skip
        if sasl and not (self.username and self.password):
            what = "client id and secret" if self.mechanism == "OAUTHBEARER" else "user name and password"
            raise KafkaSecurityError(f"SASL {self.mechanism} needs --kafka-sasl-username and --kafka-sasl-password "
                                     f"(the {what})")  # fmt: skip
        if self.mechanism == "OAUTHBEARER" and _TOKEN_URL not in self.options:
            raise KafkaSecurityError(f"SASL OAUTHBEARER needs --kafka-option {_TOKEN_URL}=https://… (the OAuth "
                                     "token endpoint; the client credentials grant is used)")  # fmt: skip
        tls = self.protocol in ("SSL", "SASL_SSL")
        if not tls and (self.cafile or self.certfile or self.keyfile):
            raise KafkaSecurityError(f"--kafka-ssl-* is set but --kafka-security-protocol is {self.protocol}: "
                                     "use SSL or SASL_SSL")  # fmt: skip
        if self.keyfile and not self.certfile:
            raise KafkaSecurityError("--kafka-ssl-keyfile needs --kafka-ssl-certfile (the client certificate)")

    def _ssl_context(self) -> ssl.SSLContext:
        """The system's CAs, or --kafka-ssl-cafile; hostname checked unless the option turns it off."""
        try:
            context = ssl.create_default_context(cafile=str(self.cafile) if self.cafile else None)
            if self.certfile:
                password = self.options.get(_KEY_PASSWORD, "")  # never an interactive prompt
                context.load_cert_chain(self.certfile, self.keyfile, lambda: password.encode())
        except (OSError, ssl.SSLError) as exc:
            files = ", ".join(str(f) for f in (self.cafile, self.certfile, self.keyfile) if f)
            raise KafkaSecurityError(f"cannot load the TLS files ({files}): {exc}") from None
        algorithm = self.options.get(_HOSTNAME, "https").lower()
        if algorithm not in ("", "https"):
            raise KafkaSecurityError(f"--kafka-option {_HOSTNAME}={algorithm}: use https (check) or empty (skip)")
        context.check_hostname = algorithm == "https"
        return context

    def _token_provider(self) -> AbstractTokenProvider | None:
        if self.mechanism != "OAUTHBEARER" or not self.protocol.startswith("SASL_"):
            return None
        assert self.username is not None and self.password is not None
        extensions = {k.removeprefix(_EXTENSION): v for k, v in self.options.items() if k.startswith(_EXTENSION)}
        url, scope = self.options[_TOKEN_URL], self.options.get(_SCOPE)
        return ClientCredentials(url, self.username, self.password, scope, extensions)

    def _producer_options(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in self.options.items():
            if key in _OWN or key.startswith(_EXTENSION):
                continue
            name = key.replace(".", "_").replace("-", "_")
            if name in _FLAGS:
                flag = _FLAGS[name]
                hint = f"use {flag}" if flag else "Charter sets it (acks=all, idempotence, its own batch sizes)"
                raise KafkaSecurityError(f"--kafka-option {key}: {hint}")
            kind = _PRODUCER.get(name)
            if kind is None:
                known = ", ".join(sorted(k.replace("_", ".") for k in _PRODUCER) + sorted(_OWN))
                raise KafkaSecurityError(f"--kafka-option {key}: not a producer property Charter can pass on "
                                         f"(known: {known})")  # fmt: skip
            try:
                out[name] = kind(value)
            except ValueError:
                raise KafkaSecurityError(f"--kafka-option {key}={value}: must be a {kind.__name__}") from None
        return out


def _parse(options: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for option in options:
        key, sep, value = option.partition("=")
        if not sep or not key.strip():
            raise KafkaSecurityError(f"--kafka-option {option!r} must be KEY=VALUE, e.g. linger.ms=5")
        out[key.strip()] = value.strip()
    return out


class ClientCredentials(AbstractTokenProvider):  # type: ignore[misc]  # aiokafka is untyped
    """OAUTHBEARER tokens from an OAuth token endpoint (client credentials), reused until near expiry."""

    def __init__(
        self, url: str, client_id: str, secret: str, scope: str | None, extensions: dict[str, str] | None = None
    ) -> None:
        self.url, self.scope, self._extensions = url, scope, extensions or {}
        self._auth = "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        self._token: str | None = None
        self._renew_at = 0.0

    async def token(self) -> str:
        if self._token is None or time.monotonic() >= self._renew_at:
            token, lifetime = await asyncio.to_thread(self._fetch)
            self._token, self._renew_at = token, time.monotonic() + lifetime * 0.8
        return self._token

    def extensions(self) -> dict[str, str]:
        """SASL extensions sent with the token (aiokafka asks for them at each login)."""
        return dict(self._extensions)

    def _fetch(self) -> tuple[str, float]:
        form = {"grant_type": "client_credentials", **({"scope": self.scope} if self.scope else {})}
        headers = {"Authorization": self._auth, "Accept": "application/json"}
        request = urllib.request.Request(self.url, urllib.parse.urlencode(form).encode(), headers, method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:  # the URL the operator gave
            body = json.loads(response.read())
        return str(body["access_token"]), float(body.get("expires_in", 300))


async def preflight(bootstrap: str, security: KafkaSecurity, timeout: float) -> str | None:
    """Connect to the bootstrap brokers as Charter's clients will: None if one answers, else why not."""
    from aiokafka.conn import create_conn

    causes: list[str] = []
    for host, port in _hosts(bootstrap):
        try:
            conn = await asyncio.wait_for(
                create_conn(host, port, client_id="charter-preflight", request_timeout_ms=int(timeout * 1000),
                            **security.client()),
                timeout,
            )  # fmt: skip
        except Exception as exc:
            causes.append(_cause(exc, f"{host}:{port}", security, timeout))
            continue
        conn.close()
        return None
    return "; ".join(causes) or f"--kafka-bootstrap {bootstrap!r} names no HOST:PORT"


def _hosts(bootstrap: str) -> list[tuple[str, int]]:
    out = []
    for item in bootstrap.split(","):
        host, _, port = item.strip().rpartition(":")
        if host and port.isdigit():
            out.append((host.strip("[]"), int(port)))
    return out


def _cause(exc: BaseException, where: str, s: KafkaSecurity, timeout: float) -> str:
    """One line per failure kind, from the exception's type (never its wording)."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        if exc.verify_code == 62:  # X509_V_ERR_HOSTNAME_MISMATCH
            return (f"the TLS certificate of {where} does not name that host ({exc.verify_message}); connect by a "
                    f"name it holds, or skip the check with --kafka-option {_HOSTNAME}=")  # fmt: skip
        fix = "is --kafka-ssl-cafile the CA that signed it?" if s.cafile else "give its CA with --kafka-ssl-cafile"
        return f"the TLS certificate of {where} is not trusted ({exc.verify_message}): {fix}"
    if isinstance(exc, ssl.SSLError):
        return f"the TLS handshake with {where} failed ({exc.reason}): is that port a TLS listener?"
    if isinstance(exc, (SaslAuthenticationFailed, AuthenticationFailedError)):
        return (f"{where} refused the SASL {s.mechanism} login of {s.username!r} ({exc}); check "
                "--kafka-sasl-username and --kafka-sasl-password")  # fmt: skip
    if isinstance(exc, (UnsupportedSaslMechanismError, IllegalSaslStateError)):
        return f"{where} does not take SASL {s.mechanism} ({exc}); see the mechanisms its listener enables"
    if isinstance(exc, ConnectionRefusedError):
        return f"nothing listens at {where} (connection refused)"
    if isinstance(exc, ConnectionError):  # reset or aborted: most often TLS spoken to a plain listener
        return (f"{where} closed the connection ({type(exc).__name__}) before a {s.protocol} session was set up; "
                "check --kafka-security-protocol and the port")  # fmt: skip
    if isinstance(exc, OSError) and not isinstance(exc, TimeoutError):
        return f"cannot connect to {where}: {exc.strerror or exc}"
    if isinstance(exc, (TimeoutError, KafkaError)):
        return (f"{where} did not answer as a {s.protocol} listener within {timeout:g}s ({type(exc).__name__}); "
                "check --kafka-security-protocol and the port")  # fmt: skip
    return f"cannot connect to {where}: {type(exc).__name__}: {exc}"
