from safetynet_core.db import run_alembic_env
from safetynet_risk.tables import metadata

run_alembic_env(metadata)
