"""E-mail routes: a counsellor's choice of immediate e-mails or a daily digest."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from services.notifications.context import Context
from services.notifications.email import usecases
from services.notifications.email.domain import EmailMode, EmailPreference
from shared.auth import Counsellor
from shared.fields import WHOLE_NUMBER

router = APIRouter(prefix="/preferences", tags=["alerts"])


class PreferenceChange(BaseModel):
    """One e-mail per alert, or one a day."""

    model_config = ConfigDict(extra="forbid")

    mode: EmailMode
    digest_hour: Annotated[int, Field(ge=0, le=23), WHOLE_NUMBER] | None = Field(None, description="daily_digest: local hour of the e-mail (default from settings).")


@router.get("/email", response_model=EmailPreference, summary="My e-mail preference")
async def get_preference(principal: Counsellor, ctx: Context) -> EmailPreference:
    """The counsellor's choice (default: one e-mail per alert)."""
    return await usecases.preference(ctx.pool, principal.subject, ctx.settings)


@router.put("/email", response_model=EmailPreference, summary="Choose immediate e-mails or a daily digest")
async def set_preference(body: PreferenceChange, principal: Counsellor, ctx: Context) -> EmailPreference:
    """Critical alerts are always sent at once, whatever the choice."""
    return await usecases.choose(ctx.pool, principal.subject, body.mode, body.digest_hour, ctx.settings, ctx.clock.now())
