"""The scoring engine: a household state and the policy in, an explainable assessment out. Pure code.

Each rule kind of `safetynet_core.policy.risk` has one evaluator here; a hit returns the figures its
reason templates may use."""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial, singledispatch
from typing import Any

from safetynet_core.policy import Policy
from safetynet_core.policy.risk import (
    DistinctRiskTypesCondition,
    FactPresentCondition,
    IncomeDropCondition,
    IncomeEdgeScore,
    IncomeWithinLineScore,
    RiskPolicy,
    SingleAmountCondition,
    StateValueCondition,
    StateValueScore,
    Threshold,
    TrailingRatioCondition,
    TrailingSumCondition,
    WarningFiredCondition,
)
from safetynet_risk.casestate import NO_CASE, CaseState
from safetynet_risk.memo import per_policy, remembered
from safetynet_risk.state import HouseholdState

Hit = dict[str, Any]


@dataclass(frozen=True)
class Reason:
    rule: str
    points: float
    reason_zh: str
    reason_en: str


@dataclass(frozen=True)
class Scored:
    """What one assessment says about a household."""

    category: str | None
    level: str
    score: float
    risk_types: list[str]
    warnings: list[str]
    warning_reasons: list[Reason]
    reasons: list[Reason]
    opens_case: bool
    policy_version: str
    line: float
    income_pc: float
    adjusted_income_pc: float
    poverty_status: str
    event_ids: list[str]


@dataclass(slots=True)
class Context:
    """What a rule may look at besides the state (`fired_warnings` is set once the warnings are evaluated)."""

    state: HouseholdState
    policy: RiskPolicy
    line: float
    monitored: bool
    trigger_ids: frozenset[str]
    fired_warnings: frozenset[str] = frozenset()


class _Figures(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def render(template: str, figures: Mapping[str, Any]) -> str:
    """Fill a reason template; a template naming figures the rule lacks is shown as written."""
    try:
        return template.format_map(figures)  # the usual case: every named figure is there
    except KeyError:
        pass
    except (ValueError, TypeError, IndexError):
        return template
    try:
        return template.format_map(_Figures(figures))
    except (ValueError, TypeError, IndexError):
        return template


def category_of(state: HouseholdState, line: float) -> str | None:
    """Within the line by income → by poverty status; above it but within after rigid spending → sudden."""
    if state.income_pc <= line:
        return "unstable_lifted" if state.registry.poverty_status == "lifted" else "marginal"
    if state.adjusted_income_pc <= line:
        return "sudden_hardship"
    return None


def _threshold_for(thresholds: list[Threshold], ctx: Context) -> float | None:
    for threshold in thresholds:
        when = threshold.when
        if when.poverty_status not in (None, ctx.state.registry.poverty_status):
            continue
        if when.monitored not in (None, ctx.monitored):
            continue
        return threshold.min_cny
    return None


@singledispatch
def evaluate(rule: object, ctx: Context) -> Hit | None:
    """Whether a condition holds for the household, with the figures that explain it."""
    raise TypeError(f"no evaluator for rule kind {type(rule).__name__}")


@evaluate.register
def _trailing_sum(rule: TrailingSumCondition, ctx: Context) -> Hit | None:
    value = ctx.state.trailing[rule.metric]
    threshold = _threshold_for(rule.thresholds, ctx)
    if threshold is None or value < threshold:
        return None
    return {"value": value, "threshold": threshold}


@evaluate.register
def _single_amount(rule: SingleAmountCondition, ctx: Context) -> Hit | None:
    threshold = _threshold_for(rule.thresholds, ctx)
    if threshold is None:
        return None
    event_type, amount_field, where = rule.event_type, rule.amount_field, rule.where.items()
    value: float | None = None  # max() of the amounts, 0.0 when none
    for event in ctx.state.window_events:
        if event.type != event_type:
            continue
        payload = event.payload
        for name, wanted in where:
            if payload.get(name) != wanted:
                break
        else:
            amount = float(payload.get(amount_field, 0))
            if value is None or amount > value:
                value = amount
    if value is None:
        value = 0.0
    return {"value": value, "threshold": threshold} if value >= threshold else None


def _state_value(ctx: Context, state_name: str) -> str | None:
    value: str | None = getattr(ctx.state, state_name)
    return value


@evaluate.register
def _state_value_rule(rule: StateValueCondition, ctx: Context) -> Hit | None:
    value = _state_value(ctx, rule.state)
    return {"state": value} if value in rule.values else None


def _facts_seen(facts: Collection[str], ctx: Context, scope: str) -> list[str]:
    seen = []
    for fact in facts:
        event_ids = ctx.state.facts.get(fact, [])  # type: ignore[call-overload]
        if scope == "trigger":
            event_ids = [e for e in event_ids if e in ctx.trigger_ids]
        if event_ids:
            seen.append(fact)
    return seen


@evaluate.register
def _fact_present(rule: FactPresentCondition, ctx: Context) -> Hit | None:
    seen = _facts_seen(rule.facts, ctx, rule.scope)
    return {"facts": ", ".join(seen)} if seen else None


@evaluate.register
def _income_drop(rule: IncomeDropCondition, ctx: Context) -> Hit | None:
    ratio = ctx.state.income_drop_ratio
    dropped = ratio is not None and ratio >= rule.min_ratio
    also = _facts_seen(rule.also_facts, ctx, "window")
    if not dropped and not also:
        return None
    return {"ratio": ratio or 0.0, "facts": ", ".join(also)}


@evaluate.register
def _trailing_ratio(rule: TrailingRatioCondition, ctx: Context) -> Hit | None:
    value = ctx.state.trailing[rule.metric]
    income = ctx.state.annual_income
    ratio = value / income if income > 0 else (float("inf") if value > 0 else 0.0)
    return {"value": value, "ratio": ratio} if value > 0 and ratio >= rule.min_ratio else None


@evaluate.register
def _distinct_risk_types(rule: DistinctRiskTypesCondition, ctx: Context) -> Hit | None:
    count = len(ctx.state.risk_types)
    return {"count": count} if count >= rule.min_count else None


@evaluate.register
def _warning_fired(rule: WarningFiredCondition, ctx: Context) -> Hit | None:
    fired = [w for w in rule.warnings if w in ctx.fired_warnings]
    return {"facts": ", ".join(fired)} if fired else None


_INCOME_WITHIN, _INCOME_EDGE, _STATE_VALUE, _CONDITION = range(4)
_SCORE_KINDS: dict[type, int] = {}


def _score_kind(rule: Any) -> int:
    """Which branch of `points_for` a rule takes, cached per class (isinstance on pydantic models is slow)."""
    cls = type(rule)
    kind = _SCORE_KINDS.get(cls)
    if kind is None:
        if isinstance(rule, IncomeWithinLineScore):
            kind = _INCOME_WITHIN
        elif isinstance(rule, IncomeEdgeScore):
            kind = _INCOME_EDGE
        elif isinstance(rule, StateValueScore):
            kind = _STATE_VALUE
        else:
            kind = _CONDITION
        _SCORE_KINDS[cls] = kind
    return kind


Evaluator = Callable[[Any, Context], Hit | None]
_EVALUATORS: dict[type, Evaluator] = {}


def _evaluator(rule: Any) -> Evaluator:
    """`evaluate`'s implementation for the rule's class, looked up once per class."""
    cls = type(rule)
    evaluator = _EVALUATORS.get(cls)
    if evaluator is None:
        evaluator = _EVALUATORS[cls] = evaluate.dispatch(cls)
    return evaluator


def points_for(rule: Any, ctx: Context) -> tuple[float, Hit] | None:
    """A scoring rule's points and figures, or None when it does not apply."""
    kind = _score_kind(rule)
    if kind == _CONDITION:
        return _condition_points(_evaluator(rule), rule, ctx)
    if kind == _STATE_VALUE:
        value = _state_value(ctx, rule.state)
        if value is None or value not in rule.points_by_value:
            return None
        return rule.points_by_value[value], {"state": value}
    line = ctx.line
    adjusted = ctx.state.adjusted_income_pc
    income_figures = {"adjusted": adjusted, "line": line}
    if kind == _INCOME_WITHIN:
        if adjusted > line:
            return None
        raw = rule.base_points + rule.slope_points * (line - adjusted) / line
        return min(raw, rule.max_points), income_figures
    inside = line < adjusted <= rule.upper_ratio * line
    return (rule.points, income_figures) if inside else None


def _condition_points(evaluator: Evaluator, rule: Any, ctx: Context) -> tuple[float, Hit] | None:
    hit = evaluator(rule, ctx)
    return None if hit is None else (rule.points, hit)


_REASONS: dict[Hashable, Reason] = {}
_REASONS_KEPT = 20_000


def _reason(rule: Any, points: float, figures: Hit) -> Reason:
    """The explained reason for a rule's hit; memoized on the templates and figures (Reason is immutable)."""
    # Figures are keyed so that values that compare equal but render differently (1 and 1.0, 0.0 and -0.0)
    # stay apart: a float by its hex form, a string as itself, anything else with its type.
    points_key = points.hex() if type(points) is float else (type(points), points)
    key: list[Any] = [rule.id, rule.reason_zh, rule.reason_en, points_key]
    for name, value in figures.items():
        cls = type(value)
        key.append(name)
        key.append(value.hex() if cls is float else value if cls is str else (cls, value))
    try:
        return remembered(_REASONS, tuple(key), partial(_render_reason, rule, points, figures), _REASONS_KEPT)
    except TypeError:  # an unhashable figure
        return _render_reason(rule, points, figures)


def _render_reason(rule: Any, points: float, figures: Hit) -> Reason:
    shown = {**figures, "points": points}
    return Reason(rule.id, round(points, 2), render(rule.reason_zh, shown), render(rule.reason_en, shown))


def _stale_after_closure(case: CaseState, evidence_at: datetime | None) -> bool:
    """No case is open, one closed, and every triggering event occurred before (or at) that closure."""
    return not case.open and case.closed_at is not None and evidence_at is not None and evidence_at <= case.closed_at


def _closure_reason(risk: RiskPolicy, case: CaseState) -> Reason:
    assert case.closed_at is not None  # noqa: S101 (called only after a closure)
    figures = {"closed_at": case.closed_at.date().isoformat(), "close_reason": case.close_reason or "-"}
    return _reason(risk.flag.stale_evidence, 0, figures)


Scorer = Callable[[Any, Context], tuple[float, Hit] | None]
Plan = tuple[list[tuple[Evaluator, Any]], list[tuple[Scorer, Any]], dict[tuple[str, int], float]]
_PLANS: list[tuple[object, Plan]] = []
_LINES_KEPT = 100_000


def _plan(risk: RiskPolicy) -> Plan:
    """The policy's warnings with their evaluators and its scoring rules with their scorers (`points_for`, with a
    condition rule's evaluator looked up once), per policy, and the monitoring lines found so far (by region
    code and year)."""
    warnings = [(_evaluator(w), w) for w in risk.warnings]
    scoring: list[tuple[Scorer, Any]] = [
        (partial(_condition_points, _evaluator(r)) if _score_kind(r) == _CONDITION else points_for, r)
        for r in risk.scoring
    ]
    return warnings, scoring, {}


def assess(
    state: HouseholdState,
    policy: Policy,
    *,
    trigger_ids: Collection[str],
    case: CaseState = NO_CASE,
    evidence_at: datetime | None = None,
) -> Scored:
    """Score one household: category, warnings, each rule's points (capped), level, whether a case opens.
    A household with an open `case` (or within the line) counts as monitored; with none open, one that
    closed on or after `evidence_at` (the latest moment among the triggering events) is not reopened."""
    risk = policy.risk
    warning_plan, scoring_plan, lines = per_policy(_PLANS, risk, lambda: _plan(risk))
    if len(lines) > _LINES_KEPT:
        lines.clear()
    line_key = (state.registry.region_code, state.as_of.year)
    line = lines.get(line_key)
    if line is None:
        line = lines[line_key] = risk.monitoring_line(*line_key)
    category = category_of(state, line)
    ctx = Context(
        state=state,
        policy=risk,
        line=line,
        monitored=case.open or category is not None,
        trigger_ids=frozenset(trigger_ids),
    )

    warning_reasons = []
    for evaluator, warning in warning_plan:
        hit = evaluator(warning, ctx)
        if hit is not None:
            warning_reasons.append(_reason(warning, 0, hit))
    fired = [r.rule for r in warning_reasons]
    ctx.fired_warnings = frozenset(fired)

    reasons = []
    for score, rule in scoring_plan:
        if (scored := score(rule, ctx)) is not None:
            reasons.append(_reason(rule, *scored))
    total = round(sum(r.points for r in reasons), 2)
    if total > risk.score_cap:
        over = round(risk.score_cap - total, 2)
        reasons.append(
            Reason(
                "score_cap",
                over,
                f"总分封顶 {risk.score_cap:.0f} 分",
                f"score capped at {risk.score_cap:.0f}",
            )
        )
        total = risk.score_cap
    level = risk.level_for(total)
    opens_case = level in risk.flag.levels or (risk.flag.any_warning and bool(fired))
    if opens_case and _stale_after_closure(case, evidence_at):
        opens_case = False
        reasons.append(_closure_reason(risk, case))
    return Scored(
        category=category,
        level=level,
        score=total,
        risk_types=state.risk_types,
        warnings=fired,
        warning_reasons=warning_reasons,
        reasons=reasons,
        opens_case=opens_case,
        policy_version=policy.version,
        line=line,
        income_pc=round(state.income_pc, 2),
        adjusted_income_pc=round(state.adjusted_income_pc, 2),
        poverty_status=state.registry.poverty_status,
        event_ids=sorted(trigger_ids),
    )
