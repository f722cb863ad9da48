import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RiskAssessment(_message.Message):
    __slots__ = ("schema_version", "assessment_id", "household_id", "region_code", "category", "level", "score", "risk_types", "warnings", "reasons", "opens_case", "policy_version", "event_ids", "assessed_at", "income_pc", "adjusted_income_pc", "poverty_status")
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    ASSESSMENT_ID_FIELD_NUMBER: _ClassVar[int]
    HOUSEHOLD_ID_FIELD_NUMBER: _ClassVar[int]
    REGION_CODE_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    RISK_TYPES_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    OPENS_CASE_FIELD_NUMBER: _ClassVar[int]
    POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    EVENT_IDS_FIELD_NUMBER: _ClassVar[int]
    ASSESSED_AT_FIELD_NUMBER: _ClassVar[int]
    INCOME_PC_FIELD_NUMBER: _ClassVar[int]
    ADJUSTED_INCOME_PC_FIELD_NUMBER: _ClassVar[int]
    POVERTY_STATUS_FIELD_NUMBER: _ClassVar[int]
    schema_version: int
    assessment_id: str
    household_id: str
    region_code: str
    category: str
    level: str
    score: float
    risk_types: _containers.RepeatedScalarFieldContainer[str]
    warnings: _containers.RepeatedScalarFieldContainer[str]
    reasons: _containers.RepeatedCompositeFieldContainer[ScoreReason]
    opens_case: bool
    policy_version: str
    event_ids: _containers.RepeatedScalarFieldContainer[str]
    assessed_at: _timestamp_pb2.Timestamp
    income_pc: float
    adjusted_income_pc: float
    poverty_status: str
    def __init__(self, schema_version: _Optional[int] = ..., assessment_id: _Optional[str] = ..., household_id: _Optional[str] = ..., region_code: _Optional[str] = ..., category: _Optional[str] = ..., level: _Optional[str] = ..., score: _Optional[float] = ..., risk_types: _Optional[_Iterable[str]] = ..., warnings: _Optional[_Iterable[str]] = ..., reasons: _Optional[_Iterable[_Union[ScoreReason, _Mapping]]] = ..., opens_case: _Optional[bool] = ..., policy_version: _Optional[str] = ..., event_ids: _Optional[_Iterable[str]] = ..., assessed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., income_pc: _Optional[float] = ..., adjusted_income_pc: _Optional[float] = ..., poverty_status: _Optional[str] = ...) -> None: ...

class ScoreReason(_message.Message):
    __slots__ = ("rule", "points", "reason_zh", "reason_en")
    RULE_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    REASON_ZH_FIELD_NUMBER: _ClassVar[int]
    REASON_EN_FIELD_NUMBER: _ClassVar[int]
    rule: str
    points: float
    reason_zh: str
    reason_en: str
    def __init__(self, rule: _Optional[str] = ..., points: _Optional[float] = ..., reason_zh: _Optional[str] = ..., reason_en: _Optional[str] = ...) -> None: ...
