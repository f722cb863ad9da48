from safetynet_core.db import run_alembic_env
from safetynet_workflow.tables import metadata

# wf0003_field_ops became wf0004_field_ops when the two sibling 0003 revisions were made one line.
run_alembic_env(metadata, renamed_revisions={"wf0003_field_ops": "wf0004_field_ops"})
