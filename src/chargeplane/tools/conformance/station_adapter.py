"""The "Manual Action" rows of the charging-station cases: what a person does at the station under test.

A case says what it needs (:data:`StationAction` values: "connect the EV", "present this id token",
"power cycle the station"); a :class:`StationAdapter` makes it happen. :class:`InteractiveStationAdapter`
asks a person at the terminal; the tests implement the protocol by driving Chargeplane's own station
in-process (the tools may not import the station, they meet it on the wire only).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TextIO


@dataclass(frozen=True)
class PlugIn:  # connect the EV and the EVSE (cable plugged in at both ends)
    evse_id: int
    connector_id: int

    def describe(self) -> str:
        return f"connect the EV to EVSE {self.evse_id} connector {self.connector_id}"


@dataclass(frozen=True)
class Unplug:  # disconnect the cable (EV and station side)
    evse_id: int
    connector_id: int

    def describe(self) -> str:
        return f"disconnect the EV from EVSE {self.evse_id} connector {self.connector_id}"


@dataclass(frozen=True)
class PresentToken:  # present an id token (an RFID card) at the station
    id_token: str
    token_type: str
    evse_id: int | None = None

    def describe(self) -> str:
        where = f" at EVSE {self.evse_id}" if self.evse_id is not None else ""
        return f"present id token {self.id_token} ({self.token_type}){where}"


@dataclass(frozen=True)
class PowerCycle:  # switch the station off and on (Reusable State Booted, manual variant)
    def describe(self) -> str:
        return "power cycle the charging station"


@dataclass(frozen=True)
class MakeIdle:  # between cases, outside any verdict: no EV connected, no transaction
    def describe(self) -> str:
        return "make the station idle: no EV connected, no transaction"


@dataclass(frozen=True)
class PlugInIso15118Ev:  # connect an ISO 15118 EV that authorizes by Plug & Charge (its contract certificate)
    evse_id: int
    connector_id: int
    certificate: str | None = None  # "Install" / "Update": the EV first asks for a (new) contract certificate

    def describe(self) -> str:
        first = (
            f" that first asks for a contract certificate ({self.certificate}, CertificateInstallationReq / "
            "CertificateUpdateReq)"
            if self.certificate
            else ""
        )
        return (
            f"connect an ISO 15118 EV using Plug & Charge to EVSE {self.evse_id} connector {self.connector_id}"
            + first
        )


# -- the EV side and the parking bay (transaction start / stop options, EV-side disconnect: block E) --------


@dataclass(frozen=True)
class UnplugEvSide:  # the cable leaves the EV only; a detachable cable stays in the station's socket
    evse_id: int
    connector_id: int

    def describe(self) -> str:
        return (
            f"disconnect the cable on the EV side only (EVSE {self.evse_id} connector {self.connector_id} "
            "loses the EV; leave the cable in the station)"
        )


@dataclass(frozen=True)
class EvSuspends:  # the EV stops taking energy while it stays connected (a full or paused car)
    evse_id: int

    def describe(self) -> str:
        return f"make the EV at EVSE {self.evse_id} suspend the energy transfer (stay connected)"


@dataclass(frozen=True)
class EvNotReady:  # before it connects: the EV will connect but not take energy (TC_E_38)
    evse_id: int

    def describe(self) -> str:
        return f"set the EV for EVSE {self.evse_id} to a state in which it is not ready to take energy"


@dataclass(frozen=True)
class EnterParkingBay:  # the EV drives into the parking bay of the EVSE (a bay occupancy sensor sees it)
    evse_id: int

    def describe(self) -> str:
        return f"drive the EV into the parking bay of EVSE {self.evse_id}"


@dataclass(frozen=True)
class LeaveParkingBay:
    evse_id: int

    def describe(self) -> str:
        return f"drive the EV out of the parking bay of EVSE {self.evse_id}"


# block C (C16, master pass with a UI): the choice made at the station's UI after a master pass was presented
@dataclass(frozen=True)
class MasterPassStop:
    evse_id: int | None = None  # None: stop all transactions

    def describe(self) -> str:
        which = "all transactions" if self.evse_id is None else f"the transaction on EVSE {self.evse_id}"
        return f"at the station's master pass screen, choose to stop {which}"


# Block N: the memory state of TC_N_62_CS.
@dataclass(frozen=True)
class StoreCustomerIdentifier:  # store customer data under this identifier at the station (by local means)
    identifier: str

    def describe(self) -> str:
        return f"store customer information under the customer identifier {self.identifier} at the station"


# Block N (monitoring): a hardware fault of an EVSE, which the station reports as a hard-wired notification
@dataclass(frozen=True)
class HardwareFault:
    evse_id: int
    faulted: bool = True  # False: the fault ends

    def describe(self) -> str:
        change = "starts" if self.faulted else "ends"
        return f"make a hardware fault of EVSE {self.evse_id} that the station reports ({change})"


# Blocks A and M: the connection the station is installed with, as a TLS case's prerequisite wants it
@dataclass(frozen=True)
class SetUpConnection:
    url: str  # the CSMS URL, without the station's identity (ws:// on profile 1, wss:// on 2 and 3)
    security_profile: int
    csms_root: str = ""  # PEM: the CSMS root certificate to verify the CSMS with (profiles 2 and 3)
    certificate: str = ""  # profile 3: the station certificate chain (PEM, leaf first) and its private key
    private_key: str = ""

    def describe(self) -> str:
        what = f"set the station up to connect to {self.url} on security profile {self.security_profile}"
        if self.csms_root:
            what += (
                ", with the tool's CSMS root certificate (csms_root.crt of its PKI directory) as its only one"
            )
        if self.certificate:
            what += ", presenting the station certificate the tool issued (station_certificate.crt / .key)"
        return what


# Block M (AS-2): the station's configuration of SecurityCtrlr.AdditionalRootCertificateCheck (read-only)
@dataclass(frozen=True)
class ConfigureRootCertificateCheck:
    enabled: bool

    def describe(self) -> str:
        return f"configure SecurityCtrlr.AdditionalRootCertificateCheck {str(self.enabled).lower()} at the station"


# Block K, ISO 15118 (K15-K17): the EV states (new) charging needs over ISO 15118
@dataclass(frozen=True, slots=True)
class RenegotiateChargingLimits:
    evse_id: int

    def describe(self) -> str:
        return (
            f"make the ISO 15118 EV at EVSE {self.evse_id} renegotiate its charging limits "
            "(it sends new charging needs)"
        )


@dataclass(frozen=True, slots=True)
class NextEvIso15118:  # before it connects: the EV speaks ISO 15118 and charges once a schedule is agreed
    evse_id: int

    def describe(self) -> str:
        return (
            f"connect an ISO 15118 EV to EVSE {self.evse_id} next: it takes energy only once it has agreed a "
            "charging schedule with the station (and states its needs when asked to renegotiate)"
        )


StationAction = (
    PlugIn
    | Unplug
    | PresentToken
    | PowerCycle
    | MakeIdle
    | PlugInIso15118Ev
    | UnplugEvSide
    | EvSuspends
    | EvNotReady
    | EnterParkingBay
    | LeaveParkingBay
    | MasterPassStop
    | StoreCustomerIdentifier
    | HardwareFault
    | SetUpConnection
    | ConfigureRootCertificateCheck
    | RenegotiateChargingLimits
    | NextEvIso15118
)


class StationAdapter(Protocol):
    async def perform(self, action: StationAction) -> None:
        """Do ``action`` at the station; returns once it is done (the station's messages follow)."""


class InteractiveStationAdapter:
    """Asks the person at the station; returns when they press Enter."""

    def __init__(self, ask: Callable[[str], str] = input, out: TextIO | None = None) -> None:
        self._ask = ask
        self._out = out if out is not None else sys.stderr

    async def perform(self, action: StationAction) -> None:
        print(f"Manual action: {action.describe()}.", file=self._out, flush=True)
        await asyncio.to_thread(self._ask, "  press Enter when done: ")
