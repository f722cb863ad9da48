"""Shared by the risk integration tests: the database of the test's own `settings` (a fresh schema)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from safetynet_core.db import Database
from safetynet_risk.info import SERVICE
from safetynet_risk.settings import Settings


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings, settings.db_schema or SERVICE.schema)
    yield database
    await database.close()
