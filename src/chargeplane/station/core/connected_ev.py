"""The ConnectedEV component (2.1 Q01.FR.36; the device model appendix §3.2.13): per EVSE, what the station
learned of the ISO 15118 EV plugged in there, for the CSMS to read with GetVariables (Q02 scenario steps 5/6:
the EVCCID or the vehicle certificate decide whether V2X is allowed).

Available says an EV is connected; VehicleId is its EVCCID; ProtocolAgreed the protocol of the
supportedAppProtocol handshake (``<uri>,<major>,<minor>``); ProtocolSupportedByEV[priority] the EV's offer;
VehicleCertificate[Leaf|SubCA1|SubCA2|Root] its certificate chain in PEM. With no EV every other value is an
empty string (as the appendix says).

Decisions: the simulated EV's handshake is derived from its needs (ISO 15118-20 when it states a control
mode, else -2; AC or DC by its needs), the -2 protocol offered second by a -20 EV; it presents no vehicle
certificate, so those stay empty; ProtocolSupportedByEV has the instances 1 and 2 (our EV offers two).
"""

from __future__ import annotations

from chargeplane.station.core.context import Controller
from chargeplane.station.core.device_model import StationLayout, VariableDef, VariableKey, var
from chargeplane.station.core.model import EvChargingNeeds, Evse

COMPONENT = "ConnectedEV"
CERTIFICATES = ("Leaf", "SubCA1", "SubCA2", "Root")
PRIORITIES = ("1", "2")
ISO_2 = "urn:iso:15118:2:2013:MsgDef,2,0"


def protocols(needs: EvChargingNeeds) -> tuple[str, ...]:
    """What the EV offers in supportedAppProtocolReq, by priority (the first is agreed)."""
    if needs.control_mode is None:
        return (ISO_2,)
    return (f"urn:iso:std:iso:15118:-20:{'DC' if needs.dc else 'AC'},1,0", ISO_2)


class ConnectedEv(Controller):
    __slots__ = ()

    @staticmethod
    def variables(layout: StationLayout) -> list[VariableDef]:
        out: list[VariableDef] = []
        for evse in range(1, len(layout.connectors) + 1):
            out.append(var(COMPONENT, "Available", "boolean", "false", "ReadOnly", evse=evse))
            for name in ("VehicleId", "ProtocolAgreed"):
                out.append(var(COMPONENT, name, "string", "", "ReadOnly", evse=evse))
            out += [
                var(
                    COMPONENT,
                    "ProtocolSupportedByEV",
                    "string",
                    "",
                    "ReadOnly",
                    evse=evse,
                    variable_instance=p,
                )
                for p in PRIORITIES
            ]
            out += [
                var(COMPONENT, "VehicleCertificate", "string", "", "ReadOnly", evse=evse, variable_instance=c)
                for c in CERTIFICATES
            ]
        return out

    def _put(self, evse_id: int, name: str, value: str, instance: str | None = None) -> None:
        self.ctx.model.put(VariableKey(COMPONENT, name, variable_instance=instance, evse=evse_id), value)

    def connected(self, evse: Evse, needs: EvChargingNeeds) -> None:
        """Q01.FR.36: an ISO 15118 EV on ``evse`` told its needs (after its handshake and session setup)."""
        offered = protocols(needs)
        self._put(evse.id, "Available", "true")
        self._put(evse.id, "VehicleId", (needs.v2x.evccid if needs.v2x else None) or "")
        self._put(evse.id, "ProtocolAgreed", offered[0])
        for n, priority in enumerate(PRIORITIES):
            self._put(evse.id, "ProtocolSupportedByEV", offered[n] if n < len(offered) else "", priority)

    def disconnected(self, evse: Evse) -> None:
        """The EV left: Available false, the rest empty."""
        self._put(evse.id, "Available", "false")
        for name in ("VehicleId", "ProtocolAgreed"):
            self._put(evse.id, name, "")
        for priority in PRIORITIES:
            self._put(evse.id, "ProtocolSupportedByEV", "", priority)
        for certificate in CERTIFICATES:
            self._put(evse.id, "VehicleCertificate", "", certificate)
