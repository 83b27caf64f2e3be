"""Our 2.1 station's payment terminal against the independent ``ocpp`` package (v21) as the CSMS: a card paid,
charged, settled with NotifySettlement (C21), a VAT number checked (C18.FR.08), a cancellation (C19) and the
CSMS's NotifyWebPaymentStarted holding the EVSE until its remote start (C25)."""

from __future__ import annotations

from ocpp.v21 import call as call21

from chargeplane.ocpp.versions import Version
from tests.station.csms_peer import CsmsBehaviour, peer_csms, wait_for
from tests.station.test_runtime import events, running_station


async def test_C21_C18_FR_08_terminal_payment_settled_with_vat_number() -> None:
    behaviour = CsmsBehaviour(receipt_url="https://csms.example/receipts/9", end_total=4.2)
    async with peer_csms(behaviour, "ocpp2.1") as url, running_station(url, version=Version.V21) as station:
        await wait_for(lambda: behaviour.of("StatusNotification"))
        station.plug(1)
        psp_ref = station.pay_by_card(1)
        assert psp_ref is not None
        await wait_for(lambda: any(e["event_type"] == "Started" for e in events(behaviour)))
        started = next(e for e in events(behaviour) if e.get("id_token"))
        assert started["id_token"] == {
            "id_token": psp_ref,
            "type": "DirectPayment",
            "additional_info": [  # C18.FR.06: PaymentCtrlr.PaymentDetails
                {"additional_id_token": "411111", "type": "CardBin"},
                {"additional_id_token": "1111", "type": "CardLast4Digits"},
            ],
        }
        assert started["transaction_info"]["transaction_limit"] == {"max_cost": 50.0}  # C18.FR.06
        station.enter_vat_number("DE123456789", 1)
        await wait_for(lambda: behaviour.of("VatNumberValidation"))
        assert behaviour.of("VatNumberValidation")[0] == {"vat_number": "DE123456789", "evse_id": 1}
        await wait_for(lambda: station.core.evses[1].meter.energy_wh > 0)
        station.unplug(1)
        await wait_for(lambda: behaviour.of("NotifySettlement"))
        (settled,) = behaviour.of("NotifySettlement")
        assert (settled["psp_ref"], settled["status"], settled["settlement_amount"]) == (
            psp_ref,
            "Settled",
            4.2,
        )
        assert settled["transaction_id"] == started["transaction_info"]["transaction_id"]
        assert settled["vat_number"] == "DE123456789"


async def test_C19_FR_02_cancel_before_plug_in_and_C25_FR_27_web_payment_hold() -> None:
    behaviour = CsmsBehaviour()
    async with peer_csms(behaviour, "ocpp2.1") as url, running_station(url, version=Version.V21) as station:
        await wait_for(lambda: behaviour.of("StatusNotification"))
        psp_ref = station.pay_by_card(1)
        await wait_for(lambda: behaviour.of("Authorize"))
        station.cancel_payment(1)
        await wait_for(lambda: behaviour.of("NotifySettlement"))
        (canceled,) = behaviour.of("NotifySettlement")
        assert (canceled["psp_ref"], canceled["status"]) == (psp_ref, "Canceled")
        assert "transaction_id" not in canceled
        answer = await behaviour.stations[0].call(call21.NotifyWebPaymentStarted(evse_id=1, timeout=30))
        assert answer is not None  # C25.FR.27: an empty answer
        station.plug(1)
        station.present_token("LOCAL-1", 1)
        token = {"id_token": "PSP-WEB-1", "type": "DirectPayment"}
        started = await behaviour.stations[0].call(
            call21.RequestStartTransaction(id_token=token, remote_start_id=3, evse_id=1)
        )
        assert started.status == "Accepted"
        await wait_for(lambda: any(e.get("id_token") for e in events(behaviour)))
        tokens = [e["id_token"]["id_token"] for e in events(behaviour) if e.get("id_token")]
        assert tokens == ["PSP-WEB-1"]  # the local card did not start while the payment was open


async def test_C25_FR_53_roaming_evse_id_and_C25_FR_04_05_qr_maxima_set_over_ocpp_and_enforced() -> None:
    behaviour = CsmsBehaviour()
    async with peer_csms(behaviour, "ocpp2.1") as url, running_station(url, version=Version.V21) as station:
        await wait_for(lambda: behaviour.of("StatusNotification"))
        csms = behaviour.stations[0]

        def setting(variable: str, value: str, evse: int | None = None) -> dict[str, object]:
            component: dict[str, object] = {"name": "WebPaymentsCtrlr"}
            if evse is not None:
                component["evse"] = {"id": evse}
            return {"component": component, "variable": {"name": variable}, "attribute_value": value}

        answer = await csms.call(
            call21.SetVariables(
                set_variable_data=[
                    setting("URLTemplate", "https://emsp.example/{roamingevseid}/{totp}/{version}"),
                    setting("SharedSecret", "s3cret"),
                    setting("RoamingEvseId", "NL-CPO-E1", evse=1),
                    setting("Enabled", "true"),
                ]
            )
        )
        assert {r["attribute_status"] for r in answer.set_variable_result} == {"Accepted"}
        url_shown = station.payment_url(1, {"maxtime": 900, "maxenergy": 7000})
        assert url_shown is not None
        assert url_shown.startswith("https://emsp.example/NL-CPO-E1/")  # C25.FR.53
        assert url_shown.endswith("/v1?maxtime=900&maxenergy=7000")  # C25.FR.56/57
        await csms.call(call21.NotifyWebPaymentStarted(evse_id=1, timeout=60))
        token = {"id_token": "PSP-QR-1", "type": "DirectPayment"}
        started = await csms.call(
            call21.RequestStartTransaction(id_token=token, remote_start_id=4, evse_id=1)
        )
        assert started.status == "Accepted"
        station.plug(1)
        await wait_for(lambda: any("transaction_limit" in e["transaction_info"] for e in events(behaviour)))
        limited = [e for e in events(behaviour) if "transaction_limit" in e["transaction_info"]]
        assert limited[0]["transaction_info"]["transaction_limit"] == {"max_energy": 7000, "max_time": 900}
