"""A synthetic county for demos and load tests: 陇县 (610327) with townships, villages, households and a
year of department events. Deterministic for a given seed."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

COUNTY_CODE = "610327"
COUNTY_NAME = "陇县"
TOWNSHIPS = ["城关镇", "东风镇", "八渡镇", "温水镇", "天成镇", "曹家湾镇", "固关镇", "东南镇", "河北镇", "新集川镇"]
VILLAGE_SUFFIXES = ["村", "新村", "坪村", "沟村", "塬村", "湾村", "川村", "岭村"]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗"
GIVEN = "明华建国伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛超霞平刚桂兰"

# Which department sends which event type in the simulated year, and how often (events per 100 households).
EVENT_MIX: list[tuple[str, str, float]] = [
    ("medical_insurance", "medical_expense", 80),
    ("emergency_management", "disaster_loss", 12),
    ("emergency_management", "accident", 6),
    ("civil_affairs", "income_change", 20),
    ("human_resources", "unemployment", 8),
    ("disability_federation", "disability", 3),
    ("education", "education_expense", 15),
    ("education", "school_dropout", 1),
    ("housing", "housing_safety", 6),
    ("water", "drinking_water", 4),
    ("self_service", "self_application", 2),
    ("grid", "grid_report", 3),
    ("police", "death", 1),
]


@dataclass(frozen=True)
class Village:
    code: str
    name: str
    township_code: str
    township_name: str


def villages(townships: int = 10, villages_per_township: int = 6) -> list[Village]:
    result = []
    for t_index, t_name in enumerate(TOWNSHIPS[:townships]):
        township_code = f"{COUNTY_CODE}{100 + t_index:03d}"
        for v_index in range(villages_per_township):
            name = f"{t_name[:2]}{VILLAGE_SUFFIXES[v_index % len(VILLAGE_SUFFIXES)]}"
            result.append(Village(f"{township_code}{201 + v_index:03d}", name, township_code, t_name))
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
        per_capita = rng.lognormvariate(9.6 if lifted else 9.9, 0.45)
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
        total = rng.choice([800, 2500, 6000, 12000, 30000, 60000]) * rng.uniform(0.7, 1.3)
        return {"total_cost_cny": round(total, 2), "out_of_pocket_cny": round(total * rng.uniform(0.15, 0.5), 2),
                "inpatient": total > 5000, "diagnosis_category": rng.choice(["chronic", "acute", "surgery"])}
    if event_type == "disaster_loss":
        damage = rng.choices(["none", "partial", "destroyed"], [70, 25, 5])[0]
        return {"disaster_type": rng.choice(["flood", "landslide", "hail", "drought"]),
                "loss_cny": round(income * rng.uniform(0.05, 0.6), 2), "housing_damage": damage}
    if event_type == "income_change":
        drop = rng.uniform(0.1, 0.6)
        return {"previous_annual_income_cny": income, "current_annual_income_cny": round(income * (1 - drop), 2),
                "reason": rng.choice(["unemployment", "business_failure", "crop_failure", "wage_cut"])}
    if event_type == "accident":
        return {"out_of_pocket_cny": round(rng.uniform(1000, 40000), 2), "lost_labour": rng.random() < 0.3}
    if event_type == "unemployment":
        return {"previous_monthly_wage_cny": round(rng.uniform(2500, 6000), 2)}
    if event_type == "disability":
        return {"level": rng.choice([1, 2, 3, 4])}
    if event_type == "education_expense":
        return {"out_of_pocket_cny": round(rng.uniform(3000, 20000), 2),
                "stage": rng.choice(["high_school", "vocational", "university"])}
    if event_type == "school_dropout":
        return {"grade": rng.choice([7, 8, 9])}
    if event_type == "housing_safety":
        return {"rating": rng.choices(["A", "B", "C", "D"], [10, 40, 35, 15])[0]}
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
