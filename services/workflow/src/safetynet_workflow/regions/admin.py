"""The region directory for the admin CLI (`safetynet regions load FILE.csv`)."""

from __future__ import annotations

from typing import Any

from safetynet_core.db import Database
from safetynet_workflow.info import SERVICE
from safetynet_workflow.regions.service import load_file
from safetynet_workflow.regions.store import RegionStore
from safetynet_workflow.settings import Settings


async def load_regions(settings: Settings, text: str) -> dict[str, Any]:
    """Load a `code,name,parent` CSV's text into the directory; RegionFileError names the bad lines."""
    db = Database(settings, settings.db_schema or SERVICE.schema)
    try:
        return await load_file(RegionStore(db), text)
    finally:
        await db.close()
