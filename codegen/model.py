"""What every generator shares: contract lines, one per (namespace, name, major).

An SDK has one type per contract major, generated from the newest version of that major,
named `PascalCase(name) + "V" + major` (`PaymentV1`, `ObjectImagesV2`), so adding a major
never renames an existing type. Events are sent with the major-only reference
`<namespace>/<name>/<major>`, which the collector resolves to the newest version it has.
"""

from __future__ import annotations

from dataclasses import dataclass

from collector.contracts import Contract, Registry


@dataclass(frozen=True, slots=True)
class Line:
    """The newest contract of one major, and the versions it supersedes."""

    contract: Contract
    versions: tuple[Contract, ...]

    @property
    def namespace(self) -> str:
        return self.contract.namespace

    @property
    def name(self) -> str:
        return self.contract.name

    @property
    def major(self) -> int:
        return self.contract.version.major

    @property
    def reference(self) -> str:
        """The major-only reference SDKs send: `com.acme.shop/payment/1`."""
        return f"{self.namespace}/{self.name}/{self.major}"

    @property
    def type_name(self) -> str:
        return "".join(part.capitalize() for part in self.name.split("_")) + f"V{self.major}"


def lines(registry: Registry) -> list[Line]:
    """Contract lines sorted by namespace, name, major (the registry is already sorted)."""
    grouped: dict[tuple[str, str, int], list[Contract]] = {}
    for c in registry:
        grouped.setdefault((c.namespace, c.name, c.version.major), []).append(c)
    return [Line(versions[-1], tuple(versions)) for versions in grouped.values()]
