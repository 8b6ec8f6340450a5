"""The close of business's rules and reports: grace days, the write-off threshold, chunks, what a run did (pure).

Which stage a loan is in follows from its days past due (`shared.events.vocabulary.DelinquencyStage`);
the run applies these rules set-based in SQL (`repository.close_of_business`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from services.servicing.settings import ServicingSettings


@dataclass(frozen=True)
class CobPolicy:
    """The rules of the run, from the service's settings."""

    grace_days: int = 0
    write_off_days: int = 180
    chunk_size: int = 1000

    @classmethod
    def of(cls, settings: ServicingSettings) -> CobPolicy:
        """The policy the service's settings configure."""
        return cls(grace_days=settings.grace_days, write_off_days=settings.write_off_days, chunk_size=settings.cob_chunk_size)

    def missed_by(self, business_date: date) -> date:
        """The last due date whose unpaid instalment counts as missed on `business_date` (grace days before it)."""
        return max(business_date, date.min + timedelta(days=self.grace_days)) - timedelta(days=self.grace_days)


@dataclass(frozen=True)
class ChunkDone:
    """What one chunk (or, added up, a run) changed."""

    loans: int = 0
    missed: int = 0
    stage_changes: int = 0
    written_off: int = 0

    def __add__(self, other: ChunkDone) -> ChunkDone:
        return ChunkDone(
            self.loans + other.loans, self.missed + other.missed,
            self.stage_changes + other.stage_changes, self.written_off + other.written_off,
        )


class CloseOfBusinessRun(BaseModel):
    """What one close-of-business request did (a resumed run counts only what it did itself)."""

    business_date: date
    missed_instalments: int
    stage_changes: int
    written_off: int
    loans_visited: int
    chunks: int
    resumed: bool

    @classmethod
    def of(cls, business_date: date, done: ChunkDone, *, chunks: int, resumed: bool) -> CloseOfBusinessRun:
        """The report of a run that made `chunks` chunks adding up to `done`."""
        return cls(
            business_date=business_date, missed_instalments=done.missed, stage_changes=done.stage_changes,
            written_off=done.written_off, loans_visited=done.loans, chunks=chunks, resumed=resumed,
        )


class RecordedRun(BaseModel):
    """A business date's close of business as recorded, readable while it runs: its last pass, and what all its passes changed."""

    business_date: date
    status: Literal["running", "finished"] = Field(
        description="`running` until the pass under way finishes (also a pass interrupted, until a new request resumes it)."
    )
    started_at: datetime = Field(description="When the last pass started.")
    finished_at: datetime | None = Field(description="When the last pass finished; null while it runs.")
    loans_to_visit: int | None = Field(
        description="Loans the last pass visits in all (null until it has counted them); a finished pass visited them all."
    )
    loans_visited: int = Field(description="Loans the last pass has visited so far, in committed chunks.")
    chunks: int = Field(description="Chunks the last pass has committed so far.")
    missed_instalments: int = Field(description="Instalments found missed on this date, by all its passes.")
    stage_changes: int = Field(description="Delinquency stage changes on this date, by all its passes.")
    written_off: int = Field(description="Loans written off on this date, by all its passes.")
    passes: int = Field(description="How many times the close of business of this date was started (a resumed pass counts once).")
