"""OCPP 1.6 configuration keys (1.6 §9) as a view on the device model.

Most 1.6 keys have a 2.x counterpart (``MeterValueSampleInterval`` is ``SampledDataCtrlr.TxUpdatedInterval``):
they read and write the same value, so the station logic reads one place whatever the version. Keys
without a counterpart are declared in the pseudo-component ``OCPP16``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from chargeplane.station.core.device_model import (
    DeviceModel,
    SetStatus,
    StationLayout,
    VariableDef,
    VariableKey,
)
from chargeplane.station.core.metering import MEASURANDS

_K = VariableKey

ALIASES: dict[str, VariableKey] = {
    "HeartbeatInterval": _K("OCPPCommCtrlr", "HeartbeatInterval"),
    "ResetRetries": _K("OCPPCommCtrlr", "ResetRetries"),
    "WebSocketPingInterval": _K("OCPPCommCtrlr", "WebSocketPingInterval"),
    "TransactionMessageAttempts": _K(
        "OCPPCommCtrlr", "MessageAttempts", variable_instance="TransactionEvent"
    ),
    "TransactionMessageRetryInterval": _K(
        "OCPPCommCtrlr", "MessageAttemptInterval", variable_instance="TransactionEvent"
    ),
    "UnlockConnectorOnEVSideDisconnect": _K("OCPPCommCtrlr", "UnlockOnEVSideDisconnect"),
    "ConnectionTimeOut": _K("TxCtrlr", "EVConnectionTimeOut"),
    "StopTransactionOnEVSideDisconnect": _K("TxCtrlr", "StopTxOnEVSideDisconnect"),
    "StopTransactionOnInvalidId": _K("TxCtrlr", "StopTxOnInvalidId"),
    "MaxEnergyOnInvalidId": _K("TxCtrlr", "MaxEnergyOnInvalidId"),
    "MeterValueSampleInterval": _K("SampledDataCtrlr", "TxUpdatedInterval"),
    "MeterValuesSampledData": _K("SampledDataCtrlr", "TxUpdatedMeasurands"),
    "StopTxnSampledData": _K("SampledDataCtrlr", "TxEndedMeasurands"),
    "ClockAlignedDataInterval": _K("AlignedDataCtrlr", "Interval"),
    "MeterValuesAlignedData": _K("AlignedDataCtrlr", "Measurands"),
    "StopTxnAlignedData": _K("AlignedDataCtrlr", "TxEndedMeasurands"),
    "AuthorizeRemoteTxRequests": _K("AuthCtrlr", "AuthorizeRemoteStart"),
    "LocalAuthorizeOffline": _K("AuthCtrlr", "LocalAuthorizationOffline"),
    "LocalPreAuthorize": _K("AuthCtrlr", "LocalPreAuthorize"),
    "AllowOfflineTxForUnknownId": _K("AuthCtrlr", "OfflineTxForUnknownIdEnabled"),
    "AuthorizationCacheEnabled": _K("AuthCacheCtrlr", "Enabled"),
    "LocalAuthListEnabled": _K("LocalAuthListCtrlr", "Enabled"),
    "AuthorizationKey": _K("SecurityCtrlr", "BasicAuthPassword"),  # security extension, write-only
    "ChargeProfileMaxStackLevel": _K("SmartChargingCtrlr", "ProfileStackLevel"),
    "ChargingScheduleMaxPeriods": _K("SmartChargingCtrlr", "PeriodsPerSchedule"),
}


def ocpp16_variables(layout: StationLayout) -> list[VariableDef]:
    """The 1.6 keys with no 2.x counterpart."""

    def ro(name: str, data_type: str, value: str) -> VariableDef:
        return VariableDef(_K("OCPP16", name), data_type, {"Actual": value}, "ReadOnly")

    return [
        ro("NumberOfConnectors", "integer", str(len(layout.connectors))),
        ro(
            "SupportedFeatureProfiles",
            "string",
            "Core,FirmwareManagement,LocalAuthListManagement,Reservation,RemoteTrigger,SmartCharging",
        ),
        ro("GetConfigurationMaxKeys", "integer", "100"),
        ro("LocalAuthListMaxLength", "integer", "1000"),
        ro("SendLocalListMaxLength", "integer", "100"),
        ro("ReserveConnectorZeroSupported", "boolean", "false"),
        ro("MeterValuesSampledDataMaxLength", "integer", "6"),
        ro("ConnectorPhaseRotation", "string", "0.RST"),
        ro("SupportedMeasurands", "string", MEASURANDS),
        ro("ChargingScheduleAllowedChargingRateUnit", "string", "Current,Power"),  # Smart Charging (§9.4)
        ro("MaxChargingProfilesInstalled", "integer", "32"),
    ]


def _key_for(name: str) -> VariableKey:
    return ALIASES.get(name) or _K("OCPP16", name)


def all_keys() -> list[str]:
    return list(ALIASES) + [d.key.variable for d in ocpp16_variables(StationLayout())]


@dataclass(frozen=True, slots=True)
class KeyValue16:
    key: str
    readonly: bool
    value: str


class ChangeStatus16(enum.StrEnum):
    ACCEPTED = "Accepted"
    REJECTED = "Rejected"
    REBOOT_REQUIRED = "RebootRequired"
    NOT_SUPPORTED = "NotSupported"


def get_configuration(model: DeviceModel, keys: list[str] | None) -> tuple[list[KeyValue16], list[str]]:
    """1.6 GetConfiguration: the known keys (all of them when ``keys`` is empty) and the unknown ones."""
    names = keys if keys else all_keys()
    known: list[KeyValue16] = []
    unknown: list[str] = []
    for name in names:
        definition = model.definition(_key_for(name))
        if definition is None:
            unknown.append(name)
            continue
        result = model.get(definition.key, None)
        known.append(KeyValue16(name, not definition.writable, result.value or ""))
    return known, unknown


def change_configuration(model: DeviceModel, key: str, value: str) -> ChangeStatus16:
    """1.6 ChangeConfiguration: readonly or bad value -> Rejected, unknown key -> NotSupported."""
    definition = model.definition(_key_for(key))
    if definition is None:
        return ChangeStatus16.NOT_SUPPORTED
    if definition.data_type == "boolean":
        value = value.lower()
    result = model.set(definition.key, None, value, max_length=500)
    if result.status is SetStatus.ACCEPTED:
        return ChangeStatus16.ACCEPTED
    if result.status is SetStatus.REBOOT_REQUIRED:
        return ChangeStatus16.REBOOT_REQUIRED
    return ChangeStatus16.REJECTED
