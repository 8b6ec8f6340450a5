"""Schemathesis hooks of the contract tests: one check of our own, on top of every built-in one."""

from __future__ import annotations

from typing import Any

import schemathesis

# Rules pydantic reports for what the OpenAPI document itself states (types, bounds, patterns,
# required and unknown fields, enumerations): a request the document calls valid never breaks one.
SCHEMA_RULES = frozenset({
    "missing", "extra_forbidden", "model_attributes_type", "model_type", "dict_type", "list_type",
    "int_type", "int_parsing", "int_from_float", "float_type", "float_parsing", "bool_type", "bool_parsing",
    "string_type", "string_too_short", "string_too_long", "string_pattern_mismatch",
    "greater_than", "greater_than_equal", "less_than", "less_than_equal", "multiple_of",
    "too_short", "too_long", "enum", "literal_error", "uuid_type", "uuid_parsing",
    "date_type", "date_parsing", "date_from_datetime_parsing", "date_from_datetime_inexact",
    "datetime_type", "datetime_parsing", "decimal_type", "decimal_parsing", "decimal_max_digits",
    "decimal_max_places", "decimal_whole_digits", "json_invalid", "json_type", "union_tag_invalid",
})


@schemathesis.check
def schema_valid_input_is_refused_only_for_a_business_rule(ctx: Any, response: Any, case: Any) -> None:
    """A 422 to a request the document calls valid must name business rules only, never a rule of the document."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 422:
        return None
    try:
        errors = response.json().get("errors", [])
    except ValueError:
        raise AssertionError("a 422 without a problem document") from None
    broken = sorted({e.get("rule") for e in errors} & SCHEMA_RULES)
    if broken:
        fields = sorted({e.get("field") for e in errors if e.get("rule") in SCHEMA_RULES})
        raise AssertionError(
            f"a request valid by the OpenAPI document was refused for a rule the document states: {broken} on {fields}"
        )
    return None
