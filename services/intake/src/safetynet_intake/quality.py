"""The five registry data-quality checks (completeness, format, cross-field logic, duplicates across
households, warning review) and the per-household issue list they keep.

Rejecting findings (`reject_findings`) turn a record into a 422 like any other validation error; the
others are flags: the record is accepted and the issue is stored (`record_issues`, same transaction as
the registry write), resolved automatically once a later record no longer shows it. ID numbers are
compared through a peppered HMAC-SHA256 (`id_number_hash`); the plaintext is never stored."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import asyncpg
from prometheus_client import Counter

if TYPE_CHECKING:
    from safetynet_intake.validation import HouseholdRecordIn

CHECKS = ("completeness", "format", "cross_field", "duplicate", "warning_review")
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARS = "10X98765432"
# Warning review thresholds (flags, never rejections).
MAX_PLAUSIBLE_INCOME_PC = 200_000.0
MAX_PLAUSIBLE_AGE = 110
MAX_PLAUSIBLE_MEMBERS = 15
NO_LABOUR_MAX_INCOME_PC = 40_000.0
CHILD_AGE = 16

ISSUES = Counter(
    "safetynet_intake_data_quality_issues_total",
    "Registry data-quality findings by check (rejected records and newly flagged issues)",
    ["check", "outcome"],
)


@dataclass(frozen=True)
class Finding:
    """One failed check on one field; `rule` names the exact condition within the check."""

    check: str
    rule: str
    field: str
    message: str
    loc: tuple[Any, ...] = ()
    other_household: str | None = None

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.check, self.rule, self.field, self.other_household or "")


def id_check_digit(first17: str) -> str:
    """GB 11643-1999 check character of the first 17 digits."""
    return ID_CHECK_CHARS[sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]


def embedded_birth_date(id_number: str) -> date | None:
    try:
        return date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    except ValueError:
        return None


def id_number_hash(id_number: str, pepper: str) -> str:
    """Peppered hash of a normalised ID number: equal numbers match, the number is not recoverable."""
    return hmac.new(pepper.encode(), id_number.strip().upper().encode(), hashlib.sha256).hexdigest()


def _age(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _member_field(index: int, name: str) -> tuple[str, tuple[Any, ...]]:
    return f"members[{index}].{name}", ("members", index, name)


def reject_findings(record: HouseholdRecordIn, today: date) -> list[Finding]:
    """Failures that make a record unusable (422): blank required text and ID numbers whose embedded
    birth date is impossible or contradicts `birth_date`. Pydantic already rejects missing fields, a
    region that is not 12 digits, an ID number that is not 17 digits + check character, and a head
    that is not a member."""
    found: list[Finding] = []
    for i, m in enumerate(record.members):
        if not m.name.strip():
            field, loc = _member_field(i, "name")
            found.append(Finding("completeness", "blank_name", field, "member name is blank", loc))
        embedded = embedded_birth_date(m.id_number)
        field, loc = _member_field(i, "id_number")
        if embedded is None:
            found.append(Finding("format", "id_birth_date_invalid", field, "ID number embeds no valid date", loc))
        elif embedded != m.birth_date:
            bfield, bloc = _member_field(i, "birth_date")
            found.append(
                Finding(
                    "format",
                    "birth_date_mismatch",
                    bfield,
                    "birth_date differs from the date in the ID number",
                    bloc,
                )
            )
        if m.birth_date > today + timedelta(days=1):  # a day of slack for time zones
            bfield, bloc = _member_field(i, "birth_date")
            found.append(Finding("format", "birth_date_future", bfield, "birth_date is in the future", bloc))
    return found


def flag_findings(record: HouseholdRecordIn, today: date) -> list[Finding]:
    """Findings on an accepted record, stored for review: a bad check digit (legacy registries hold such
    numbers), contradictions between members, labour capacity and income, and implausible values."""
    found: list[Finding] = []
    members = record.members
    for m in members:
        if id_check_digit(m.id_number[:17]) != m.id_number[17].upper():
            field = f"members[{m.member_id}].id_number"
            found.append(Finding("format", "id_check_digit", field, "ID number check digit is wrong (GB 11643)"))
        age = _age(m.birth_date, today)
        if age < CHILD_AGE and m.labour_capacity == "full":
            field = f"members[{m.member_id}].labour_capacity"
            found.append(
                Finding("cross_field", "child_full_labour", field, f"a child aged {age} has full labour capacity")
            )
        if age > MAX_PLAUSIBLE_AGE:
            field = f"members[{m.member_id}].birth_date"
            found.append(Finding("warning_review", "implausible_age", field, f"member aged {age}"))
        if m.in_school and age > 30:
            field = f"members[{m.member_id}].in_school"
            found.append(Finding("warning_review", "in_school_adult", field, f"member aged {age} marked in school"))
    if record.annual_net_income_cny == 0 and any(m.labour_capacity == "full" for m in members):
        found.append(
            Finding(
                "cross_field",
                "labour_without_income",
                "annual_net_income_cny",
                "members with full labour capacity but zero annual net income",
            )
        )
    income_pc = record.annual_net_income_cny / len(members)
    if income_pc > MAX_PLAUSIBLE_INCOME_PC:
        found.append(
            Finding(
                "warning_review",
                "income_pc_implausible",
                "annual_net_income_cny",
                f"per-capita income {income_pc:,.0f} CNY is implausibly high",
            )
        )
    if len(members) > MAX_PLAUSIBLE_MEMBERS:
        found.append(Finding("warning_review", "many_members", "members", f"{len(members)} members in one household"))
    if all(m.labour_capacity == "none" for m in members) and income_pc > NO_LABOUR_MAX_INCOME_PC:
        found.append(
            Finding(
                "warning_review",
                "income_without_labour",
                "annual_net_income_cny",
                f"no member can work but per-capita income is {income_pc:,.0f} CNY",
            )
        )
    return found


def count_rejections(findings: Iterable[Finding]) -> None:
    for f in findings:
        ISSUES.labels(f.check, "rejected").inc()


def check_of_error(error: dict[str, Any]) -> str:
    """Which check a pydantic validation error belongs to (for the metric): missing → completeness."""
    return "completeness" if error.get("type") in ("missing", "string_too_short", "too_short") else "format"


_INSERT_HASHES = """
insert into member_id_hashes (household_id, member_id, id_hash)
select * from unnest($1::text[], $2::text[], $3::text[])
"""

# An ID number shared by many households names at most this many of the others, so one bad batch
# (the same number pasted into every record) costs linear, not quadratic, work and issues.
MAX_DUPLICATE_PARTNERS = 10

_DUPLICATES = f"""
select h.household_id, h.member_id, o.household_id as other_household, o.member_id as other_member
from member_id_hashes h
cross join lateral (
    select x.household_id, x.member_id from member_id_hashes x
    where x.id_hash = h.id_hash and x.household_id <> h.household_id
    order by x.household_id limit {MAX_DUPLICATE_PARTNERS}
) o
where h.household_id = any($1::text[])
order by h.household_id, h.member_id, o.household_id
"""  # noqa: S608 (a constant limit)

_OPEN_DUPLICATE_PARTNERS = f"""
select distinct household_id from data_quality_issues
where check_name = 'duplicate' and resolved_at is null and other_household_id = any($1::text[])
limit {MAX_DUPLICATE_PARTNERS * 10}
"""  # noqa: S608 (a constant limit)


async def record_issues(
    conn: asyncpg.Connection, records: Sequence[HouseholdRecordIn], pepper: str, now: datetime
) -> None:
    """Store the flags of freshly written records (call inside the registry write's transaction):
    every check for `records`, and the duplicate check again for the other households involved."""
    if not records:
        return
    ids = [r.household_id for r in records]
    cols: list[list[str]] = [[], [], []]
    for r in records:
        for m in r.members:
            cols[0].append(r.household_id)
            cols[1].append(m.member_id)
            cols[2].append(id_number_hash(m.id_number, pepper))
    # two statements: a data-modifying CTE's delete is invisible to the insert of the same statement
    await conn.execute("delete from member_id_hashes where household_id = any($1::text[])", ids)
    await conn.execute(_INSERT_HASHES, *cols)
    old_partners = {row["household_id"] for row in await conn.fetch(_OPEN_DUPLICATE_PARTNERS, ids)}
    duplicates = await conn.fetch(_DUPLICATES, ids)
    partners = {row["other_household"] for row in duplicates} | old_partners
    partner_rows = await conn.fetch(_DUPLICATES, sorted(partners - set(ids))) if partners - set(ids) else []
    today = now.date()
    by_household: dict[str, list[Finding]] = {r.household_id: flag_findings(r, today) for r in records}
    for hh in partners - set(ids):
        by_household.setdefault(hh, [])
    for row in [*duplicates, *partner_rows]:
        by_household.setdefault(row["household_id"], []).append(
            Finding(
                "duplicate",
                "id_number_in_other_household",
                f"members[{row['member_id']}].id_number",
                f"member {row['member_id']}'s ID number is also registered in household "
                f"{row['other_household']} (member {row['other_member']})",
                other_household=row["other_household"],
            )
        )
    only_duplicates = partners - set(ids)
    for household_id, findings in by_household.items():
        await _sync(conn, household_id, findings, now, duplicate_only=household_id in only_duplicates)


async def _sync(
    conn: asyncpg.Connection,
    household_id: str,
    findings: list[Finding],
    now: datetime,
    duplicate_only: bool,
) -> None:
    """Open new issues, keep the ones still present (their detected_at), resolve the ones gone."""
    region = await conn.fetchval("select region_code from households where household_id = $1", household_id)
    if region is None:
        return
    scope = "and check_name = 'duplicate'" if duplicate_only else ""
    open_rows = await conn.fetch(
        f"select issue_id, check_name, rule, field, coalesce(other_household_id, '') as other"  # noqa: S608 (constant fragments)
        f" from data_quality_issues"
        f" where household_id = $1 and resolved_at is null {scope}",
        household_id,
    )
    current = {f.key: f for f in findings}
    open_keys = {r["issue_id"]: (r["check_name"], r["rule"], r["field"], r["other"]) for r in open_rows}
    stale = [issue_id for issue_id, key in open_keys.items() if key not in current]
    if stale:
        await conn.execute(
            "update data_quality_issues set resolved_at = $2 where issue_id = any($1::bigint[])", stale, now
        )
    existing = set(open_keys.values())
    fresh = [f for key, f in current.items() if key not in existing]
    await conn.execute(
        "update data_quality_issues set region_code = $2 where household_id = $1 and region_code <> $2",
        household_id,
        region,
    )
    if fresh:
        await conn.executemany(
            "insert into data_quality_issues (household_id, region_code, check_name, rule, field, message,"
            " other_household_id, detected_at) values ($1, $2, $3, $4, $5, $6, $7, $8)",
            [(household_id, region, f.check, f.rule, f.field, f.message, f.other_household, now) for f in fresh],
        )
        for f in fresh:
            ISSUES.labels(f.check, "flagged").inc()


async def list_issues(
    conn: asyncpg.Connection,
    region_prefix: str,
    check: str | None,
    status: str,
    household_id: str | None,
    limit: int,
    offset: int,
) -> list[dict[str, Any]]:
    """Issues of households under `region_prefix`, newest first."""
    conditions = ["starts_with(region_code, $1)"]
    args: list[Any] = [region_prefix]
    if check:
        args.append(check)
        conditions.append(f"check_name = ${len(args)}")
    if household_id:
        args.append(household_id)
        conditions.append(f"household_id = ${len(args)}")
    if status == "open":
        conditions.append("resolved_at is null")
    elif status == "resolved":
        conditions.append("resolved_at is not null")
    args += [limit, offset]
    rows = await conn.fetch(
        "select issue_id, household_id, region_code, check_name as check, rule, field, message,"  # noqa: S608 (constant fragments)
        " other_household_id, detected_at, resolved_at from data_quality_issues"
        f" where {' and '.join(conditions)} order by detected_at desc, issue_id desc"
        f" limit ${len(args) - 1} offset ${len(args)}",
        *args,
    )
    return [{**dict(r), "status": "open" if r["resolved_at"] is None else "resolved"} for r in rows]
