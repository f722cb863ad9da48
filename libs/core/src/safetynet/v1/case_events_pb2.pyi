import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CaseEvent(_message.Message):
    __slots__ = ("schema_version", "event_key", "name", "case_id", "household_id", "region_code", "step", "status", "task", "occurred_at", "details", "close_reason")
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    EVENT_KEY_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    HOUSEHOLD_ID_FIELD_NUMBER: _ClassVar[int]
    REGION_CODE_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    CLOSE_REASON_FIELD_NUMBER: _ClassVar[int]
    schema_version: int
    event_key: str
    name: str
    case_id: str
    household_id: str
    region_code: str
    step: str
    status: str
    task: TaskRef
    occurred_at: _timestamp_pb2.Timestamp
    details: _struct_pb2.Struct
    close_reason: str
    def __init__(self, schema_version: _Optional[int] = ..., event_key: _Optional[str] = ..., name: _Optional[str] = ..., case_id: _Optional[str] = ..., household_id: _Optional[str] = ..., region_code: _Optional[str] = ..., step: _Optional[str] = ..., status: _Optional[str] = ..., task: _Optional[_Union[TaskRef, _Mapping]] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., details: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., close_reason: _Optional[str] = ...) -> None: ...

class TaskRef(_message.Message):
    __slots__ = ("task_id", "kind", "role", "region_code", "assignee", "due_at", "escalation_level", "department")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    REGION_CODE_FIELD_NUMBER: _ClassVar[int]
    ASSIGNEE_FIELD_NUMBER: _ClassVar[int]
    DUE_AT_FIELD_NUMBER: _ClassVar[int]
    ESCALATION_LEVEL_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENT_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    kind: str
    role: str
    region_code: str
    assignee: str
    due_at: _timestamp_pb2.Timestamp
    escalation_level: int
    department: str
    def __init__(self, task_id: _Optional[str] = ..., kind: _Optional[str] = ..., role: _Optional[str] = ..., region_code: _Optional[str] = ..., assignee: _Optional[str] = ..., due_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., escalation_level: _Optional[int] = ..., department: _Optional[str] = ...) -> None: ...
