from safetynet_core.db import run_alembic_env
from safetynet_intake.tables import metadata

run_alembic_env(metadata)
