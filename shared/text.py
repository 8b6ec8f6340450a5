"""Constrained strings for what users and partners type: ids, free text without control characters."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

# Postgres text cannot hold NUL; other control characters have no place in a file either (tab and
# newline excepted, for written opinions).
FreeText = Annotated[str, Field(pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$")]
IDENTIFIER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"
Identifier = Annotated[str, Field(min_length=1, max_length=64, pattern=IDENTIFIER_PATTERN)]
Reference = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[!-~]+$")]
