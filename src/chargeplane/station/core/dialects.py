"""Per-version namespaces of the 2.x payload types the station uses, for code written once for 2.0.1 and 2.1.

Stand-in for the generated ``v201.Messages`` / ``v21.Messages`` namespaces of the ``typed-dispatch`` branch
(not merged yet): :data:`Dialect` is a *constrained* TypeVar, so mypy checks a function or class generic in
it once for 2.0.1 and once for 2.1, and a 2.0.1 datatype put into a 2.1 message is a type error. The lists
are the names the station uses (requests, responses, datatypes, enums), nothing more.
"""

from __future__ import annotations

from typing import TypeVar

from chargeplane.ocpp.messages.v21 import datatypes as d21
from chargeplane.ocpp.messages.v21 import enums as e21
from chargeplane.ocpp.messages.v21 import messages as m21
from chargeplane.ocpp.messages.v201 import datatypes as d201
from chargeplane.ocpp.messages.v201 import enums as e201
from chargeplane.ocpp.messages.v201 import messages as m201


class V201:
    """OCPP 2.0.1."""

    BootNotificationRequest = m201.BootNotificationRequest
    BootNotificationResponse = m201.BootNotificationResponse
    HeartbeatRequest = m201.HeartbeatRequest
    HeartbeatResponse = m201.HeartbeatResponse
    StatusNotificationRequest = m201.StatusNotificationRequest
    StatusNotificationResponse = m201.StatusNotificationResponse
    AuthorizeRequest = m201.AuthorizeRequest
    AuthorizeResponse = m201.AuthorizeResponse
    MeterValuesRequest = m201.MeterValuesRequest
    MeterValuesResponse = m201.MeterValuesResponse
    ReservationStatusUpdateRequest = m201.ReservationStatusUpdateRequest
    ReservationStatusUpdateResponse = m201.ReservationStatusUpdateResponse
    TransactionEventRequest = m201.TransactionEventRequest
    TransactionEventResponse = m201.TransactionEventResponse
    NotifyReportRequest = m201.NotifyReportRequest
    NotifyReportResponse = m201.NotifyReportResponse
    GetVariablesRequest = m201.GetVariablesRequest
    GetVariablesResponse = m201.GetVariablesResponse
    SetVariablesRequest = m201.SetVariablesRequest
    SetVariablesResponse = m201.SetVariablesResponse
    GetBaseReportRequest = m201.GetBaseReportRequest
    GetBaseReportResponse = m201.GetBaseReportResponse
    ResetRequest = m201.ResetRequest
    ResetResponse = m201.ResetResponse
    ChangeAvailabilityRequest = m201.ChangeAvailabilityRequest
    ChangeAvailabilityResponse = m201.ChangeAvailabilityResponse
    RequestStartTransactionRequest = m201.RequestStartTransactionRequest
    RequestStartTransactionResponse = m201.RequestStartTransactionResponse
    RequestStopTransactionRequest = m201.RequestStopTransactionRequest
    RequestStopTransactionResponse = m201.RequestStopTransactionResponse
    UnlockConnectorRequest = m201.UnlockConnectorRequest
    UnlockConnectorResponse = m201.UnlockConnectorResponse
    TriggerMessageRequest = m201.TriggerMessageRequest
    TriggerMessageResponse = m201.TriggerMessageResponse
    ReserveNowRequest = m201.ReserveNowRequest
    ReserveNowResponse = m201.ReserveNowResponse
    CancelReservationRequest = m201.CancelReservationRequest
    CancelReservationResponse = m201.CancelReservationResponse
    SendLocalListRequest = m201.SendLocalListRequest
    SendLocalListResponse = m201.SendLocalListResponse
    GetLocalListVersionRequest = m201.GetLocalListVersionRequest
    GetLocalListVersionResponse = m201.GetLocalListVersionResponse
    ClearCacheRequest = m201.ClearCacheRequest
    ClearCacheResponse = m201.ClearCacheResponse
    DataTransferRequest = m201.DataTransferRequest
    DataTransferResponse = m201.DataTransferResponse
    GetTransactionStatusRequest = m201.GetTransactionStatusRequest
    GetTransactionStatusResponse = m201.GetTransactionStatusResponse
    ChargingStationType = d201.ChargingStationType
    IdTokenType = d201.IdTokenType
    EVSEType = d201.EVSEType
    TransactionType = d201.TransactionType
    SampledValueType = d201.SampledValueType
    UnitOfMeasureType = d201.UnitOfMeasureType
    MeterValueType = d201.MeterValueType
    GetVariableResultType = d201.GetVariableResultType
    SetVariableResultType = d201.SetVariableResultType
    StatusInfoType = d201.StatusInfoType
    ComponentType = d201.ComponentType
    VariableType = d201.VariableType
    VariableAttributeType = d201.VariableAttributeType
    VariableCharacteristicsType = d201.VariableCharacteristicsType
    ReportDataType = d201.ReportDataType
    AttributeEnumType = e201.AttributeEnumType
    BootReasonEnumType = e201.BootReasonEnumType
    CancelReservationStatusEnumType = e201.CancelReservationStatusEnumType
    ChangeAvailabilityStatusEnumType = e201.ChangeAvailabilityStatusEnumType
    ChargingStateEnumType = e201.ChargingStateEnumType
    ClearCacheStatusEnumType = e201.ClearCacheStatusEnumType
    ConnectorStatusEnumType = e201.ConnectorStatusEnumType
    DataEnumType = e201.DataEnumType
    DataTransferStatusEnumType = e201.DataTransferStatusEnumType
    GenericDeviceModelStatusEnumType = e201.GenericDeviceModelStatusEnumType
    GetVariableStatusEnumType = e201.GetVariableStatusEnumType
    MeasurandEnumType = e201.MeasurandEnumType
    MutabilityEnumType = e201.MutabilityEnumType
    ReadingContextEnumType = e201.ReadingContextEnumType
    ReasonEnumType = e201.ReasonEnumType
    RequestStartStopStatusEnumType = e201.RequestStartStopStatusEnumType
    ReservationUpdateStatusEnumType = e201.ReservationUpdateStatusEnumType
    ReserveNowStatusEnumType = e201.ReserveNowStatusEnumType
    ResetStatusEnumType = e201.ResetStatusEnumType
    SendLocalListStatusEnumType = e201.SendLocalListStatusEnumType
    SetVariableStatusEnumType = e201.SetVariableStatusEnumType
    TransactionEventEnumType = e201.TransactionEventEnumType
    TriggerMessageStatusEnumType = e201.TriggerMessageStatusEnumType
    TriggerReasonEnumType = e201.TriggerReasonEnumType
    UnlockStatusEnumType = e201.UnlockStatusEnumType

    @staticmethod
    def id_token_type(value: str) -> e201.IdTokenEnumType:
        """IdTokenType.type: an enum in 2.0.1."""
        return e201.IdTokenEnumType(value)


class V21:
    """OCPP 2.1."""

    BootNotificationRequest = m21.BootNotificationRequest
    BootNotificationResponse = m21.BootNotificationResponse
    HeartbeatRequest = m21.HeartbeatRequest
    HeartbeatResponse = m21.HeartbeatResponse
    StatusNotificationRequest = m21.StatusNotificationRequest
    StatusNotificationResponse = m21.StatusNotificationResponse
    AuthorizeRequest = m21.AuthorizeRequest
    AuthorizeResponse = m21.AuthorizeResponse
    MeterValuesRequest = m21.MeterValuesRequest
    MeterValuesResponse = m21.MeterValuesResponse
    ReservationStatusUpdateRequest = m21.ReservationStatusUpdateRequest
    ReservationStatusUpdateResponse = m21.ReservationStatusUpdateResponse
    TransactionEventRequest = m21.TransactionEventRequest
    TransactionEventResponse = m21.TransactionEventResponse
    NotifyReportRequest = m21.NotifyReportRequest
    NotifyReportResponse = m21.NotifyReportResponse
    GetVariablesRequest = m21.GetVariablesRequest
    GetVariablesResponse = m21.GetVariablesResponse
    SetVariablesRequest = m21.SetVariablesRequest
    SetVariablesResponse = m21.SetVariablesResponse
    GetBaseReportRequest = m21.GetBaseReportRequest
    GetBaseReportResponse = m21.GetBaseReportResponse
    ResetRequest = m21.ResetRequest
    ResetResponse = m21.ResetResponse
    ChangeAvailabilityRequest = m21.ChangeAvailabilityRequest
    ChangeAvailabilityResponse = m21.ChangeAvailabilityResponse
    RequestStartTransactionRequest = m21.RequestStartTransactionRequest
    RequestStartTransactionResponse = m21.RequestStartTransactionResponse
    RequestStopTransactionRequest = m21.RequestStopTransactionRequest
    RequestStopTransactionResponse = m21.RequestStopTransactionResponse
    UnlockConnectorRequest = m21.UnlockConnectorRequest
    UnlockConnectorResponse = m21.UnlockConnectorResponse
    TriggerMessageRequest = m21.TriggerMessageRequest
    TriggerMessageResponse = m21.TriggerMessageResponse
    ReserveNowRequest = m21.ReserveNowRequest
    ReserveNowResponse = m21.ReserveNowResponse
    CancelReservationRequest = m21.CancelReservationRequest
    CancelReservationResponse = m21.CancelReservationResponse
    SendLocalListRequest = m21.SendLocalListRequest
    SendLocalListResponse = m21.SendLocalListResponse
    GetLocalListVersionRequest = m21.GetLocalListVersionRequest
    GetLocalListVersionResponse = m21.GetLocalListVersionResponse
    ClearCacheRequest = m21.ClearCacheRequest
    ClearCacheResponse = m21.ClearCacheResponse
    DataTransferRequest = m21.DataTransferRequest
    DataTransferResponse = m21.DataTransferResponse
    GetTransactionStatusRequest = m21.GetTransactionStatusRequest
    GetTransactionStatusResponse = m21.GetTransactionStatusResponse
    ChargingStationType = d21.ChargingStationType
    IdTokenType = d21.IdTokenType
    EVSEType = d21.EVSEType
    TransactionType = d21.TransactionType
    SampledValueType = d21.SampledValueType
    UnitOfMeasureType = d21.UnitOfMeasureType
    MeterValueType = d21.MeterValueType
    GetVariableResultType = d21.GetVariableResultType
    SetVariableResultType = d21.SetVariableResultType
    StatusInfoType = d21.StatusInfoType
    ComponentType = d21.ComponentType
    VariableType = d21.VariableType
    VariableAttributeType = d21.VariableAttributeType
    VariableCharacteristicsType = d21.VariableCharacteristicsType
    ReportDataType = d21.ReportDataType
    AttributeEnumType = e21.AttributeEnumType
    BootReasonEnumType = e21.BootReasonEnumType
    CancelReservationStatusEnumType = e21.CancelReservationStatusEnumType
    ChangeAvailabilityStatusEnumType = e21.ChangeAvailabilityStatusEnumType
    ChargingStateEnumType = e21.ChargingStateEnumType
    ClearCacheStatusEnumType = e21.ClearCacheStatusEnumType
    ConnectorStatusEnumType = e21.ConnectorStatusEnumType
    DataEnumType = e21.DataEnumType
    DataTransferStatusEnumType = e21.DataTransferStatusEnumType
    GenericDeviceModelStatusEnumType = e21.GenericDeviceModelStatusEnumType
    GetVariableStatusEnumType = e21.GetVariableStatusEnumType
    MeasurandEnumType = e21.MeasurandEnumType
    MutabilityEnumType = e21.MutabilityEnumType
    ReadingContextEnumType = e21.ReadingContextEnumType
    ReasonEnumType = e21.ReasonEnumType
    RequestStartStopStatusEnumType = e21.RequestStartStopStatusEnumType
    ReservationUpdateStatusEnumType = e21.ReservationUpdateStatusEnumType
    ReserveNowStatusEnumType = e21.ReserveNowStatusEnumType
    ResetStatusEnumType = e21.ResetStatusEnumType
    SendLocalListStatusEnumType = e21.SendLocalListStatusEnumType
    SetVariableStatusEnumType = e21.SetVariableStatusEnumType
    TransactionEventEnumType = e21.TransactionEventEnumType
    TriggerMessageStatusEnumType = e21.TriggerMessageStatusEnumType
    TriggerReasonEnumType = e21.TriggerReasonEnumType
    UnlockStatusEnumType = e21.UnlockStatusEnumType

    @staticmethod
    def id_token_type(value: str) -> str:
        """IdTokenType.type: any string in 2.1 (the enum became open)."""
        return value


Dialect = TypeVar("Dialect", type[V201], type[V21])
T = TypeVar("T")


def narrow(value: object, kind: type[T]) -> T:
    """``value`` as ``kind``: a payload of this dialect handed back (an echoed component, say).

    Raises TypeError for a payload of another version: a bug of the station, never the CSMS's doing."""
    if not isinstance(value, kind):
        raise TypeError(f"expected {kind.__qualname__}, got {type(value).__qualname__}")
    return value
