from safetynet_core.db import run_alembic_env
from safetynet_workflow.tables import metadata

run_alembic_env(metadata)
