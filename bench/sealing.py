"""What sealing and opening personal fields cost per event, beside parsing and serialising the same event: `python -m bench.sealing`.

CPU only, in this process, no database (the keys are given: the keyring's one query per batch is not in these
figures). For each kind of event: its baseline (parse the bytes a consumer receives + serialise the event, what
every hop pays anyway), then sealing it as the outbox writer does, then opening it as assessment (the whole file)
and notifications (the name) do. A loan event has no personal field: its figure is the look-up that says so.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared import outbox
from shared.events import ApplicationAssessed, ApplicationSubmitted, PaymentMissed, parse_event
from shared.events.envelope import Envelope
from shared.events.personal import subject_of
from shared.privacy.sealing import GRANTS, open_event, seal_event

T = TypeVar("T")
GOLDEN = Path(__file__).resolve().parents[1] / "tests" / "golden"


def _per_event_us(events: int, step: Callable[[], object]) -> float:
    """Microseconds of this process's CPU per call of `step`, over `events` calls."""
    start = time.process_time()
    for _ in range(events):
        step()
    return (time.process_time() - start) / events * 1e6


def _sample(event_cls: type[Envelope[Any]]) -> Envelope[Any]:
    return parse_event((GOLDEN / f"{event_cls.event_type()}.json").read_bytes())


def measure(events: int) -> list[tuple[str, float, float, str]]:
    """(event type, baseline µs, sealing or opening µs, what) for each measured step."""
    key = AESGCM.generate_key(bit_length=256)
    rows: list[tuple[str, float, float, str]] = []
    for event_cls in (ApplicationSubmitted, ApplicationAssessed):
        event = _sample(event_cls)
        subject = subject_of(event)
        assert subject is not None
        raw = event.to_bytes()
        baseline = _per_event_us(events, lambda: parse_event(raw).to_bytes())
        rows.append((event.type, baseline, _per_event_us(events, lambda: seal_event(event, subject, key).to_bytes()), "seal + serialise"))
        sealed = parse_event(seal_event(event, subject, key).to_bytes())
        keys = {subject: key}
        for service, grants in GRANTS.items():
            fields = grants.get(event_cls)
            if fields:
                rows.append((event.type, baseline, _per_event_us(events, lambda f=fields: open_event(sealed, f, keys)), f"open ({service})"))
    missed = _sample(PaymentMissed)
    raw = missed.to_bytes()
    rows.append((
        missed.type, _per_event_us(events, lambda: parse_event(raw).to_bytes()),
        _per_event_us(events, lambda: _without_io(outbox.sealed(None, [missed]))),  # type: ignore[arg-type]
        "outbox.sealed: nothing to seal",
    ))
    return rows


def _without_io(coroutine: Coroutine[Any, Any, T]) -> T:
    """The result of a coroutine that finishes without awaiting anything (no event loop needed)."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    raise AssertionError("the coroutine waited for I/O")


def main(argv: list[str] | None = None) -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(prog="python -m bench.sealing", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5_000, help="calls of each step (default 5000)")
    args = parser.parse_args(argv)
    rows = measure(args.events)
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}, {args.events} calls each")
    print(f"{'event type':<45} {'baseline µs':>12} {'step µs':>9}  step")
    for event_type, baseline, cost, what in rows:
        print(f"{event_type:<45} {baseline:>12.1f} {cost:>9.1f}  {what}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
