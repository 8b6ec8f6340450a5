"""What the groups' jobs and routes get from the runtime: the service context, typed by the notifications settings."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from services.notifications.settings import NotificationsSettings
from shared.runtime import ServiceContext, service_context

# A timer's or a worker's context (`ctx.settings` is the notifications settings).
Notifications = ServiceContext[NotificationsSettings]
# A route's context.
Context = Annotated[Notifications, Depends(service_context)]
