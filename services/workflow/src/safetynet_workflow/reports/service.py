"""What the report API, the dashboard and the report pages share: the region a report may cover, 应纳未纳's
rule under the policy, and items named by their regions."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from safetynet_core.auth import Principal, Role
from safetynet_core.policy import Policy
from safetynet_core.web import scoped_region
from safetynet_workflow.regions.service import RegionDirectory
from safetynet_workflow.reports.store import MissedRule


def report_region(principal: Principal, region: str | None) -> str:
    """The region prefix of a report: any for an admin, else inside the caller's scope (403 outside)."""
    return (region or "") if principal.role is Role.ADMIN else scoped_region(principal, region)


def missed_rule(policy: Policy) -> MissedRule:
    """应纳未纳 under the policy: the identification limit in policy days (its clock's length)."""
    rules = policy.workflow
    return MissedRule(identification=timedelta(seconds=rules.days(rules.identification_days)))


def named(items: list[dict[str, Any]], regions: RegionDirectory) -> list[dict[str, Any]]:
    """Each item with its region's name (`region_name`)."""
    return [{**item, "region_name": regions.label(item["region_code"])} for item in items]
