"""A command checked against the version it read is taken again while its row keeps changing, then refused (409)."""

from __future__ import annotations

import pytest

from shared.errors import BusinessRuleError
from shared.versioned import ATTEMPTS, CHANGED, Changed, retry_while_changed


async def test_a_command_whose_row_changed_twice_is_taken_a_third_time_and_answers_then() -> None:
    answers: list[str | Changed] = [CHANGED, CHANGED, "written"]
    calls = 0

    async def attempt() -> str | Changed:
        nonlocal calls
        calls += 1
        return answers.pop(0)

    assert await retry_while_changed(attempt, what="the loan", field="loan_id") == "written"
    assert calls == 3


async def test_a_row_that_keeps_changing_refuses_the_command_with_a_409_on_its_field() -> None:
    calls = 0

    async def attempt() -> str | Changed:
        nonlocal calls
        calls += 1
        return CHANGED

    with pytest.raises(BusinessRuleError) as refused:
        await retry_while_changed(attempt, what="the file", field="application_id")

    assert calls == ATTEMPTS
    assert (refused.value.field, refused.value.rule, refused.value.status) == ("application_id", "concurrent_change", 409)
