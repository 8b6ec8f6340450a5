"""The README stays true: its event catalogue shows every event type with an example that parses."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from shared.events import parse_event
from shared.events import EVENT_CLASSES

pytestmark = pytest.mark.unit

README = Path(__file__).resolve().parents[2] / "README.md"


def _examples() -> dict[str, str]:
    """Every fenced JSON block of the README that is an event, by its type."""
    blocks = re.findall(r"```json\n(.*?)```", README.read_text(), flags=re.S)
    return {json.loads(b)["type"]: b for b in blocks if '"specversion"' in b}


@pytest.mark.parametrize("event_cls", EVENT_CLASSES, ids=lambda c: c.event_type())
def test_the_catalogue_documents_every_event_with_an_example_that_parses(event_cls: type) -> None:
    examples = _examples()

    assert event_cls.event_type() in examples, f"README lacks an example of {event_cls.event_type()}"
    assert isinstance(parse_event(examples[event_cls.event_type()]), event_cls)


def test_the_readme_shows_the_two_commands_ci_runs() -> None:
    text = README.read_text()
    ci = (README.parent / ".ci" / "run").read_text()

    assert "make run" in text and "make test" in text
    assert "make test" in ci
