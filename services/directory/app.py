"""Directory service assembly: the admins' API and the applications stream it watches."""

from __future__ import annotations

from pathlib import Path

from services.directory.api import router
from services.directory.handlers import register
from services.directory.settings import DirectorySettings
from shared import events
from shared.runtime import ServiceDefinition

DEFINITION = ServiceDefinition(
    name="directory",
    title="Microcredit directory",
    description=(
        "Association networks and their affordability thresholds, associations, partner banks and people's contacts, "
        "administered by the admins and published as snapshots to the services that keep a copy."
    ),
    schema="directory",
    migrations=Path(__file__).parent / "migrations",
    router=router,
    settings_cls=DirectorySettings,
    register_consumers=register,
    publishes=(
        events.DirectoryNetwork,
        events.DirectoryAssociation,
        events.DirectoryBank,
        events.DirectoryContact,
    ),
)

create_app = DEFINITION.create_app
