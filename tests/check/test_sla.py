"""`x-contract.sla` that dbt freshness cannot express is a warning in `charter check`, before `export dbt` refuses it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.check.helpers import codes, contract, report, write


@pytest.mark.parametrize(
    ("sla", "warned"),
    [
        pytest.param("hourly", False, id="hourly"),
        pytest.param("5 minutes", False, id="minutes"),
        pytest.param("within 2 hours", False, id="within-hours"),
        pytest.param("99.9% of the time", True, id="not-a-freshness"),
        pytest.param("0 minutes", True, id="zero"),
    ],
)
def test_sla_dbt_cannot_check_is_a_warning(tmp_path: Path, sla: str, warned: bool) -> None:
    write(tmp_path, "1.0.0", contract({"id": {"type": "integer"}}, meta={"sla": sla}))
    code, doc = report(tmp_path)
    assert code == 0  # a warning: the collector does not read the SLA
    assert ("sla-format" in codes(doc, "warning")) is warned
    if warned:
        finding = next(f for f in doc["findings"] if f["code"] == "sla-format")
        assert "write `hourly`, `daily` or `<N> minutes|hours|days`" in finding["message"]
        assert finding["line"] is not None
