"""The demo's case workers: for part of the caseload they do what village cadres, township and county
officers, department officers and auditors do, through the same HTTP API as the UI (screens, home visits
with the guarantees checklist, data comparisons, reviews and approvals, assistance plans naming the
household's responsible cadre, measures, monthly reviews, eliminations, inspections, an objection during a
notice and a county close action). The rest of the caseload is left alone, so overdue tasks, escalations
and identification breaches show as well.

Which cases are worked, dismissed or rejected follows a hash of the household id (reproducible). Every act
is done as the user whose inbox holds the task: the village's cadre, the township's officer, the county's
officer, the measure's department officer, the county's auditor."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from safetynet_cli.accounts import Account
from safetynet_core.policy import Policy
from safetynet_core.vocabulary import GUARANTEES

# Buckets of a household's hash (0-99): below LEFT_ALONE nobody works the case; then the demo dismisses
# it at screening, the township rejects it, the data comparison finds inconsistencies, or its reviews
# find the income still low; the rest go the whole way.
LEFT_ALONE, DISMISS, REJECT, INCONSISTENT, LOW_INCOME, OBJECT = 30, 36, 40, 44, 48, 52
MEASURE_DEPARTMENT = {
    "industry": "rural_revitalization", "employment": "human_resources", "public_welfare_job": "human_resources",
    "microcredit": "rural_revitalization", "medical_assistance": "medical_insurance",
    "education_assistance": "education", "minimum_living_allowance": "civil_affairs",
    "extreme_poverty_support": "civil_affairs", "temporary_assistance": "civil_affairs",
    "housing_renovation": "housing", "drinking_water": "water", "anti_poverty_insurance": "medical_insurance",
    "other": "rural_revitalization",
}  # fmt: skip
CASE_KINDS = {"screen", "home_visit", "data_comparison", "comparison_followup", "township_review", "county_approval",
              "assistance_plan", "measure", "review", "elimination_visit", "elimination_township_check",
              "elimination_county_decision", "natural_close_review", "inspection", "rectification"}  # fmt: skip
CONCURRENCY = 16
DEPARTMENTS = sorted(set(MEASURE_DEPARTMENT.values()))


def bucket(household_id: str) -> int:
    return hashlib.sha256(household_id.encode()).digest()[0] * 100 // 256


def worked(household_id: str) -> bool:
    return bucket(household_id) >= LEFT_ALONE


def case_workers(county: str, villages: list[str]) -> list[Account]:
    """The demo's case workers of a county: a cadre per village, an officer per township, the county's
    officer and auditor, and an officer for every department a measure goes to."""
    townships = sorted({v[:9] for v in villages})
    return [
        *(Account(f"cadre_{v}", "village_cadre", v) for v in villages),
        *(Account(f"town_{t}", "township_officer", t) for t in townships),
        Account(f"county_{county}", "county_officer", county),
        Account(f"audit_{county}", "auditor", county),
        *(Account(f"dept_{county}_{d}", "department_officer", county, d) for d in DEPARTMENTS),
    ]


def _guarantees(secure: bool = True, **insecure: bool) -> dict[str, bool]:
    return {name: secure and not insecure.get(name, False) for name in GUARANTEES}


@dataclass
class Casework:
    """Works the open tasks of the worked cases of a county, pass after pass."""

    http: httpx.AsyncClient
    policy: Policy
    county: str
    tokens: dict[str, str]
    done: Counter[str] = field(default_factory=Counter)
    acts: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    _cases: dict[str, dict[str, Any]] = field(default_factory=dict)
    _completed: set[str] = field(default_factory=set)  # the task list may show them open a moment longer

    def _as(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[username]}"}

    def actor(self, task: dict[str, Any]) -> str | None:
        """The demo user whose inbox holds the task (None: none of the demo's users)."""
        if task.get("assignee") and task["assignee"] in self.tokens:
            return str(task["assignee"])
        region, role = task["region_code"], task["role"]
        name = {
            "village_cadre": f"cadre_{region}",
            "township_officer": f"town_{region[:9]}",
            "county_officer": f"county_{self.county}",
            "auditor": f"audit_{self.county}",
            "department_officer": f"dept_{self.county}_{task.get('department')}",
        }.get(role)
        return name if name in self.tokens else None

    async def _case(self, case_id: str, household_id: str, admin: str) -> dict[str, Any]:
        """The case as lists show it (its household's cases are found by the household id)."""
        if case_id not in self._cases:
            params: dict[str, str | int] = {"q": household_id, "region": self.county, "limit": 20}
            response = await self.http.get("/v1/cases", params=params, headers=self._as(admin))
            response.raise_for_status()
            self._cases.update({c["case_id"]: c for c in response.json()["cases"]})
        return self._cases[case_id]

    def plan(self, case: dict[str, Any], responsible: str, everything: bool = False) -> dict[str, Any]:
        """Measures addressing each risk type, work for a household that can work, a safety net for one
        that cannot (with `everything`, every kind the policy might ask for)."""
        rules = self.policy.workflow
        labour = (case["household"] or {}).get("labour_members")
        types: list[str] = [rules.measures_for_risk[r][0] for r in case["risk_types"] if rules.measures_for_risk.get(r)]
        if labour or everything:
            types.append("employment")
        if labour == 0 or everything:
            types.append("minimum_living_allowance")
        measures = []
        for kind in dict.fromkeys(types or ["employment"]):
            measure: dict[str, Any] = {"type": kind, "department": MEASURE_DEPARTMENT[kind],
                                       "description": f"帮扶措施：{kind}"}  # fmt: skip
            if kind == "microcredit":
                measure.update(amount_cny=30000, years=2)
            measures.append(measure)
        return {"measures": measures, "responsible": responsible}

    async def form(self, task: dict[str, Any], admin: str) -> dict[str, Any] | None:
        """The form the demo fills in for a task (None: the demo leaves it)."""
        kind, household = task["kind"], task["household_id"]
        if kind in ("inspection", "rectification"):
            return await self._audit_form(task)
        if not worked(household) or kind not in CASE_KINDS:
            return None
        case = await self._case(task["case_id"], household, admin)
        size = (case["household"] or {}).get("size") or 3
        line = 8500
        b = bucket(household)
        today = datetime.now(UTC).date().isoformat()
        cadre = f"cadre_{case['region_code']}"
        if kind == "screen":
            if b < DISMISS:
                return {"decision": "dismiss", "reason": "经入户初核，家庭收入稳定，无返贫风险"}
            return {"decision": "proceed", "reason": "部门预警属实，进入核实"}
        if kind in ("home_visit", "elimination_visit"):
            eliminating = kind == "elimination_visit"
            income = size * (line * 1.4 if eliminating else line * 0.8)
            return {"visitors": [cadre, "驻村工作队员"], "consent": True, "verified_annual_income_cny": round(income),
                    "members_present": max(1, size - 1), "notes": "入户核实家庭收支和两不愁三保障情况",
                    "guarantees": _guarantees(housing=not eliminating and "housing" in case["risk_types"])}  # fmt: skip
        if kind == "data_comparison":
            consistent = not REJECT <= b < INCONSISTENT
            return {"consistent": consistent, "notes": "" if consistent else "医保报销数据与申报不一致"}
        if kind == "comparison_followup":
            return {"resolution": "已入户核实，差异系统计口径不同", "notes": ""}
        if kind == "township_review" and DISMISS <= b < REJECT:
            return {"decision": "reject", "reason": "家庭人均收入高于监测范围，不符合纳入条件"}
        if kind == "county_approval":  # the county includes the household in a monitoring category
            return {"decision": "approve", "reason": "同意纳入监测", "category": case["category"] or "sudden_hardship"}
        if kind in ("township_review", "elimination_township_check", "elimination_county_decision",
                    "natural_close_review"):  # fmt: skip
            return {"decision": "approve", "reason": "同意"}
        if kind == "assistance_plan":
            return self.plan(case, cadre)
        if kind == "measure":
            return {"started_on": today, "notes": "措施已落实"}
        if kind == "review":
            low = INCONSISTENT <= b < LOW_INCOME
            return {"annual_net_income_cny": round(size * line * (0.7 if low else 1.4)), "notes": "月度回访",
                    "guarantees": _guarantees()}  # fmt: skip
        return None

    async def _audit_form(self, task: dict[str, Any]) -> dict[str, Any]:
        if task["kind"] == "rectification":
            return {"evidence": "已重新入户核实并更正收入信息", "notes": "整改完成"}
        eliminated = (task.get("subject") or {}).get("close_reason") == "risk_eliminated"
        if eliminated and not self.acts["inspection_failed"]:
            self.acts["inspection_failed"] += 1
            return {"result": "fail", "findings": "回访记录收入与银行流水不符，风险消除依据不足"}
        return {"result": "pass", "findings": "抽查无问题"}

    async def _complete(self, task: dict[str, Any], admin: str, slots: asyncio.Semaphore) -> None:
        async with slots:
            form = await self.form(task, admin)
            username = self.actor(task)
            if form is None or username is None:
                return
            path = f"/v1/tasks/{task['task_id']}/complete"
            response = await self.http.post(path, json=form, headers=self._as(username))
            if response.status_code == 422 and task["kind"] == "assistance_plan":
                case = await self._case(task["case_id"], task["household_id"], admin)
                form = self.plan(case, form["responsible"], everything=True)
                response = await self.http.post(path, json=form, headers=self._as(username))
            if response.status_code == 200:
                self.done[task["kind"]] += 1
                self._completed.add(task["task_id"])
            else:
                self.refused[f"{task['kind']} {response.status_code}"] += 1

    async def one_pass(self, admin: str) -> int:
        """Complete every open task the demo works on; returns how many it tried."""
        response = await self.http.get("/v1/tasks", params={"region": self.county, "limit": 1000},
                                       headers=self._as(admin))  # fmt: skip
        response.raise_for_status()
        self._cases.clear()
        tasks = [t for t in response.json()["tasks"] if t["kind"] in CASE_KINDS and t["task_id"] not in self._completed]
        before = sum(self.done.values())
        slots = asyncio.Semaphore(CONCURRENCY)
        await asyncio.gather(*(self._complete(t, admin, slots) for t in tasks))
        await self._object_and_close(admin)
        return sum(self.done.values()) - before

    async def _object_and_close(self, admin: str) -> None:
        """Once each: a village cadre objects during a public notice; the county closes a case by hand."""
        if not self.acts["objection"]:
            notices = await self.http.get("/v1/notices", params={"region": self.county}, headers=self._as(admin))
            listed = await self.http.get("/v1/cases", params={"region": self.county, "status": "verifying",
                                         "limit": 1000}, headers=self._as(admin))  # fmt: skip
            households = {c["case_id"]: c for c in listed.json().get("cases", [])}
            for notice in notices.json().get("notices", []):
                case = households.get(notice["case_id"])
                if case and LOW_INCOME <= bucket(case["household_id"]) < OBJECT:
                    reason = {"reason": "村民反映该户家庭经营收入有出入，请重新核实"}
                    cadre = f"cadre_{case['region_code']}"
                    objected = await self.http.post(f"/v1/cases/{case['case_id']}/objections", json=reason,
                                                    headers=self._as(cadre))  # fmt: skip
                    self.acts["objection"] += objected.status_code == 202
                    break
        if not self.acts["county_close"]:
            listed = await self.http.get("/v1/cases", params={"region": self.county, "status": "screening",
                                         "limit": 200}, headers=self._as(admin))  # fmt: skip
            for case in listed.json().get("cases", []):  # the county learns one left-alone household moved away
                if not worked(case["household_id"]):
                    note = {"reason": "natural", "note": "户籍迁出本县，自然消除"}
                    closed = await self.http.post(f"/v1/cases/{case['case_id']}/close", json=note,
                                                  headers=self._as(f"county_{self.county}"))  # fmt: skip
                    self.acts["county_close"] += closed.status_code == 202
                    break

    async def run(
        self, admin: str, seconds: float, interval: float, goal: Callable[[int], Awaitable[bool]]
    ) -> None:
        """Pass after pass until `goal()` says enough, or nothing is left to do for a while, or time is up."""
        deadline = time.monotonic() + seconds
        idle = 0
        while time.monotonic() < deadline:
            acted = await self.one_pass(admin)
            idle = 0 if acted else idle + 1
            if await goal(idle):
                return
            await asyncio.sleep(interval)
