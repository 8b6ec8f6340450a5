"""The terms a counsellor proposes and a bank approves, as a client writes them: amount, duration, rate (pure).

Each type refuses what the OpenAPI document calls invalid and accepts what it calls valid, so that a
client generated from the document is never surprised.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

from shared.fields import WHOLE_NUMBER, DecimalRate

MAX_ANNUAL_RATE = Decimal("0.2")
# How a rate is written: a plain decimal, at most six decimals (the column is numeric(9, 6)), no sign,
# exponent or padding, so that what the document states is exactly what is accepted.
_RATE_TEXT = re.compile(r"(0|[1-9][0-9]*)(\.[0-9]{1,6})?")
# The same within 0 to 0.2, as the document states it for a string: "0", "0.035", "0.2".
_RATE_SCHEMA = {
    "anyOf": [
        {"type": "string", "pattern": r"^0(\.([01][0-9]{0,5}|20{0,5}))?$"},
        {"type": "number", "minimum": 0, "maximum": float(MAX_ANNUAL_RATE), "multipleOf": 0.000001},
    ],
    "description": 'A nominal annual rate as a fraction, 0 to 0.2 with at most six decimals: "0.035" or 0.035.',
}


def _rate_text(value: Any) -> Any:
    # A string in another form ("3.5E-2", ".035", "0.0350000") is refused; the bounds are checked after.
    if isinstance(value, str) and not _RATE_TEXT.fullmatch(value):
        raise PydanticCustomError(
            "string_pattern_mismatch", 'a rate is written as a decimal fraction with at most six decimals, such as "0.035"'
        )
    return value


# The terms a counsellor proposes and a bank approves; bounds before the validator, so the document states them.
AmountCents = Annotated[int, Field(ge=300_00, le=8_000_00), WHOLE_NUMBER]
DurationMonths = Annotated[int, Field(ge=6, le=84), WHOLE_NUMBER]

# What a counsellor proposes and a bank approves: a fraction from 0 to 20 %, six decimals at most.
AnnualRate = Annotated[
    DecimalRate,
    Field(ge=0, le=MAX_ANNUAL_RATE, max_digits=9, decimal_places=6),
    BeforeValidator(_rate_text),
    WithJsonSchema(_RATE_SCHEMA, mode="validation"),
]
