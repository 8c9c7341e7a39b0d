"""Kafka security settings: combinations that cannot work are refused with the fix; producer options typed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from collector.sinks.kafka_security import KafkaSecurity, KafkaSecurityError


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"protocol": "SASL_SSL"}, "needs --kafka-sasl-mechanism", id="no-mechanism"),
        pytest.param({"protocol": "SASL_SSL", "mechanism": "PLAIN"}, "needs --kafka-sasl-username", id="no-user"),
        pytest.param(
            {"mechanism": "PLAIN", "username": "u", "password": "p"}, "use SASL_SSL", id="sasl-without-protocol"
        ),
        pytest.param({"cafile": Path("ca.pem")}, "use SSL or SASL_SSL", id="tls-files-without-tls"),
        pytest.param({"options": ("acks=1",)}, "Charter sets it", id="acks"),
        pytest.param({"options": ("bootstrap.servers=x:1",)}, "use --kafka-bootstrap", id="has-a-flag"),
        pytest.param({"options": ("no.such.thing=1",)}, "not a producer property", id="unknown"),
        pytest.param({"options": ("linger.ms=soon",)}, "must be a int", id="wrong-type"),
        pytest.param({"options": ("linger.ms",)}, "must be KEY=VALUE", id="no-value"),
        pytest.param(
            {"protocol": "SSL", "cafile": Path("/nonexistent/ca.pem")}, "cannot load the TLS files", id="missing-ca"
        ),
        pytest.param(
            {"protocol": "SASL_SSL", "mechanism": "OAUTHBEARER", "username": "i", "password": "s"},
            "sasl.oauthbearer.token.endpoint.url",
            id="oauth-without-endpoint",
        ),
    ],
)
def test_settings_that_cannot_work_say_which_and_the_fix(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(KafkaSecurityError, match=message):
        KafkaSecurity(**kwargs)


def test_producer_options_are_passed_on_typed() -> None:
    s = KafkaSecurity(options=("linger.ms=5", "client.id=edge-1", "ssl.endpoint.identification.algorithm="))
    assert s.producer() == {"linger_ms": 5, "client_id": "edge-1"}


def test_oauthbearer_extensions_go_with_the_token() -> None:
    s = KafkaSecurity(
        "SASL_SSL", "OAUTHBEARER", "client-id", "secret",
        options=("sasl.oauthbearer.token.endpoint.url=https://idp.example/token",
                 "sasl.oauthbearer.extension.logicalCluster=lkc-123",
                 "sasl.oauthbearer.extension.identityPoolId=pool-9"),
    )  # fmt: skip
    provider = s.client()["sasl_oauth_token_provider"]
    assert provider.extensions() == {"logicalCluster": "lkc-123", "identityPoolId": "pool-9"}
    assert s.producer() == {}  # extensions are not producer properties
