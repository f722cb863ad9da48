from safetynet_core.db import run_alembic_env
from safetynet_notify.tables import metadata

# notify_0003 (delivery error classes) became notify_0004_error_classes when it was put after the departments'
# exchange migration, its sibling on notify_0002 (one line of history).
run_alembic_env(metadata, renamed_revisions={"notify_0003": "notify_0004_error_classes"})
