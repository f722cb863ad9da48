"""Department officers read only the cases of their own department's measures (issue 20: they read every
case timeline of their region): the case list, the case, its audit log and the case page; other roles are
unchanged."""

from __future__ import annotations

from typing import Any

import pytest

from safetynet_core.testing import free_port
from safetynet_workflow.auth.admin import create_user
from safetynet_workflow.info import SERVICE as WORKFLOW
from safetynet_workflow.main import create_app as create_workflow
from safetynet_workflow.settings import Settings as WorkflowSettings
from tests.security.conftest import StartService
from tests.security.support import OTHER_COUNTY_VILLAGE, PASSWORD, VILLAGE, Running, project_case

pytestmark = pytest.mark.integration
OFFICERS = {  # username -> (role, region, department)
    "civil": ("department_officer", VILLAGE[:6], "civil_affairs"),
    "schools": ("department_officer", VILLAGE[:6], "education"),
    "far_civil": ("department_officer", OTHER_COUNTY_VILLAGE[:6], "civil_affairs"),
    "township": ("township_officer", VILLAGE[:9], None),
}


async def test_department_officers_read_only_the_cases_of_their_measures(start_service: StartService) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"  # the case page's intake and notify: not needed here
    light: dict[str, Any] = {"run_worker": False, "run_consumer": False, "inspection_enabled": False,
                             "notify_url": nowhere, "intake_url": nowhere}  # fmt: skip
    async with start_service(WORKFLOW, WorkflowSettings, create_workflow, **light) as wf:
        for username, (role, region, department) in OFFICERS.items():
            await create_user(wf.settings, username=username, password=PASSWORD, role=role, region=region,
                              department=department)  # fmt: skip
        welfare, schooling, unassisted = [await project_case(wf.db, d) for d in ("civil_affairs", "education", None)]
        expected = {"civil": {welfare}, "schools": {schooling}, "far_civil": set(),
                    "township": {welfare, schooling, unassisted}}  # fmt: skip
        for username, visible in expected.items():
            auth = await wf.login(username)
            listed = await wf.http.get("/v1/cases", headers=auth)
            assert {c["case_id"] for c in listed.json()["cases"]} == visible, username
            for case_id in (welfare, schooling, unassisted):
                for path in (f"/v1/cases/{case_id}", f"/v1/cases/{case_id}/audit"):
                    answer = await wf.http.get(path, headers=auth)
                    assert answer.status_code == (200 if case_id in visible else 404), (username, path, answer.text)
            page = await case_page(wf, auth, welfare)
            assert page == (200 if welfare in visible else 404), username


async def case_page(wf: Running, auth: dict[str, str], case_id: str) -> int:
    cookie = {"Cookie": f"safetynet_session={auth['Authorization'].removeprefix('Bearer ')}"}
    return (await wf.http.get(f"/cases/{case_id}", headers=cookie)).status_code


async def test_only_case_workers_of_the_region_file_objections(start_service: StartService) -> None:
    """Any role could file objections, each sending a case back to the visit (issue 20): department officers
    and auditors are refused before anything runs; the case workers' roles reach the case's own checks."""
    nowhere = f"http://127.0.0.1:{free_port()}"
    light: dict[str, Any] = {"run_worker": False, "run_consumer": False, "inspection_enabled": False,
                             "notify_url": nowhere, "intake_url": nowhere}  # fmt: skip
    roles = {"civil": ("department_officer", "civil_affairs"), "auditor": ("auditor", None),
             "township": ("township_officer", None)}  # fmt: skip
    async with start_service(WORKFLOW, WorkflowSettings, create_workflow, **light) as wf:
        for username, (role, department) in roles.items():
            region = VILLAGE[:9] if role == "township_officer" else VILLAGE[:6]
            await create_user(wf.settings, username=username, password=PASSWORD, role=role, region=region,
                              department=department)  # fmt: skip
        case_id = await project_case(wf.db, "civil_affairs")
        answers = {}
        for username in roles:
            auth = await wf.login(username)
            filed = await wf.http.post(f"/v1/cases/{case_id}/objections", headers=auth, json={"reason": "他家开店"})
            answers[username] = filed.status_code
        assert answers["civil"] == 403 and answers["auditor"] == 403, answers
        assert answers["township"] != 403, answers  # past the role check: the case's own rules answer
