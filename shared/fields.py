"""Field types for what people and partners send: strict numbers, flags and dates, clean text, ids.

Request bodies are validated strictly where a lax reading would hide a client's bug: `"150000"` is not
an amount, `"yes"` is not a flag and `0` is not a date. Bounds go in `Field(...)` beside these types, so
that the OpenAPI document states them. JSON has no date type, so a date is an ISO
string (`"2026-03-02"`); a rate is a decimal string or a JSON number.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, PlainSerializer, Strict
from pydantic_core import PydanticCustomError

from shared.money import canonical_decimal

# Postgres text cannot hold NUL; other control characters have no place in a file either (tab and
# newline excepted, for written opinions).
FREE_TEXT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"  # no control character (Postgres refuses NUL in a text)
FreeText = Annotated[str, Field(pattern=FREE_TEXT_PATTERN)]
IDENTIFIER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"
Identifier = Annotated[str, Field(min_length=1, max_length=64, pattern=IDENTIFIER_PATTERN)]
Reference = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[!-~]+$")]

def _json_number(value: Any) -> Any:
    # "300000" or true is not an amount. 300000.0 is: JSON Schema's "integer" (the type the OpenAPI document
    # states) counts a number with a zero fraction as one; a fraction is refused by the int check after this.
    if isinstance(value, str | bool):
        raise PydanticCustomError("int_type", "Input should be a valid integer, written as a JSON number")
    return value


# A whole number written as a JSON number: "150000", true and 3000.5 are refused; 150000.0 is 150000.
WHOLE_NUMBER = BeforeValidator(_json_number)
Integer = Annotated[int, WHOLE_NUMBER]
# Bounds: `x: Integer = Field(ge=…)` on a field, or `Annotated[int, Field(ge=…), WHOLE_NUMBER]` for a reusable
# type (bounds before the validator, or the OpenAPI document would not state them as minimum/maximum).
# true or false, never "yes", 1 or "true".
Flag = Annotated[bool, Strict()]


def _iso_date(value: Any) -> Any:
    if isinstance(value, date | str):
        return value
    raise PydanticCustomError("date_type", "a date is written as a string YYYY-MM-DD")


# A calendar day as an ISO string ("2026-03-02"); a number is refused rather than read as a timestamp.
Day = Annotated[date, BeforeValidator(_iso_date)]


def _decimal(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise PydanticCustomError("decimal_type", "a rate is written as a decimal string such as \"0.035\", or a number")
    return value


# A rate or share as a fraction: read from a decimal string or a number, written as a canonical string.
DecimalRate = Annotated[
    Decimal, BeforeValidator(_decimal), PlainSerializer(canonical_decimal, return_type=str, when_used="json")
]
# The same, for what a service reads back from its database and shows (numeric(9, 6) pads 0.035 to 0.035000).
ShownRate = Annotated[Decimal, PlainSerializer(canonical_decimal, return_type=str, when_used="json")]
