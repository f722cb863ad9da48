"""How every workflow here calls its activities: an explicit timeout, and retries that never give up
(projection writes and case events must land eventually), with capped backoff."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

ACTIVITY_TIMEOUT = timedelta(seconds=30)
ACTIVITY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), backoff_coefficient=2.0, maximum_interval=timedelta(minutes=1)
)


async def call_activity(
    name: str, arg: Any, *, result_type: type | None = None, timeout: timedelta = ACTIVITY_TIMEOUT
) -> Any:
    """Run activity `name` from a workflow with the options above."""
    return await workflow.execute_activity(
        name, arg, result_type=result_type, start_to_close_timeout=timeout, retry_policy=ACTIVITY_RETRY
    )
