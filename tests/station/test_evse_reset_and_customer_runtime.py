"""Against a CSMS of the independent ``ocpp`` package: the reset of one EVSE (C-13, B11/B12 with evseId) and
customer information by customer identifier (C-14, N09/N10) on the running station."""

from __future__ import annotations

from chargeplane.station.core.evse_reset import RESET_TIME
from tests.station.csms_peer import CsmsBehaviour, call, peer_csms, wait_for
from tests.station.test_runtime import events, running_station


def _status(behaviour: CsmsBehaviour, evse_id: int) -> str | None:
    statuses = [s["connector_status"] for s in behaviour.of("StatusNotification") if s["evse_id"] == evse_id]
    return statuses[-1] if statuses else None


async def test_B12_FR_08_immediate_reset_of_one_evse_leaves_the_other_charging() -> None:
    behaviour = CsmsBehaviour()
    async with peer_csms(behaviour) as url, running_station(url, connectors=(1, 1)) as station:
        await wait_for(lambda: _status(behaviour, 2) == "Available")
        for evse, card in ((1, "CARD1"), (2, "CARD2")):
            station.plug(evse)
            station.present_token(card, evse)
        await wait_for(lambda: len([e for e in events(behaviour) if e["event_type"] == "Started"]) == 2)
        csms = behaviour.stations[-1]
        answer = await csms.call(call.Reset(type="Immediate", evse_id=1))
        assert answer.status == "Accepted"
        await wait_for(lambda: any(e["event_type"] == "Ended" for e in events(behaviour)))
        ended = [e for e in events(behaviour) if e["event_type"] == "Ended"]
        assert len(ended) == 1
        assert ended[0]["trigger_reason"] == "ResetCommand"
        assert ended[0]["transaction_info"]["stopped_reason"] == "ImmediateReset"
        await wait_for(lambda: _status(behaviour, 1) == "Unavailable")
        await wait_for(lambda: _status(behaviour, 1) == "Occupied", within=RESET_TIME.total_seconds() + 3)
        assert len(behaviour.of("BootNotification")) == 1  # the station itself never rebooted
        assert station.core.transaction(2) is not None


async def test_N09_N10_customer_identifier_reported_then_cleared() -> None:
    behaviour = CsmsBehaviour()
    async with peer_csms(behaviour) as url, running_station(url) as station:
        await wait_for(lambda: behaviour.of("StatusNotification"))
        station.enrol_customer("user-7", "CARD7")
        csms = behaviour.stations[-1]
        answer = await csms.call(
            call.CustomerInformation(request_id=71, report=True, clear=True, customer_identifier="user-7")
        )
        assert answer.status == "Accepted"
        await wait_for(lambda: behaviour.of("NotifyCustomerInformation"))
        first = behaviour.of("NotifyCustomerInformation")[0]
        assert first["request_id"] == 71
        assert "user-7" in first["data"]
        assert "CARD7" in first["data"]
        await csms.call(
            call.CustomerInformation(request_id=72, report=True, clear=False, customer_identifier="user-7")
        )
        await wait_for(lambda: len(behaviour.of("NotifyCustomerInformation")) == 2)
        assert "No data" in behaviour.of("NotifyCustomerInformation")[1]["data"]
