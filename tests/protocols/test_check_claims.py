"""`charter check`: changing which Segment calls or CloudEvents a contract claims moves events
to another contract (or makes them unplanned), so it breaks both ways, like a topic change."""

from __future__ import annotations

from typing import Any

import pytest

from codegen.check.compat import diff
from codegen.check.modes import Mode, breaks
from tests.check.helpers import contract


def meta(old: dict[str, Any], new: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    return contract({"id": {"type": "integer"}}, meta=old), contract({"id": {"type": "integer"}}, meta=new)


@pytest.mark.parametrize(
    ("old", "new", "path"),
    [
        pytest.param(*meta({"segment": {"type": "track", "event": "Order Completed"}},
                           {"segment": {"type": "track", "event": "Order Placed"}}), "x-contract.segment", id="segment"),
        pytest.param(*meta({}, {"cloudevents_type": "com.acme.orders.shipped"}), "x-contract.cloudevents_type",
                     id="cloudevents-type-added"),
    ],
)  # fmt: skip
def test_a_changed_claim_breaks_under_every_mode_but_none(old: dict[str, Any], new: dict[str, Any], path: str) -> None:
    [change] = diff(old, new)
    assert (change.kind, change.path, change.docs) == ("claim-changed", path, False)
    assert [m for m in Mode if not breaks(change, m)] == [Mode.NONE]
