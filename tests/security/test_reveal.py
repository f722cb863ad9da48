"""The audited reveal (issue 20): a county officer (or admin) sees a member's full ID number only with a stated
reason, and intake's append-only reveal log records who, when and why; everyone else is refused; the number
is kept sealed, never in plain text; the workflow case page offers the reveal through intake with the user's
own token."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import pytest

from safetynet_core.testing import form_token, unique
from safetynet_intake.samples import household_record
from safetynet_workflow.auth.admin import create_user
from safetynet_workflow.clients.intake import IntakeClient
from safetynet_workflow.info import SERVICE as WORKFLOW
from safetynet_workflow.main import create_app as create_workflow
from safetynet_workflow.settings import Settings as WorkflowSettings
from tests.security.conftest import StartService
from tests.security.support import OTHER_COUNTY_VILLAGE, PASSWORD, VILLAGE, Running, project_case, token_for

pytestmark = pytest.mark.integration
HEAD_ID = household_record()["members"][0]["id_number"]  # 610327198001011234
REASON = {"reason": "核实低保申请人身份"}


async def registered(intake: Running) -> str:
    household = unique("H")
    registry = await intake.intake_key("rural_revitalization")
    answer = await intake.http.put(f"/v1/households/{household}", headers=registry, json=household_record(household))
    assert answer.status_code == 200, answer.text
    return household


async def test_a_county_officer_reveals_with_a_reason_and_the_log_keeps_who_when_why(intake: Running) -> None:
    household = await registered(intake)
    path = f"/v1/households/{household}/members/M1/reveal"
    county = token_for(intake.settings, "county_officer", VILLAGE[:6])
    before = datetime.now(UTC)
    revealed = await intake.http.post(path, headers=county, json=REASON)
    assert revealed.status_code == 200, revealed.text
    assert revealed.json()["id_number"] == HEAD_ID and revealed.headers["Cache-Control"] == "no-store"

    for body in ({}, {"reason": ""}, {"reason": "   "}, {"reason": "ok"}):  # a reason is required
        refused = await intake.http.post(path, headers=county, json=body)
        assert refused.status_code == 422 and refused.json()["detail"][0]["loc"][:2] == ["body", "reason"], body
    for role in ("village_cadre", "township_officer", "auditor", "department_officer", "grid_worker"):
        refused = await intake.http.post(path, headers=token_for(intake.settings, role, VILLAGE), json=REASON)
        assert refused.status_code == 403, role
    far = token_for(intake.settings, "county_officer", OTHER_COUNTY_VILLAGE[:6])
    assert (await intake.http.post(path, headers=far, json=REASON)).status_code == 404
    assert (await intake.http.post(path.replace("M1", "M9"), headers=county, json=REASON)).status_code == 404
    admin = token_for(intake.settings, "admin", "")
    assert (await intake.http.post(path.replace("M1", "M2"), headers=admin, json=REASON)).status_code == 200

    [first, second] = await intake.db.fetch("select * from reveal_audit order by reveal_id")
    assert (first["household_id"], first["member_id"], first["role"], first["reason"]) == (
        household, "M1", "county_officer", REASON["reason"]
    )  # fmt: skip
    assert first["username"] and first["revealed_at"] >= before
    assert first["region_code"] == household_record()["region_code"]
    assert (second["member_id"], second["role"]) == ("M2", "admin")
    for statement in ("update reveal_audit set reason = 'x'", "delete from reveal_audit", "truncate reveal_audit"):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await intake.db.execute(statement)

    log = await intake.http.get("/v1/reveals", headers=token_for(intake.settings, "auditor", VILLAGE[:6]))
    assert log.status_code == 200 and [r["member_id"] for r in log.json()["reveals"]] == ["M2", "M1"]
    assert HEAD_ID not in log.text
    assert (await intake.http.get("/v1/reveals", headers=far)).json()["reveals"] == []
    cadre = token_for(intake.settings, "village_cadre", VILLAGE)
    assert (await intake.http.get("/v1/reveals", headers=cadre)).status_code == 403


async def test_full_numbers_are_kept_sealed(intake: Running) -> None:
    household = await registered(intake)
    rows = await intake.db.fetch("select * from member_id_numbers where household_id = $1", household)
    assert {r["member_id"] for r in rows} == {"M1", "M2"}
    everything = str(await intake.db.fetch("select * from member_id_numbers")).encode()
    assert HEAD_ID.encode() not in everything and HEAD_ID[6:14].encode() not in everything
    assert HEAD_ID not in str(await intake.db.fetch("select * from households"))
    # a sealed number is bound to its member: moved to another row it does not open
    await intake.db.execute(
        "update member_id_numbers set sealed = (select sealed from member_id_numbers where household_id = $1"
        " and member_id = 'M2') where household_id = $1 and member_id = 'M1'",
        household,
    )
    county = token_for(intake.settings, "county_officer", VILLAGE[:6])
    moved = await intake.http.post(f"/v1/households/{household}/members/M1/reveal", headers=county, json=REASON)
    assert moved.status_code == 409


async def test_the_case_page_offers_the_reveal_to_county_officers(
    intake: Running, start_service: StartService
) -> None:
    household = await registered(intake)
    light = {"run_worker": False, "run_consumer": False, "inspection_enabled": False, "intake_url": intake.url}
    async with start_service(WORKFLOW, WorkflowSettings, create_workflow, **light) as wf:
        for username, role, region in (("county", "county_officer", VILLAGE[:6]), ("cadre", "village_cadre", VILLAGE)):
            await create_user(wf.settings, username=username, password=PASSWORD, role=role, region=region)
        case_id = await project_case(wf.db, household=household)
        county = await wf.login("county")
        cookie = {"Cookie": f"safetynet_session={county['Authorization'].removeprefix('Bearer ')}"}
        page = await wf.http.get(f"/cases/{case_id}", headers=cookie)
        assert page.status_code == 200 and 'class="reveal-form"' in page.text and HEAD_ID not in page.text
        form = {"member_id": "M1", **form_token(page.text)}
        refused = await wf.http.post(f"/cases/{case_id}/reveal", data=form, headers=cookie)  # no reason
        assert refused.status_code == 422 and 'id="reveal-error"' in refused.text and HEAD_ID not in refused.text
        shown = await wf.http.post(f"/cases/{case_id}/reveal", data={**form, **REASON}, headers=cookie)
        assert shown.status_code == 200 and f'id="revealed-id">{HEAD_ID}<' in shown.text
        assert shown.headers["Cache-Control"] == "no-store"
        assert (await wf.http.get(f"/cases/{case_id}", headers=cookie)).text.count(HEAD_ID) == 0  # shown once
        [logged] = await intake.db.fetch("select username, reason from reveal_audit")
        assert tuple(logged) == ("county", REASON["reason"])

        cadre = await wf.login("cadre")
        cadre_cookie = {"Cookie": f"safetynet_session={cadre['Authorization'].removeprefix('Bearer ')}"}
        cadre_page = await wf.http.get(f"/cases/{case_id}", headers=cadre_cookie)
        assert 'class="reveal-form"' not in cadre_page.text
        tried = await wf.http.post(f"/cases/{case_id}/reveal", headers=cadre_cookie,
                                   data={"member_id": "M1", **REASON, **form_token(cadre_page.text)})  # fmt: skip
        assert tried.status_code == 403 and HEAD_ID not in tried.text  # intake refused it
        assert await intake.db.fetchval("select count(*) from reveal_audit") == 1


async def test_the_workflow_client_asks_intakes_own_route(intake: Running) -> None:
    household = await registered(intake)
    client = IntakeClient(WorkflowSettings(intake_url=intake.url))
    try:
        token = token_for(intake.settings, "county_officer", VILLAGE[:6])["Authorization"].removeprefix("Bearer ")
        assert await client.reveal(token, household, "M1", REASON["reason"]) == (HEAD_ID, None)
        assert await client.reveal(token, household, "M1", "") == (None, "reveal.reason_required")
        assert await client.reveal(token, household, "M7", REASON["reason"]) == (None, "reveal.missing")
    finally:
        await client.close()
