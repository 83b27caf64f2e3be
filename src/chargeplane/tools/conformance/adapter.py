"""The "Manual Action" rows of Part 6: what a case asks of the CSMS under test besides OCPP.

A case says what it needs (:class:`ManualAction` values: "make the CSMS send a RequestStartTransaction for
this token"); an :class:`Adapter` makes it happen. :class:`ChargeplaneAdapter` drives Chargeplane's own CSMS
through its HTTP API; :class:`InteractiveAdapter` asks a person at the terminal, for any other CSMS.

An adapter's :meth:`~Adapter.perform` may return only once the station answered (Chargeplane's command routes
do), so the tool runs it alongside the steps that answer the CSMS's CALL.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TextIO

import httpx

from chargeplane.tools.conformance.declaration import Configured


@dataclass(frozen=True)
class RequestStart:  # F01, F02: RequestStartTransactionRequest
    id_token: str
    token_type: str
    evse_id: int | None = None
    charging_profile: dict[str, Any] | None = None  # K05: a TxProfile with the start (wire JSON)

    def describe(self) -> str:
        where = f" on EVSE {self.evse_id}" if self.evse_id is not None else ""
        profile = " with a charging profile" if self.charging_profile is not None else ""
        return (
            f"send RequestStartTransaction for id token {self.id_token} ({self.token_type}){where}{profile}"
        )


@dataclass(frozen=True)
class RequestStop:  # F03: RequestStopTransactionRequest
    transaction_id: str

    def describe(self) -> str:
        return f"send RequestStopTransaction for transaction {self.transaction_id}"


@dataclass(frozen=True)
class Reset:  # B11, B12: ResetRequest
    type: str  # Immediate | OnIdle
    evse_id: int | None = None

    def describe(self) -> str:
        return f"send Reset {self.type}" + (f" for EVSE {self.evse_id}" if self.evse_id is not None else "")


@dataclass(frozen=True)
class ChangeAvailability:  # G03, G04: ChangeAvailabilityRequest
    operational: bool
    evse_id: int | None = None  # None: the whole station
    connector_id: int | None = None

    def describe(self) -> str:
        target = "the charging station"
        if self.evse_id is not None:
            target = f"EVSE {self.evse_id}"
            if self.connector_id is not None:
                target += f" connector {self.connector_id}"
        status = "Operative" if self.operational else "Inoperative"
        return f"send ChangeAvailability making {target} {status}"


@dataclass(frozen=True)
class Trigger:  # F06: TriggerMessageRequest
    requested_message: str
    evse_id: int | None = None
    connector_id: int | None = None  # with evse_id; a StatusNotification trigger needs both (F06.FR.13)

    def describe(self) -> str:
        where = f" of EVSE {self.evse_id}" if self.evse_id is not None else ""
        where += f" connector {self.connector_id}" if self.connector_id is not None else ""
        return f"send TriggerMessage for {self.requested_message}{where}"


@dataclass(frozen=True)
class UnlockConnector:  # F05: UnlockConnectorRequest
    evse_id: int
    connector_id: int

    def describe(self) -> str:
        return f"send UnlockConnector for EVSE {self.evse_id} connector {self.connector_id}"


@dataclass(frozen=True)
class GetTransactionStatus:  # E14: GetTransactionStatusRequest
    transaction_id: str | None = None  # None: ask about queued messages in general

    def describe(self) -> str:
        which = f"transaction {self.transaction_id}" if self.transaction_id else "no transaction id"
        return f"send GetTransactionStatus ({which})"


@dataclass(frozen=True)
class GetVariables:  # B06: GetVariablesRequest; (component, variable) pairs
    variables: tuple[tuple[str, str], ...]

    def describe(self) -> str:
        return "send GetVariables for " + ", ".join(f"{c}.{v}" for c, v in self.variables)


@dataclass(frozen=True)
class SetVariables:  # B05: SetVariablesRequest; (component, variable, value)
    variables: tuple[tuple[str, str, str], ...]

    def describe(self) -> str:
        return "send SetVariables " + ", ".join(f"{c}.{v}={x}" for c, v, x in self.variables)


@dataclass(frozen=True)
class SendLocalList:  # D01: SendLocalListRequest (full, or differential)
    full: bool

    def describe(self) -> str:
        return f"send a {'Full' if self.full else 'Differential'} SendLocalList"


@dataclass(frozen=True)
class GetLocalListVersion:  # D02: GetLocalListVersionRequest
    def describe(self) -> str:
        return "send GetLocalListVersion"


@dataclass(frozen=True)
class ReserveNow:  # H01: ReserveNowRequest for a specific EVSE (or, evse_id None, any EVSE / a connector type)
    id_token: str
    token_type: str
    evse_id: int | None
    expires_at: str  # wire timestamp
    connector_type: str | None = None  # H01 S3 (TC_H_15)
    group_id_token: str | None = None  # H03 groupIdToken (TC_H_19)

    def describe(self) -> str:
        what = f"EVSE {self.evse_id}" if self.evse_id is not None else "an unspecified EVSE"
        if self.connector_type is not None:
            what += f" with a connector of type {self.connector_type}"
        group = f" (group id token {self.group_id_token})" if self.group_id_token is not None else ""
        return f"send ReserveNow of {what} for id token {self.id_token}{group} until {self.expires_at}"


@dataclass(frozen=True)
class CancelReservation:  # H02: CancelReservationRequest
    reservation_id: int

    def describe(self) -> str:
        return f"send CancelReservation for reservation {self.reservation_id}"


# -- Local list changes (D01), logs (N01) and customer information (N09, N10) --------------------------------
@dataclass(frozen=True)
class ChangeLocalList:  # D01: a change of the CSMS's tokens, then the SendLocalList that carries it
    change: str  # "add": the token joins the list; "remove": it leaves it; "clear": no token is left on it
    id_token: str = ""  # the token added or removed (not used by "clear")
    token_type: str = "ISO14443"

    def describe(self) -> str:
        if self.change == "add":
            return f"add id token {self.id_token} ({self.token_type}) to the local list and send a Differential SendLocalList"
        if self.change == "remove":
            return f"remove id token {self.id_token} ({self.token_type}) from the local list and send a Differential SendLocalList"
        return "empty the local list and send a Full SendLocalList without entries"


@dataclass(frozen=True)
class GetLog:  # N01: GetLogRequest
    log_type: str  # DiagnosticsLog | SecurityLog
    remote_location: str
    request_id: int

    def describe(self) -> str:
        return f"send GetLog for the {self.log_type} (upload to {self.remote_location})"


@dataclass(frozen=True)
class CustomerInformation:  # N09, N10: CustomerInformationRequest about an id token or a customer identifier
    request_id: int
    report: bool
    clear: bool
    id_token: str | None = None
    token_type: str | None = None
    customer_identifier: str | None = None

    def describe(self) -> str:
        what = " and ".join(w for w, on in (("report", self.report), ("clear", self.clear)) if on)
        about = (
            f"customer {self.customer_identifier}"
            if self.customer_identifier is not None
            else f"id token {self.id_token} ({self.token_type})"
        )
        return f"send CustomerInformation ({what or 'no report, no clear'}) about {about}"


# -- Added for the rest of the CSMS-side Core cases (ClearCache, GetBaseReport, SetNetworkProfile, certificates,
# password update): any CSMS-initiated action with its wire payload.
@dataclass(frozen=True)
class SendCommand:
    action: str  # the OCPP action, e.g. ClearCache
    # its request as wire JSON (what Chargeplane's command API sends as given)
    payload: dict[str, Any] = field(default_factory=dict)
    what: str = ""  # what the operator is asked for, beside the action's name

    def describe(self) -> str:
        return f"send {self.action}" + (f" ({self.what})" if self.what else "")


@dataclass(frozen=True)
class TrustContractRoot:  # C07 (TC_C_52_CSMS): the MO root the tool's contract chains end at, trusted by the CSMS
    certificate: str  # PEM

    def describe(self) -> str:
        return "trust this MO root certificate for ISO 15118 contract certificate chains"


@dataclass(frozen=True)
class UpdateFirmware:  # L01: UpdateFirmwareRequest (a generic command route of Chargeplane's API)
    request_id: int
    location: str
    retrieve_at: str  # wire timestamp
    install_at: str | None = None  # a scheduled installation (TC_L_02)
    signing_certificate: str | None = None
    signature: str | None = None

    def describe(self) -> str:
        when = f", install at {self.install_at}" if self.install_at is not None else ""
        signed = (
            ", with the configured signing certificate and signature" if self.signature is not None else ""
        )
        return (
            f"send UpdateFirmware (requestId {self.request_id}) of {self.location}, retrieve at "
            f"{self.retrieve_at}{when}{signed}"
        )


@dataclass(frozen=True)
class Monitoring:  # N02-N06: GetMonitoringReport, SetMonitoringBase, SetVariableMonitoring, ...
    action: str  # SetVariableMonitoring | ClearVariableMonitoring | SetMonitoringBase | SetMonitoringLevel
    # | GetMonitoringReport
    # the request as wire JSON, without the requestId of a GetMonitoringReport (the CSMS chooses it); a Delta
    # monitor may leave out its value (the CSMS then sends the recommended 1, N04.FR.17)
    payload: dict[str, Any] = field(default_factory=dict)
    what: str = ""

    def describe(self) -> str:
        return f"send {self.action}" + (f" ({self.what})" if self.what else "")


# Monitoring's routes of Chargeplane's API (under /stations/{id}) and how each takes the wire payload.
_MONITORING_ROUTES: dict[str, tuple[str, Callable[[dict[str, Any]], dict[str, Any]]]] = {
    "SetVariableMonitoring": ("/monitoring/monitors", lambda p: p),
    "ClearVariableMonitoring": ("/monitoring/clear", lambda p: {"ids": p["id"]}),
    "SetMonitoringBase": ("/monitoring/base", lambda p: p),
    "SetMonitoringLevel": ("/monitoring/level", lambda p: p),
    "GetMonitoringReport": ("/monitoring/reports", lambda p: p),
}


# -- Block O: display messages (the display_messages block's routes)
@dataclass(frozen=True)
class SetDisplayMessage:  # O01, O02, O06: SetDisplayMessageRequest
    message: dict[str, Any]  # the MessageInfo as wire JSON

    def describe(self) -> str:
        fields = ", ".join(f"{k} {v}" for k, v in self.message.items() if k != "message")
        return f"send SetDisplayMessage ({fields})"


@dataclass(frozen=True)
class GetDisplayMessages:  # O03, O04: GetDisplayMessagesRequest (no filter: all messages)
    ids: tuple[int, ...] = ()
    priority: str | None = None
    state: str | None = None

    def describe(self) -> str:
        filters = [f"ids {list(self.ids)}"] if self.ids else []
        filters += [f"{k} {v}" for k, v in (("priority", self.priority), ("state", self.state)) if v]
        return "send GetDisplayMessages" + (f" ({', '.join(filters)})" if filters else " (all messages)")


@dataclass(frozen=True)
class ClearDisplayMessage:  # O05: ClearDisplayMessageRequest
    message_id: int

    def describe(self) -> str:
        return f"send ClearDisplayMessage of message {self.message_id}"


# -- Block K: smart charging (the smart_charging block's routes)
@dataclass(frozen=True)
class SetChargingProfile:  # K01: SetChargingProfileRequest (the profile as wire JSON)
    evse_id: int
    profile: dict[str, Any]

    def describe(self) -> str:
        p = self.profile
        return (
            f"send SetChargingProfile (evseId {self.evse_id}, id {p.get('id')}, "
            f"{p.get('chargingProfilePurpose')} {p.get('chargingProfileKind')}, stackLevel {p.get('stackLevel')})"
        )


@dataclass(frozen=True)
class ClearChargingProfile:  # K10: ClearChargingProfileRequest by id and/or criteria
    profile_id: int | None = None
    evse_id: int | None = None
    purpose: str | None = None
    stack_level: int | None = None

    def describe(self) -> str:
        return f"send ClearChargingProfile ({_criteria_text(self)})"


@dataclass(frozen=True)
class GetChargingProfiles:  # K09: GetChargingProfilesRequest
    profile_id: int | None = None
    evse_id: int | None = None
    purpose: str | None = None
    stack_level: int | None = None
    source: str | None = None  # chargingLimitSource

    def describe(self) -> str:
        return f"send GetChargingProfiles ({_criteria_text(self)})"


@dataclass(frozen=True)
class GetCompositeSchedule:  # K08: GetCompositeScheduleRequest
    evse_id: int
    duration: int
    unit: str

    def describe(self) -> str:
        return f"send GetCompositeSchedule (evseId {self.evse_id}, duration {self.duration}, {self.unit})"


def _criteria_text(c: ClearChargingProfile | GetChargingProfiles) -> str:
    named = (
        ("id", c.profile_id),
        ("evseId", c.evse_id),
        ("purpose", c.purpose),
        ("stackLevel", c.stack_level),
    )
    return ", ".join(f"{k} {v}" for k, v in named if v is not None) or "all"


def _criteria_body(c: ClearChargingProfile | GetChargingProfiles) -> dict[str, Any]:
    return _some(
        id=c.profile_id, evseId=c.evse_id, chargingProfilePurpose=c.purpose, stackLevel=c.stack_level
    )


ManualAction = (
    RequestStart
    | RequestStop
    | Reset
    | ChangeAvailability
    | Trigger
    | UnlockConnector
    | GetTransactionStatus
    | GetVariables
    | SetVariables
    | SendLocalList
    | GetLocalListVersion
    | ReserveNow
    | CancelReservation
    | ChangeLocalList
    | GetLog
    | CustomerInformation
    | SendCommand
    | TrustContractRoot
    | UpdateFirmware
    | Monitoring
    | SetDisplayMessage
    | GetDisplayMessages
    | ClearDisplayMessage
    | SetChargingProfile
    | ClearChargingProfile
    | GetChargingProfiles
    | GetCompositeSchedule
)


class Adapter(Protocol):
    async def prepare(self, station_id: str, password: str | None, configured: Configured) -> None:
        """Before the run: the station and the configured id tokens are known to the CSMS."""

    async def set_registration(self, station_id: str, status: str) -> None:
        """The CSMS answers the station's next BootNotification with ``status`` (B02, B03)."""

    async def perform(self, station_id: str, action: ManualAction) -> None:
        """Make the CSMS send what ``action`` says to the station."""


class AdapterError(Exception):
    pass


def _new_password(action: SendCommand) -> str | None:
    """The password of a SetVariables that sets only SecurityCtrlr.BasicAuthPassword (TC_A_09 / A_10), else
    None."""
    if action.action != "SetVariables":
        return None
    data = action.payload.get("setVariableData")
    if not isinstance(data, list) or len(data) != 1 or not isinstance(data[0], dict):
        return None
    item = data[0]
    named = (item.get("component", {}).get("name"), item.get("variable", {}).get("name"))
    value = item.get("attributeValue")
    return value if named == ("SecurityCtrlr", "BasicAuthPassword") and isinstance(value, str) else None


class ChargeplaneAdapter:
    """Chargeplane's CSMS through its HTTP API (``/api/v1``, bearer token)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client  # base_url is the API root (http://host:port), auth header set

    @classmethod
    def connect(cls, api_url: str, token: str) -> ChargeplaneAdapter:
        root = api_url.rstrip("/").removesuffix("/api/v1")
        headers = {"Authorization": f"Bearer {token}"}
        return cls(httpx.AsyncClient(base_url=root, headers=headers, timeout=30.0))

    async def aclose(self) -> None:
        await self.client.aclose()

    async def _request(self, method: str, path: str, body: Any, ok: tuple[int, ...] = (200,)) -> int:
        response = await self.client.request(method, f"/api/v1{path}", json=body)
        if response.status_code not in ok:
            raise AdapterError(f"{method} {path}: HTTP {response.status_code} {response.text[:300]}")
        return response.status_code

    async def prepare(self, station_id: str, password: str | None, configured: Configured) -> None:
        station: dict[str, Any] = {"stationId": station_id, "registrationStatus": "Accepted"}
        if password is not None:
            station["password"] = password
        if await self._request("POST", "/stations", station, ok=(201, 409)) == 409:
            patch = {k: v for k, v in station.items() if k != "stationId"}
            await self._request("PATCH", f"/stations/{station_id}", patch)
        for token, token_type, status in (
            (configured.valid_idtoken, configured.valid_idtoken_type, "Accepted"),
            (configured.blocked_idtoken, configured.blocked_idtoken_type, "Blocked"),
            (configured.expired_idtoken, configured.expired_idtoken_type, "Expired"),
            (configured.emaid, "eMAID", "Accepted"),  # C07: the contract certificates' eMAID
        ):
            body = {"idToken": token, "type": token_type, "status": status}
            if await self._request("POST", "/id-tokens", body, ok=(201, 409)) == 409:
                await self._request("PATCH", f"/id-tokens/{token}?type={token_type}", {"status": status})
        # The invalid token must be unknown to the CSMS: remove it should an earlier run have stored it.
        await self._request(
            "DELETE",
            f"/id-tokens/{configured.invalid_idtoken}?type={configured.invalid_idtoken_type}",
            None,
            ok=(204, 404),
        )
        # Block I cases: a default tariff, so that the CSMS knows the cost of the tool's transactions.
        tariff = {"tariffId": "conformance", "currency": "EUR", "energy": {"prices": [{"priceKwh": 0.25}]}}
        await self._request("POST", "/tariffs", {"tariff": tariff, "default": True}, ok=(201, 409))
        # C09 / C16 cases: both valid tokens share a group; the master pass token is of the master pass group.
        for token, token_type, group in (
            (configured.valid_idtoken, configured.valid_idtoken_type, configured.group_idtoken),
            (configured.valid_idtoken2, configured.valid_idtoken2_type, configured.group_idtoken),
            (
                configured.masterpass_idtoken,
                configured.masterpass_idtoken_type,
                configured.master_pass_group_id,
            ),
        ):
            values = {"status": "Accepted", "groupIdToken": group}
            body = {"idToken": token, "type": token_type} | values
            if await self._request("POST", "/id-tokens", body, ok=(201, 409)) == 409:
                await self._request("PATCH", f"/id-tokens/{token}?type={token_type}", values)

    async def set_registration(self, station_id: str, status: str) -> None:
        await self._request("PATCH", f"/stations/{station_id}", {"registrationStatus": status})

    async def perform(self, station_id: str, action: ManualAction) -> None:
        match action:  # the routes that are not a POST under the station
            case GetLocalListVersion():
                await self._request("GET", f"/stations/{station_id}/local-list/station-version", None)
            case CancelReservation():
                await self._request("DELETE", f"/reservations/{action.reservation_id}", None)
            case ChangeLocalList():
                await self._change_local_list(station_id, action)
            case TrustContractRoot():
                await self._request(
                    "POST", "/pki/contract-roots", {"certificate": action.certificate}, ok=(201,)
                )
            case SendCommand() if (password := _new_password(action)) is not None:
                # A01: the password rotation route, which keeps the new password pending beside the old
                await self._request(
                    "POST", f"/stations/{station_id}/password-rotation", {"password": password}
                )
            case SendCommand():
                await self._request(
                    "POST", f"/stations/{station_id}/commands/{action.action}", action.payload
                )
            case ClearDisplayMessage():
                await self._request(
                    "DELETE", f"/stations/{station_id}/display-messages/{action.message_id}", None
                )
            case GetCompositeSchedule():
                query = f"evseId={action.evse_id}&duration={action.duration}&unit={action.unit}"
                await self._request("GET", f"/stations/{station_id}/composite-schedule?{query}", None)
            case _:
                path, body = _route(action)
                await self._request("POST", f"/stations/{station_id}{path}", body, ok=(200, 201))

    async def _change_local_list(self, station_id: str, action: ChangeLocalList) -> None:
        """The token change (authorization block's id-token routes), then the local-list sync route."""
        if action.change == "clear":
            listed = await self._listed_tokens()
            for token, token_type in listed:
                await self._request("PATCH", f"/id-tokens/{token}?type={token_type}", {"localList": False})
            try:
                await self._request("POST", f"/stations/{station_id}/local-list", {"full": True})
            finally:  # the token store as it was; the next sync puts the tokens back on the list
                for token, token_type in listed:
                    await self._request("PATCH", f"/id-tokens/{token}?type={token_type}", {"localList": True})
            return
        path = f"/id-tokens/{action.id_token}?type={action.token_type}"
        if action.change == "add":
            found = await self.client.get(f"/api/v1{path}")
            if found.status_code == 404:
                body = {"idToken": action.id_token, "type": action.token_type, "status": "Accepted"}
                await self._request("POST", "/id-tokens", body | {"localList": True}, ok=(201,))
            else:
                # Another charging priority: an entry that changes, even if the token was on the list.
                priority = found.json().get("chargingPriority") or 0
                change = {"localList": True, "chargingPriority": (priority + 10) % 19 - 9}
                await self._request("PATCH", path, change)
        else:
            await self._request("PATCH", path, {"localList": False})
        await self._request("POST", f"/stations/{station_id}/local-list", {"full": False})

    async def _listed_tokens(self) -> list[tuple[str, str]]:
        """The stored tokens that go on local lists (all pages)."""
        listed: list[tuple[str, str]] = []
        offset, total = 0, 1
        while offset < total:
            response = await self.client.get("/api/v1/id-tokens", params={"offset": offset, "limit": 500})
            if response.status_code != 200:
                raise AdapterError(f"GET /id-tokens: HTTP {response.status_code} {response.text[:300]}")
            page = response.json()
            listed += [(t["idToken"], t["type"]) for t in page["items"] if t["localList"]]
            total = page["total"]
            offset += len(page["items"]) or total
        return listed


def _route(action: ManualAction) -> tuple[str, dict[str, Any]]:
    """The Chargeplane API route and body of ``action`` (remote_control, availability, authorization and
    reservation blocks)."""
    match action:
        case SendLocalList():
            return "/local-list", {"full": action.full}
        case ReserveNow():
            body = {"idToken": action.id_token, "tokenType": action.token_type}
            return "/reservations", body | {"expiresAt": action.expires_at} | _some(
                evseId=action.evse_id, connectorType=action.connector_type, groupIdToken=action.group_id_token
            )
        case RequestStart():
            return "/remote-start", _some(
                idToken=action.id_token,
                tokenType=action.token_type,
                evseId=action.evse_id,
                chargingProfile=action.charging_profile,
            )
        case RequestStop():
            return "/remote-stop", {"transactionId": action.transaction_id}
        case Reset():
            return "/reset", _some(type=action.type, evseId=action.evse_id)
        case ChangeAvailability():
            body = _some(evseId=action.evse_id, connectorId=action.connector_id)
            return "/availability", {"operational": action.operational} | body
        case Trigger():
            body = _some(evseId=action.evse_id, connectorId=action.connector_id)
            return "/trigger", {"requestedMessage": action.requested_message} | body
        case UnlockConnector():
            return "/unlock", {"evseId": action.evse_id, "connectorId": action.connector_id}
        case GetTransactionStatus():
            return "/commands/GetTransactionStatus", _some(transactionId=action.transaction_id)
        case GetVariables():
            wanted = [{"component": {"name": c}, "variable": {"name": v}} for c, v in action.variables]
            return "/commands/GetVariables", {"getVariableData": wanted}
        case SetVariables():
            values: list[dict[str, Any]] = [
                {"component": {"name": c}, "variable": {"name": v}, "attributeValue": x}
                for c, v, x in action.variables
            ]
            return "/commands/SetVariables", {"setVariableData": values}
        case GetLog():
            # The diagnostics block's route: the CSMS makes its own upload URL and requestId.
            return "/logs", {"logType": action.log_type}
        case CustomerInformation():
            asked: dict[str, Any] = {"report": action.report, "clear": action.clear}
            if action.id_token is not None:
                asked["idToken"] = {"idToken": action.id_token, "type": action.token_type or "ISO14443"}
            if action.customer_identifier is not None:
                asked["customerIdentifier"] = action.customer_identifier
            return "/customer-information", asked
        case Monitoring():
            if action.action not in _MONITORING_ROUTES:
                raise AdapterError(f"{action.describe()}: no such monitoring request")
            route, take = _MONITORING_ROUTES[action.action]
            return route, take(action.payload)
        case UpdateFirmware():
            firmware = {"location": action.location, "retrieveDateTime": action.retrieve_at} | _some(
                installDateTime=action.install_at,
                signingCertificate=action.signing_certificate,
                signature=action.signature,
            )
            return "/commands/UpdateFirmware", {"requestId": action.request_id, "firmware": firmware}
        case SetDisplayMessage():
            return "/display-messages", action.message
        case GetDisplayMessages():
            return "/display-messages/query", _some(
                ids=list(action.ids) or None, priority=action.priority, state=action.state
            )
        case SetChargingProfile():
            return "/charging-profiles", {"evseId": action.evse_id, "chargingProfile": action.profile}
        case ClearChargingProfile():
            return "/charging-profiles/clear", _criteria_body(action)
        case GetChargingProfiles():
            return "/charging-profiles/report", _criteria_body(action) | _some(
                chargingLimitSource=action.source
            )
        case (
            GetLocalListVersion()
            | CancelReservation()
            | ChangeLocalList()
            | SendCommand()
            | TrustContractRoot()
            | ClearDisplayMessage()
            | GetCompositeSchedule()
        ):
            raise AdapterError(f"{action.describe()}: not a POST route")


def _some(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


class InteractiveAdapter:
    """Asks the operator at the terminal; the tool then waits for the CSMS's message as usual."""

    def __init__(self, ask: Callable[[str], str] = input, out: TextIO | None = None) -> None:
        self._ask = ask
        self._out = out if out is not None else sys.stderr

    def _say(self, text: str) -> None:
        print(text, file=self._out, flush=True)

    async def _confirm(self, text: str) -> None:
        await asyncio.to_thread(self._ask, f"{text}\n  press Enter when done: ")

    async def prepare(self, station_id: str, password: str | None, configured: Configured) -> None:
        await self._confirm(
            f"Before the run, at the CSMS under test:\n"
            f"  - station {station_id} is registered (Accepted){' with the given password' if password else ''};\n"
            f"  - id token {configured.valid_idtoken} ({configured.valid_idtoken_type}) is Accepted;\n"
            f"  - id token {configured.blocked_idtoken} is Blocked, {configured.expired_idtoken} is Expired;\n"
            f"  - id token {configured.invalid_idtoken} is unknown;\n"
            f"  - id token {configured.emaid} (eMAID) is Accepted;\n"
            f"  - id tokens {configured.valid_idtoken} and {configured.valid_idtoken2} are Accepted, of group"
            f" {configured.group_idtoken};\n"
            f"  - id token {configured.masterpass_idtoken} is Accepted, of the master pass group"
            f" {configured.master_pass_group_id}."
        )

    async def set_registration(self, station_id: str, status: str) -> None:
        await self._confirm(
            f"Manual action: make the CSMS answer the next BootNotification of {station_id} with {status}."
        )

    async def perform(self, station_id: str, action: ManualAction) -> None:
        self._say(
            f"Manual action: make the CSMS {action.describe()} to {station_id} (the tool is waiting for it)."
        )
        if isinstance(action, TrustContractRoot):
            self._say(action.certificate)
        if (
            isinstance(action, SendCommand | Monitoring) and action.payload
        ):  # e.g. the certificate it is to install
            self._say(f"  with this request: {json.dumps(action.payload)}")
