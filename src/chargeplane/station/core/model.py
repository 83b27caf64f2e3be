"""Plain data of the station core: EVSE and transaction state, tokens, outputs (calls and hardware actions)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from chargeplane.ocpp.messages import v21
from chargeplane.ocpp.messages.base import Payload


class Registration(enum.StrEnum):
    """B01-B03 registration status, as the last BootNotification answer said (Unknown: none yet)."""

    UNKNOWN = "Unknown"
    PENDING = "Pending"
    ACCEPTED = "Accepted"
    REJECTED = "Rejected"


@dataclass(frozen=True, slots=True)
class ContractHash:
    """C07: the OCSP data of one certificate of an EV's contract certificate chain (OCSPRequestDataType)."""

    hash_algorithm: str
    issuer_name_hash: str
    issuer_key_hash: str
    serial_number: str
    responder_url: str


@dataclass(frozen=True, slots=True)
class EvChargingNeeds:
    """K15/K17: what an ISO 15118 EV asks for (its ChargeParameterDiscoveryReq): the energy it wants, its
    limits, and when it leaves (``departure_s`` seconds after it says so; None: not given)."""

    energy_wh: float
    max_current_a: float = 32.0
    min_current_a: float = 6.0
    max_voltage_v: float = 400.0
    max_power_w: float | None = None  # DC only
    departure_s: int | None = None
    dc: bool = False
    phases: int = 3
    # 2.1 K18/K19: ISO 15118-20 "ScheduledControl" or "DynamicControl"; None: ISO 15118-2 (K15)
    control_mode: str | None = None
    v2x: V2xAbility | None = None  # an ISO 15118-20 EV that can discharge (block Q)
    der: EvDerAbility | None = None  # 2.1 R02/R03: an AC_BPT_DER EV with its own inverter


@dataclass(frozen=True, slots=True)
class EvDerAbility:
    """R02/R03: the inverter of an ISO 15118-20 AC_BPT_DER EV: the DER controls it executes itself and its
    nameplate (what goes into derChargingParameters, W / VA / var / V)."""

    supported: tuple[str, ...]  # DERControlEnumType values
    max_discharge_w: float = 11_000.0
    max_charge_w: float = 11_000.0
    max_var: float = 5_000.0
    over_excited_pf: float = 0.9
    under_excited_pf: float = 0.9
    nominal_voltage_v: float = 230.0
    manufacturer: str = "Chargeplane"
    model: str = "SimEvInverter"


@dataclass(frozen=True, slots=True)
class V2xAbility:
    """Q01: what a bidirectional EV tells of itself (its V2X charging parameters, W)."""

    max_discharge_power_w: float
    min_discharge_power_w: float = 0.0
    max_charge_power_w: float | None = None
    evccid: str | None = None  # its ISO 15118 EVCC id (Q01.FR.02)


@dataclass(frozen=True, slots=True)
class Token:
    value: str
    type: str = "ISO14443"
    group: str | None = None
    # additionalInfo as (type, value): a DirectPayment's card details (2.1 C18.FR.04/06, PaymentDetails)
    details: tuple[tuple[str, str], ...] = ()

    def same_holder(self, other: Token) -> bool:
        """C01/C09: the same token, or two tokens of the same non-empty group."""
        if self.value == other.value and self.type == other.type:
            return True
        return self.group is not None and self.group == other.group


ACCEPTED = "Accepted"


@dataclass(slots=True)
class AuthEntry:
    """A token in the Authorization Cache or the Local Authorization List, version-neutral."""

    token: str
    token_type: str
    status: str
    expiry: str | None = None  # ISO 8601 (cacheExpiryDateTime / 1.6 expiryDate)
    group: str | None = None
    last_used: str | None = None

    def expired(self, now: datetime) -> bool:
        return self.expiry is not None and datetime.fromisoformat(self.expiry) <= now


def token_key(token: str, token_type: str) -> str:
    return f"{token_type}:{token}"


@dataclass(frozen=True, slots=True)
class MeterReading:
    energy_wh: float = 0.0
    power_w: float = 0.0  # negative while the EV discharges (V2X)
    voltage_v: float = 230.0
    soc: float | None = None
    energy_export_wh: float = 0.0  # Energy.Active.Export.Register: what the EV gave back (V2X)
    frequency_hz: float | None = None  # the grid frequency at the meter (V2X frequency support, Q08)
    # 2.1 R01-R03: what the EVSE would exchange without the station's DER cap (the inverter's request;
    # None: the same as power_w), and the DER alarm the EV's own inverter raises (controlType, fault)
    uncapped_w: float | None = None
    ev_der_alarm: tuple[str, str | None] | None = None
    # V2X setpointReactive followed (Q03): positive inductive (the EV takes reactive power), negative capacitive
    reactive_var: float = 0.0


@dataclass(slots=True)
class Transaction:
    id: str
    evse_id: int
    connector_id: int
    seq_no: int = 0
    started_at: str = ""
    charging_state: str | None = None
    evse_sent: bool = False
    token: Token | None = None
    token_sent: bool = False
    remote_start_id: int | None = None
    remote_start_sent: bool = False
    reservation_id: int | None = None
    meter_start_wh: float = 0.0
    ev_seen: bool = False  # the EV was connected during the transaction
    offline_unknown_token: bool = False  # C15: authorized offline without the CSMS knowing the token
    invalid_energy_limit_wh: float | None = None  # C15 MaxEnergyOnInvalidId: meter value where to stop
    # J01/J02 TxEndedInterval: the readings kept for the Ended event, as (context, timestamp, samples)
    ended_readings: list[tuple[str, str, list[tuple[str, float, str]]]] = field(default_factory=list)
    # 2.1 E16/F07 transaction limits, by TransactionLimitType field (maxEnergy Wh, maxCost, maxTime s, maxSoC %)
    limits: dict[str, float] = field(default_factory=dict)
    csms_limits: dict[str, float] = field(default_factory=dict)  # E16.FR.04: the driver may not exceed these
    limits_unsent: bool = False  # the limits go once in the next TransactionEvent (E16.FR.01/03)
    limit_reached: str | None = None  # the xxxLimitReached trigger that suspended the energy (E16.FR.05)
    cost_reported: float | None = None  # the CSMS's running cost (E16.FR.15, no local cost)
    resume_after_reset: bool = False  # B13 / C-43 firmware: cut by a reboot, resumed after it
    energy_blocked: bool = False  # B13.FR.25 / E17.FR.12: resumed without energy transfer


@dataclass(slots=True)
class Reservation:
    id: int
    evse_id: int
    expiry: str  # wire timestamp
    token: Token
    group: str | None = None


@dataclass(slots=True)
class Evse:
    id: int
    connectors: int
    plugged: int | None = None  # the connector with an EV cable in it
    authorized: Token | None = None
    auth_deadline: datetime | None = None  # EVConnectionTimeOut (E03)
    pending_remote_start: int | None = None
    deauth: tuple[str, str] | None = None  # (stoppedReason, triggerReason) when authorization ended
    forced_stop: tuple[str, str] | None = None
    tx: Transaction | None = None
    contactor: bool = False
    flowing: bool = False
    flowed_since_close: bool = False
    suspended_invalid: bool = False  # C15: energy stopped after a non-Accepted idTokenInfo
    operative: bool = True
    scheduled_operative: bool | None = None  # G03.FR.05 change scheduled until the transaction ends
    faulted: bool = False
    finishing: bool = False  # 1.6 Finishing: the transaction ended, the cable is still in
    meter: MeterReading = field(default_factory=MeterReading)
    next_sample: datetime | None = None
    next_ended_sample: datetime | None = None  # J02 SampledDataCtrlr.TxEndedInterval
    last_status: dict[int, str] = field(default_factory=dict)
    reservation_used: int | None = None  # H03.FR.09: the reservation the authorization consumed, for the tx
    resuming: bool = False  # E17/B13: a transaction restored at boot, TxResumed not sent yet
    resetting: bool = False  # B11/B12 with evseId: the EVSE restarts on its own (Unavailable meanwhile)


@dataclass(frozen=True, slots=True)
class OutgoingCall:
    """A CALL the runtime must send; answer with ``call_result(ref, ...)`` or ``call_failed(ref, ...)``."""

    ref: int
    request: Payload


class Failure(enum.Enum):
    OFFLINE = "offline"  # never reached the CSMS (or the connection dropped before an answer)
    ERROR = "error"  # CALLERROR, or a response that broke the schema
    TIMEOUT = "timeout"


@dataclass(frozen=True, slots=True)
class SetContactor:
    evse_id: int
    closed: bool


@dataclass(frozen=True, slots=True)
class SetLock:
    evse_id: int
    connector_id: int
    locked: bool


@dataclass(frozen=True, slots=True)
class ShowMessage:
    text: str


@dataclass(frozen=True, slots=True)
class Reboot:
    """Restart the station (Reset): the runtime drops the connection and builds a new core."""

    reason: str


@dataclass(frozen=True, slots=True)
class UploadLog:
    """Upload a file (N01): the runtime reports the outcome with ``StationCore.upload_finished``."""

    upload_id: int
    location: str
    filename: str
    content: bytes


@dataclass(frozen=True, slots=True)
class CancelUpload:
    upload_id: int


@dataclass(frozen=True, slots=True)
class DownloadFirmware:
    """Download a firmware image (L01; L03 with purpose ``publish``): the runtime reports it with
    ``StationCore.download_finished``."""

    download_id: int
    location: str
    purpose: str = "update"


@dataclass(frozen=True, slots=True)
class CancelDownload:
    download_id: int
    purpose: str = "update"


@dataclass(frozen=True, slots=True)
class PublishFile:
    """Serve a firmware file to the stations behind this Local Controller (L03): the runtime reports the URIs
    with ``StationCore.publish_finished``."""

    checksum: str
    name: str
    content: bytes


@dataclass(frozen=True, slots=True)
class UnpublishFile:
    checksum: str


@dataclass(frozen=True, slots=True)
class Reconnect:
    """Close the connection and connect again at once (new credentials: a password, A01; a certificate, A02)."""

    reason: str


@dataclass(frozen=True, slots=True)
class SetPowerLimit:
    """Smart charging (K01/K08; 1.6 §3.13): the EVSE offers at most ``limit_w`` (None: its own maximum)."""

    evse_id: int
    limit_w: float | None


@dataclass(frozen=True, slots=True)
class SetPowerSetpoint:
    """V2X (block Q): the EV at ``evse_id`` follows ``setpoint_w`` (negative: it discharges; None: no
    setpoint, it charges within the limit); ``sleep``: the EVSE's power electronics off (Q10.FR.03);
    ``phases_w``: how the setpoint splits over L1..L3 when the period gave setpoint_L2 / _L3; ``reactive_var``:
    the reactive power to follow (setpointReactive, the sum of the phases; positive: inductive)."""

    evse_id: int
    setpoint_w: float | None
    sleep: bool = False
    phases_w: tuple[float, float, float] | None = None
    reactive_var: float | None = None


@dataclass(frozen=True, slots=True)
class EvCertificateAnswer:
    """M01/M02: what the CSMS answered for the EV's contract certificate request, for the EV (its ISO 15118
    CertificateInstallationRes / CertificateUpdateRes, base64 EXI; accepted False: tell the EV it failed)."""

    evse_id: int
    action: str  # Install | Update
    accepted: bool
    exi_response: str


@dataclass(frozen=True, slots=True)
class StartPowerDelivery:
    """ISO 15118 (K15-K17): the EV at ``evse_id`` has its schedule (or none is coming): it may take energy
    (its PowerDeliveryReq)."""

    evse_id: int


@dataclass(frozen=True, slots=True)
class SetInverterLimits:
    """2.1 R01/R03: the DER controls the station executes cap what the EVSE exchanges (W each way; None: no
    cap that way): the inverter's output, so the power that flows and is metered."""

    evse_id: int
    max_charge_w: float | None
    max_discharge_w: float | None


@dataclass(frozen=True, slots=True)
class EvDerControls:
    """2.1 R02.FR.03 / R03.FR.06: the DER controls in force that the EV at ``evse_id`` executes itself, for
    its inverter (ISO 15118-20 ChargeParameterDiscoveryRes), as (controlType, setting in wire JSON)."""

    evse_id: int
    controls: tuple[tuple[str, bytes], ...]


@dataclass(frozen=True, slots=True)
class OfferPrices:
    """ISO 15118-20 (2.1 K18.FR.07, K19.FR.09): the price schedule of the CSMS's chargingSchedule
    ``schedule_id`` that the EV at ``evse_id`` gets with its ScheduleExchangeRes."""

    evse_id: int
    schedule_id: int
    prices: v21.datatypes.AbsolutePriceScheduleType | v21.datatypes.PriceLevelScheduleType


HardwareAction = (
    SetContactor
    | EvCertificateAnswer
    | SetLock
    | ShowMessage
    | Reboot
    | UploadLog
    | CancelUpload
    | DownloadFirmware
    | CancelDownload
    | PublishFile
    | UnpublishFile
    | Reconnect
    | SetPowerLimit
    | SetPowerSetpoint
    | StartPowerDelivery
    | SetInverterLimits
    | EvDerControls
    | OfferPrices
)


def tx_to_json(tx: Transaction) -> dict[str, Any]:
    data = {f.name: getattr(tx, f.name) for f in fields(tx)}
    token = tx.token
    data["token"] = (
        None if token is None else [token.value, token.type, token.group, [list(d) for d in token.details]]
    )
    return data


def tx_from_json(data: dict[str, Any]) -> Transaction:
    token = data.pop("token")
    readings = data.pop("ended_readings", [])
    tx = Transaction(**data)
    tx.ended_readings = [(c, t, [(m, v, u) for m, v, u in s]) for c, t, s in readings]
    if token is not None:
        details = tuple((kind, value) for kind, value in token[3]) if len(token) > 3 else ()
        tx.token = Token(token[0], token[1], token[2], details)
    return tx
