"""A synthetic county for demos and load tests: 陇县 (610327) with the townships and villages of the workflow's
region directory (its seed, `regions/longxian.csv`), households and a year of department events.
Deterministic for a given seed."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from safetynet_workflow.regions.models import default_regions

COUNTY_CODE = "610327"
COUNTY_NAME = "陇县"
SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗"
GIVEN = "明华建国伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛超霞平刚桂兰"

# Which department sends which event type in the simulated year, and how often (events per 100 households).
# Tuned so that about 5-10% of the registry is flagged (the default policy's thresholds): most medical bills
# are small outpatient ones, most income changes and housing ratings are mild, as in a real county.
EVENT_MIX: list[tuple[str, str, float]] = [
    ("medical_insurance", "medical_expense", 110),
    ("emergency_management", "disaster_loss", 4),
    ("emergency_management", "accident", 2),
    ("civil_affairs", "income_change", 6),
    ("human_resources", "unemployment", 6),
    ("disability_federation", "disability", 1),
    ("education", "education_expense", 10),
    ("education", "school_dropout", 0.2),
    ("housing", "housing_safety", 3),
    ("water", "drinking_water", 1.5),
    ("self_service", "self_application", 0.6),
    ("grid", "grid_report", 0.8),
    ("police", "death", 0.4),
]
MEDICAL_TOTALS = ([300, 800, 1500, 3000, 6000, 15000, 40000], [36, 28, 16, 10, 6, 2.8, 1.2])


@dataclass(frozen=True)
class Village:
    code: str
    name: str
    township_code: str
    township_name: str


def villages(townships: int = 10, villages_per_township: int = 6) -> list[Village]:
    """The county's villages as the region directory names them (the first townships and villages)."""
    directory = {r.code: r for r in default_regions()}
    towns = sorted(r for r in directory if directory[r].parent == COUNTY_CODE)[:townships]
    result: list[Village] = []
    for town in towns:
        homes = sorted(r for r in directory if directory[r].parent == town)[:villages_per_township]
        result.extend(Village(code, directory[code].name, town, directory[town].name) for code in homes)
    return result


def _id_number(rng: random.Random, region: str, birth: date) -> str:
    body = f"{region[:6]}{birth:%Y%m%d}{rng.randint(100, 999)}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]
    return body + check


def households(count: int = 2400, seed: int = 610327) -> list[dict[str, Any]]:
    """Registry records spread over the county's villages, in the intake API's shape."""
    rng = random.Random(seed)  # noqa: S311 (reproducible synthetic data)
    places = villages()
    records = []
    for index in range(count):
        village = places[index % len(places)]
        household_id = f"H{village.code}{index // len(places) + 1:04d}"
        size = rng.choice([1, 2, 3, 3, 4, 4, 4, 5, 5, 6])
        surname = rng.choice(SURNAMES)
        members = []
        for m in range(size):
            age = rng.randint(30, 70) if m == 0 else rng.randint(1, 80)
            birth = date(2026 - age, rng.randint(1, 12), rng.randint(1, 28))
            capacity = "none" if age > 68 or age < 16 else rng.choice(["full", "full", "full", "partial"])
            members.append({
                "member_id": f"{household_id}-{m + 1}",
                "name": surname + "".join(rng.choice(GIVEN) for _ in range(2)),
                "id_number": _id_number(rng, village.code, birth),
                "birth_date": birth.isoformat(),
                "labour_capacity": capacity,
                "in_school": 6 <= age <= 22 and rng.random() < 0.8,
            })
        lifted = rng.random() < 0.3
        per_capita = rng.lognormvariate(9.7 if lifted else 9.95, 0.42)
        records.append({
            "household_id": household_id,
            "region_code": village.code,
            "poverty_status": "lifted" if lifted else "general",
            "members": members,
            "annual_net_income_cny": round(per_capita * size, 2),
            "head_member_id": members[0]["member_id"],
            "phone": f"1{rng.randint(3, 9)}{rng.randint(100000000, 999999999)}",
        })
    return records


def _payload(rng: random.Random, event_type: str, household: dict[str, Any]) -> dict[str, Any]:
    income = household["annual_net_income_cny"]
    if event_type == "medical_expense":
        total = rng.choices(*MEDICAL_TOTALS)[0] * rng.uniform(0.7, 1.3)
        return {"total_cost_cny": round(total, 2), "out_of_pocket_cny": round(total * rng.uniform(0.15, 0.4), 2),
                "inpatient": total > 5000, "diagnosis_category": rng.choice(["chronic", "acute", "surgery"])}
    if event_type == "disaster_loss":
        damage = rng.choices(["none", "partial", "destroyed"], [80, 18, 2])[0]
        return {"disaster_type": rng.choice(["flood", "landslide", "hail", "drought"]),
                "loss_cny": round(income * rng.uniform(0.05, 0.6), 2), "housing_damage": damage}
    if event_type == "income_change":
        drop = rng.uniform(0.05, 0.35)
        return {"previous_annual_income_cny": income, "current_annual_income_cny": round(income * (1 - drop), 2),
                "reason": rng.choice(["unemployment", "business_failure", "crop_failure", "wage_cut"])}
    if event_type == "accident":
        return {"out_of_pocket_cny": round(rng.uniform(1000, 20000), 2), "lost_labour": rng.random() < 0.2}
    if event_type == "unemployment":
        return {"previous_monthly_wage_cny": round(rng.uniform(2500, 6000), 2)}
    if event_type == "disability":
        return {"level": rng.choice([1, 2, 3, 4])}
    if event_type == "education_expense":
        return {"out_of_pocket_cny": round(rng.uniform(1500, 9000), 2),
                "stage": rng.choice(["high_school", "vocational", "university"])}
    if event_type == "school_dropout":
        return {"grade": rng.choice([7, 8, 9])}
    if event_type == "housing_safety":
        return {"rating": rng.choices(["A", "B", "C", "D"], [25, 60, 12, 3])[0]}
    if event_type == "drinking_water":
        return {"issue": rng.choice(["cut_off", "quality", "distance"]), "days_affected": rng.randint(5, 60)}
    if event_type == "self_application":
        return {"reasons": [rng.choice(["illness", "disaster", "unstable_employment"])],
                "declared_annual_income_cny": round(income * 0.6, 2), "statement": "家庭收入骤减，申请纳入监测"}
    if event_type == "grid_report":
        return {"risk_types": [rng.choice(["illness", "housing", "labour_shortage"])], "notes": "网格员走访发现"}
    return {}


def events(registry: list[dict[str, Any]], seed: int = 610327, days: int = 360,
           now: datetime | None = None) -> list[tuple[str, dict[str, Any]]]:
    """(department, event) pairs over the last `days`, oldest first, in the intake API's envelope."""
    rng = random.Random(seed + 1)  # noqa: S311 (reproducible synthetic data)
    now = now or datetime.now(UTC)
    stream: list[tuple[str, dict[str, Any]]] = []
    for department, event_type, per_hundred in EVENT_MIX:
        for _ in range(int(len(registry) * per_hundred / 100)):
            household = rng.choice(registry)
            occurred = now - timedelta(days=rng.uniform(1, days), minutes=rng.randint(0, 1440))
            member = rng.choice(household["members"])["member_id"]
            stream.append((department, {
                "event_id": str(uuid.UUID(int=rng.getrandbits(128))),
                "type": event_type,
                "household_id": household["household_id"],
                "member_id": member,
                "occurred_at": occurred.isoformat(timespec="seconds"),
                "reference": f"{department[:3].upper()}-{rng.randint(10**6, 10**7)}",
                "payload": _payload(rng, event_type, household),
            }))
    stream.sort(key=lambda item: item[1]["occurred_at"])
    return stream
