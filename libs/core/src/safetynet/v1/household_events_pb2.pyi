import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PovertyStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    POVERTY_STATUS_UNSPECIFIED: _ClassVar[PovertyStatus]
    POVERTY_STATUS_LIFTED: _ClassVar[PovertyStatus]
    POVERTY_STATUS_GENERAL: _ClassVar[PovertyStatus]

class LabourCapacity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LABOUR_CAPACITY_UNSPECIFIED: _ClassVar[LabourCapacity]
    LABOUR_CAPACITY_FULL: _ClassVar[LabourCapacity]
    LABOUR_CAPACITY_PARTIAL: _ClassVar[LabourCapacity]
    LABOUR_CAPACITY_NONE: _ClassVar[LabourCapacity]
POVERTY_STATUS_UNSPECIFIED: PovertyStatus
POVERTY_STATUS_LIFTED: PovertyStatus
POVERTY_STATUS_GENERAL: PovertyStatus
LABOUR_CAPACITY_UNSPECIFIED: LabourCapacity
LABOUR_CAPACITY_FULL: LabourCapacity
LABOUR_CAPACITY_PARTIAL: LabourCapacity
LABOUR_CAPACITY_NONE: LabourCapacity

class HouseholdEvent(_message.Message):
    __slots__ = ("schema_version", "event_id", "household_id", "department", "client_id", "occurred_at", "received_at", "department_event", "registry_record")
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    HOUSEHOLD_ID_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENT_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENT_EVENT_FIELD_NUMBER: _ClassVar[int]
    REGISTRY_RECORD_FIELD_NUMBER: _ClassVar[int]
    schema_version: int
    event_id: str
    household_id: str
    department: str
    client_id: str
    occurred_at: _timestamp_pb2.Timestamp
    received_at: _timestamp_pb2.Timestamp
    department_event: DepartmentEvent
    registry_record: HouseholdRecord
    def __init__(self, schema_version: _Optional[int] = ..., event_id: _Optional[str] = ..., household_id: _Optional[str] = ..., department: _Optional[str] = ..., client_id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., received_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., department_event: _Optional[_Union[DepartmentEvent, _Mapping]] = ..., registry_record: _Optional[_Union[HouseholdRecord, _Mapping]] = ...) -> None: ...

class DepartmentEvent(_message.Message):
    __slots__ = ("type", "member_id", "reference", "payload", "payload_json")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_JSON_FIELD_NUMBER: _ClassVar[int]
    type: str
    member_id: str
    reference: str
    payload: _struct_pb2.Struct
    payload_json: bytes
    def __init__(self, type: _Optional[str] = ..., member_id: _Optional[str] = ..., reference: _Optional[str] = ..., payload: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., payload_json: _Optional[bytes] = ...) -> None: ...

class Member(_message.Message):
    __slots__ = ("member_id", "name", "id_number_masked", "birth_date", "labour_capacity", "in_school")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ID_NUMBER_MASKED_FIELD_NUMBER: _ClassVar[int]
    BIRTH_DATE_FIELD_NUMBER: _ClassVar[int]
    LABOUR_CAPACITY_FIELD_NUMBER: _ClassVar[int]
    IN_SCHOOL_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    name: str
    id_number_masked: str
    birth_date: str
    labour_capacity: LabourCapacity
    in_school: bool
    def __init__(self, member_id: _Optional[str] = ..., name: _Optional[str] = ..., id_number_masked: _Optional[str] = ..., birth_date: _Optional[str] = ..., labour_capacity: _Optional[_Union[LabourCapacity, str]] = ..., in_school: _Optional[bool] = ...) -> None: ...

class HouseholdRecord(_message.Message):
    __slots__ = ("household_id", "region_code", "poverty_status", "members", "annual_net_income_cny", "head_member_id", "grid_id")
    HOUSEHOLD_ID_FIELD_NUMBER: _ClassVar[int]
    REGION_CODE_FIELD_NUMBER: _ClassVar[int]
    POVERTY_STATUS_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    ANNUAL_NET_INCOME_CNY_FIELD_NUMBER: _ClassVar[int]
    HEAD_MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    GRID_ID_FIELD_NUMBER: _ClassVar[int]
    household_id: str
    region_code: str
    poverty_status: PovertyStatus
    members: _containers.RepeatedCompositeFieldContainer[Member]
    annual_net_income_cny: float
    head_member_id: str
    grid_id: str
    def __init__(self, household_id: _Optional[str] = ..., region_code: _Optional[str] = ..., poverty_status: _Optional[_Union[PovertyStatus, str]] = ..., members: _Optional[_Iterable[_Union[Member, _Mapping]]] = ..., annual_net_income_cny: _Optional[float] = ..., head_member_id: _Optional[str] = ..., grid_id: _Optional[str] = ...) -> None: ...
