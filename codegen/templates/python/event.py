"""The base of every generated event type, and the types the generated modules share."""

from __future__ import annotations

import datetime
from typing import Annotated, ClassVar, TypeAlias

import msgspec

AwareDatetime: TypeAlias = Annotated[datetime.datetime, msgspec.Meta(tz=True)]
"""A timestamp with its UTC offset: the collector refuses one without, so the SDK does too."""


class Event(msgspec.Struct, kw_only=True):
    """The `data` of an event of one contract major.

    `__charter_schema__` is the contract reference the tracker sends it under, e.g.
    `com.acme.shop/payment/1`: the collector resolves it to the newest version of that major.
    """

    __charter_schema__: ClassVar[str]
