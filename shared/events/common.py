"""What every contract shares: amounts in cents, rates as fractions, and who follows the file."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import Field, PlainSerializer

from shared.events.envelope import Payload
from shared.money import canonical_decimal

Cents = Annotated[int, Field(ge=0, description="An amount in euro cents.")]
Rate = Annotated[
    Decimal,
    Field(ge=0, le=1, max_digits=9, decimal_places=6, description="Annual rate as a fraction (0.035 = 3.5 %)."),
    PlainSerializer(canonical_decimal, return_type=str, when_used="json"),
]


class FileOwnership(Payload):
    """Who follows the file: carried on every event so consumers can route and authorise."""

    association_id: str = Field(description="The accompanying association.")
    region: str = Field(description="The association branch's region (INSEE region code or name).")
    counsellor_id: str = Field(description="The counsellor who follows the borrower.")
