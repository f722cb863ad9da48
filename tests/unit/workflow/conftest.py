"""Fixtures for the workflow unit tests: a fresh time-skipping Temporal test server per test (one
server's clock is shared, so a leftover timer elsewhere would stall skipping)."""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

sys.path.insert(0, str(Path(__file__).parent))
from workflow_harness import Harness, Recorder

from safetynet_workflow.registry import WORKFLOWS


@pytest.fixture
async def harness(time_env: WorkflowEnvironment) -> AsyncIterator[Harness]:
    recorder = Recorder()
    task_queue = f"wf-test-{uuid.uuid4().hex[:8]}"
    async with Worker(
        time_env.client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=[recorder.project, recorder.household_facts, recorder.reopen_case, recorder.sample_closed_cases],
    ):
        yield Harness(time_env, recorder, task_queue)
