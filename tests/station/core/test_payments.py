"""The station's payment terminal after the card (2.1 C18.FR.06/08, C19-C23, C25.FR.22/27) and PaymentCtrlr."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from msgspec import UNSET

from chargeplane.ocpp.messages import v21
from chargeplane.ocpp.timestamps import to_wire
from chargeplane.ocpp.totp import totp_v1
from chargeplane.ocpp.versions import Version
from chargeplane.station.core.device_model import VariableKey
from chargeplane.station.core.model import ShowMessage
from tests.station.core.helpers import Rig, charge, make_rig

M21 = v21.messages
D21 = v21.datatypes


class Csms:
    """A 2.1 CSMS: Accepted tokens, ``total`` in every TransactionEvent answer, a receipt URL for settlements."""

    def __init__(self, authorize: str = "Accepted") -> None:
        self.authorize = authorize
        self.total: float | None = None
        self.vat_status = "Accepted"

    def __call__(self, request: Any, now: datetime) -> Any:
        if isinstance(request, M21.BootNotificationRequest):
            return M21.BootNotificationResponse(current_time=to_wire(now), interval=300, status="Accepted")
        if isinstance(request, M21.AuthorizeRequest):
            return M21.AuthorizeResponse(id_token_info=D21.IdTokenInfoType(status=self.authorize))
        if isinstance(request, M21.TransactionEventRequest):
            return M21.TransactionEventResponse(total_cost=self.total if self.total is not None else UNSET)
        if isinstance(request, M21.NotifySettlementRequest):
            return M21.NotifySettlementResponse(receipt_url="https://csms.example/r/1")
        if isinstance(request, M21.VatNumberValidationRequest):
            company = D21.AddressType(name="Acme GmbH", address1="Hauptstr. 1", city="Berlin", country="DE")
            accepted = self.vat_status == "Accepted"
            return M21.VatNumberValidationResponse(
                vat_number=request.vat_number,
                evse_id=request.evse_id,
                status=self.vat_status,
                company=company if accepted else UNSET,
            )
        for name in ("StatusNotification", "SecurityEventNotification", "MeterValues", "NotifyEvent"):
            if type(request).__name__ == f"{name}Request":
                return getattr(M21, f"{name}Response")()
        return None


def rig21(csms: Csms | None = None, **variables: str) -> tuple[Rig, Csms]:
    csms = csms or Csms()
    rig = make_rig(version=Version.V21, answer=csms)
    for name, value in variables.items():
        rig.core.model.put(VariableKey("PaymentCtrlr", name), value, persist=True)
    return rig, csms


def settlements(rig: Rig) -> list[Any]:
    return rig.of(M21.NotifySettlementRequest)


def shown(rig: Rig) -> list[str]:
    return [a.text for a in rig.actions if isinstance(a, ShowMessage)]


def paid_and_charging(rig: Rig) -> str:
    rig.do("ev_plugged", 1, 1)
    psp_ref = rig.core.card_paid(rig.now)
    rig.pump()
    assert psp_ref is not None
    charge(rig, energy=0, power=11000)
    return psp_ref


def test_paymentctrlr_variables_of_the_appendix() -> None:
    rig, _ = rig21()
    model = rig.core.model
    assert model.flag("PaymentCtrlr", "AuthorizeDirectPayment")
    assert model.value("PaymentCtrlr", "AuthorizationAmount") == "50"
    assert model.members("PaymentCtrlr", "PaymentDetails") == ["CardBin", "CardLast4Digits"]
    assert not model.flag("PaymentCtrlr", "SettlementByCSMS")
    assert model.flag("PaymentCtrlr", "ReceiptByCSMS")


def test_C18_FR_01_FR_06_started_carries_max_cost_of_the_authorization_amount() -> None:
    rig, _ = rig21(AuthorizationAmount="20")
    psp_ref = paid_and_charging(rig)
    started = rig.of(M21.TransactionEventRequest)[0]
    assert (started.event_type, started.id_token.id_token) == ("Started", psp_ref)
    assert started.transaction_info.transaction_limit.max_cost == 20
    details = [(i.type, i.additional_id_token) for i in started.id_token.additional_info]
    assert details == [("CardBin", "411111"), ("CardLast4Digits", "1111")]  # PaymentDetails
    (asked,) = rig.of(M21.AuthorizeRequest)  # C18.FR.04: the details in the Authorize too
    assert len(asked.id_token.additional_info) == 2


def test_C21_settled_with_the_csms_total_and_its_receipt_shown() -> None:
    rig, csms = rig21()
    psp_ref = paid_and_charging(rig)
    tx_id = rig.core.transaction(1).id  # type: ignore[union-attr]
    charge(rig, energy=12000, power=0)
    csms.total = 3.6
    rig.clear()
    rig.do("ev_unplugged", 1)
    (settled,) = settlements(rig)
    assert (settled.psp_ref, settled.transaction_id, settled.status) == (psp_ref, tx_id, "Settled")
    assert settled.settlement_amount == 3.6
    assert settled.receipt_url is UNSET  # ReceiptByCSMS: the CSMS provides it
    assert "Receipt: https://csms.example/r/1" in shown(rig)
    assert rig.core.payment_terminal.settled == [(psp_ref, 3.6, "Settled")]


def test_C22_FR_01_FR_02_rejected_and_failed_without_receipt_then_terminal_receipt() -> None:
    rig, csms = rig21(ReceiptByCSMS="false")
    rig.core.payment_terminal.settle_outcomes[:] = ["Rejected", "Failed"]
    csms.total = 2.0
    for _ in range(3):
        paid_and_charging(rig)
        charge(rig, energy=rig.core.evses[1].meter.energy_wh + 5000, power=0)
        rig.do("ev_unplugged", 1)
    rejected, failed, settled = settlements(rig)
    assert (rejected.status, failed.status, settled.status) == ("Rejected", "Failed", "Settled")
    for refused in (rejected, failed):
        assert refused.receipt_id is UNSET
        assert refused.receipt_url is UNSET
        assert refused.settlement_amount == 2.0
        assert refused.transaction_id is not UNSET
    assert settled.receipt_id.startswith("T-")  # C21 second scenario: the terminal's receipt
    assert settled.receipt_url.startswith("https://receipts.terminal.example/T-")


def test_C19_FR_01_FR_02_cancel_before_the_transaction_releases_and_notifies() -> None:
    rig, _ = rig21()
    psp_ref = rig.core.card_paid(rig.now)
    rig.pump()
    assert psp_ref is not None
    rig.do("payment_canceled")
    assert rig.core.transaction(1) is None
    assert rig.core.payment_terminal.released == [psp_ref]
    (canceled,) = settlements(rig)
    assert (canceled.psp_ref, canceled.status, canceled.settlement_amount) == (psp_ref, "Canceled", 0)
    assert canceled.transaction_id is UNSET


def test_C19_EVConnectionTimeOut_releases_and_without_AuthorizeDirectPayment_the_csms_is_not_told() -> None:
    rig, _ = rig21(AuthorizeDirectPayment="false")
    psp_ref = rig.core.card_paid(rig.now)
    rig.pump()
    rig.advance(rig.core.model.number("TxCtrlr", "EVConnectionTimeOut") + 1)
    assert rig.core.payment_terminal.released == [psp_ref]
    assert settlements(rig) == []  # C19 remark: the CSMS never knew the token


def test_C18_FR_07_refused_card_is_released() -> None:
    rig, _ = rig21(Csms(authorize="Invalid"))
    rig.do("ev_plugged", 1, 1)
    psp_ref = rig.core.card_paid(rig.now)
    rig.pump()
    assert rig.core.payment_terminal.released == [psp_ref]
    assert rig.core.transaction(1) is None
    assert settlements(rig) == []


def test_C20_FR_01_FR_03_FR_05_cancel_after_start_without_cost() -> None:
    rig, csms = rig21()
    rig.do("ev_plugged", 1, 1)
    psp_ref = rig.core.card_paid(rig.now)
    rig.pump()
    tx_id = rig.core.transaction(1).id  # type: ignore[union-attr]
    csms.total = 0.0
    rig.clear()
    rig.do("payment_canceled", evse_id=1)
    ended = rig.of(M21.TransactionEventRequest)[-1]
    assert (ended.event_type, ended.trigger_reason) == ("Ended", "StopAuthorized")  # C20.FR.01
    (canceled,) = settlements(rig)
    assert (canceled.status, canceled.transaction_id, canceled.psp_ref) == ("Canceled", tx_id, psp_ref)
    assert rig.core.payment_terminal.released == [psp_ref]


def test_C23_FR_01_FR_02_increase_near_the_authorized_amount_then_declined() -> None:
    rig, _ = rig21(
        AuthorizationAmount="10", IncrementalAuthorizationAmount="10", IncrementalAuthorizationThreshold="2"
    )
    paid_and_charging(rig)
    tx_id = rig.core.transaction(1).id  # type: ignore[union-attr]
    rig.clear()
    rig.handle(M21.CostUpdatedRequest(total_cost=7.0, transaction_id=tx_id))
    assert [e for e in rig.of(M21.TransactionEventRequest) if e.trigger_reason == "LimitSet"] == []
    rig.handle(M21.CostUpdatedRequest(total_cost=8.5, transaction_id=tx_id))  # > 10 - 2
    (raised,) = [e for e in rig.of(M21.TransactionEventRequest) if e.trigger_reason == "LimitSet"]
    assert raised.transaction_info.transaction_limit.max_cost == 20  # C23.FR.02
    rig.core.payment_terminal.increase_outcomes.append(False)
    rig.clear()
    rig.handle(M21.CostUpdatedRequest(total_cost=18.5, transaction_id=tx_id))
    assert [e for e in rig.of(M21.TransactionEventRequest) if e.trigger_reason == "LimitSet"] == []
    rig.handle(M21.CostUpdatedRequest(total_cost=20.0, transaction_id=tx_id))
    reached = rig.of(M21.TransactionEventRequest)[-1]
    assert reached.trigger_reason == "CostLimitReached"  # the station stops at the limit it has


def test_C18_FR_08_vat_number_validated_and_put_in_the_settlement() -> None:
    rig, csms = rig21()
    paid_and_charging(rig)
    csms.vat_status = "Rejected"
    rig.do("vat_number_entered", "DE000", evse_id=1)
    assert "VAT number DE000 rejected" in shown(rig)
    csms.vat_status = "Accepted"
    rig.do("vat_number_entered", "DE123456789", evse_id=1)
    asked = rig.of(M21.VatNumberValidationRequest)[-1]
    assert (asked.vat_number, asked.evse_id) == ("DE123456789", 1)
    assert "VAT number accepted: Acme GmbH" in shown(rig)
    csms.total = 1.0
    charge(rig, energy=3000, power=0)
    rig.do("ev_unplugged", 1)
    (settled,) = settlements(rig)
    assert settled.vat_number == "DE123456789"
    assert settled.vat_company.name == "Acme GmbH"


def test_C25_FR_22_FR_27_web_payment_holds_the_evse_until_remote_start_or_timeout() -> None:
    rig, _ = rig21()
    answer = rig.handle(M21.NotifyWebPaymentStartedRequest(evse_id=1, timeout=60))
    assert answer == M21.NotifyWebPaymentStartedResponse()  # C25.FR.27
    assert "Payment in progress" in shown(rig)
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "LOCAL-1")
    assert rig.core.transaction(1) is None  # C25.FR.22: no local start
    assert "Payment in progress on the web" in shown(rig)
    started = rig.handle(
        M21.RequestStartTransactionRequest(
            id_token=D21.IdTokenType(id_token="PSP-WEB", type="DirectPayment"), remote_start_id=5, evse_id=1
        )
    )
    assert started.status == "Accepted"
    assert rig.core.transaction(1) is not None
    other, _ = rig21()
    other.handle(M21.NotifyWebPaymentStartedRequest(evse_id=1, timeout=60))
    other.advance(61)
    assert "Web payment timed out: EVSE free" in shown(other)
    other.do("ev_plugged", 1, 1)
    other.do("token_presented", "LOCAL-1")
    assert other.core.transaction(1) is not None


def test_C19_settlement_made_offline_waits_for_the_next_accepted_boot() -> None:
    rig, _ = rig21()
    psp_ref = rig.core.card_paid(rig.now)
    rig.pump()
    rig.do("connection_closed")
    rig.do("payment_canceled")
    assert settlements(rig) == []
    rig.do("connection_opened")
    rig.advance(1)
    (canceled,) = settlements(rig)
    assert canceled.psp_ref == psp_ref


def test_C25_FR_01_FR_50_52_dynamic_qr_url_from_the_template() -> None:
    rig, _ = rig21()
    assert rig.core.payment_url(1, rig.now, "CS9") is None  # WebPaymentsCtrlr.Enabled false
    model = rig.core.model
    for name, value in (
        ("URLTemplate", "https://pay.example/{chargingstationid}/{evse}/{totp}/{version}"),
        ("SharedSecret", "secret-1"),
        ("ValidityTime", "30"),
        ("Length", "10"),
        ("Enabled", "true"),
    ):
        model.put(VariableKey("WebPaymentsCtrlr", name), value, persist=True)
    url = rig.core.payment_url(2, rig.now, "CS9")
    assert url is None  # no EVSE 2
    url = rig.core.payment_url(1, rig.now, "CS9")
    assert url is not None
    code = totp_v1("secret-1", rig.now.timestamp(), 30, 10)
    assert url == f"https://pay.example/CS9/1/{code}/v1"
    assert rig.core.payment_url(1, rig.now + timedelta(seconds=30), "CS9") != url  # a new code per interval


def web_payments(rig: Rig, template: str) -> None:
    model = rig.core.model
    for name, value in (
        ("URLTemplate", template),
        ("SharedSecret", "secret-1"),
        ("ValidityTime", "30"),
        ("Length", "8"),
        ("Enabled", "true"),
    ):
        model.put(VariableKey("WebPaymentsCtrlr", name), value, persist=True)


def test_C25_FR_53_roaming_evse_id_of_the_evse_replaces_its_placeholder() -> None:
    rig, _ = rig21()
    web_payments(rig, "https://emsp.example/{roamingevseid}/{totp}/{version}")
    assert rig.core.payment_url(1, rig.now, "CS9") is None  # no RoamingEvseId set: no URL to decode
    key = VariableKey("WebPaymentsCtrlr", "RoamingEvseId", evse=1)
    assert rig.core.model.get(key, None).status == "Accepted"  # a variable of the EVSE tier
    rig.core.model.put(key, "NL*CPO*E123", persist=True)
    code = totp_v1("secret-1", rig.now.timestamp(), 30, 8)
    assert rig.core.payment_url(1, rig.now, "CS9") == f"https://emsp.example/NL%2ACPO%2AE123/{code}/v1"


def test_C25_FR_51_charging_station_id_variable_before_the_identity() -> None:
    rig, _ = rig21()
    web_payments(rig, "https://pay.example/{chargingstationid}/{evse}/{totp}/{version}")
    assert (rig.core.payment_url(1, rig.now, "CS9") or "").startswith("https://pay.example/CS9/1/")
    rig.core.model.put(VariableKey("WebPaymentsCtrlr", "ChargingStationId"), "QR-9", persist=True)
    assert (rig.core.payment_url(1, rig.now, "CS9") or "").startswith("https://pay.example/QR-9/1/")


def test_C25_FR_56_57_58_driver_maxima_as_query_parameters_when_supported() -> None:
    rig, _ = rig21()
    web_payments(rig, "https://pay.example/{chargingstationid}/{evse}/{totp}/{version}")
    url = rig.core.payment_url(1, rig.now, "CS9", {"maxtime": 1800, "maxenergy": 20000, "maxcost": 12.5})
    assert url is not None
    assert url.endswith("/v1?maxtime=1800&maxenergy=20000&maxcost=12.50")
    supported = VariableKey("WebPaymentsCtrlr", "URLParameters")
    rig.core.model.put(supported, "maxenergy")  # C25.FR.03: only those the station lists
    url = rig.core.payment_url(1, rig.now, "CS9", {"maxtime": 1800, "maxenergy": 20000})
    assert url is not None
    assert url.endswith("/v1?maxenergy=20000")
    rig.core.model.put(supported, "")
    url = rig.core.payment_url(1, rig.now, "CS9", {"maxtime": 1800})
    assert url is not None
    assert "?" not in url


def paid_remote_start(rig: Rig, psp_ref: str = "PSP-WEB") -> None:
    rig.handle(M21.NotifyWebPaymentStartedRequest(evse_id=1, timeout=120))
    started = rig.handle(
        M21.RequestStartTransactionRequest(
            id_token=D21.IdTokenType(id_token=psp_ref, type="DirectPayment"), remote_start_id=5, evse_id=1
        )
    )
    assert started.status == "Accepted"
    rig.pump()


def test_C25_FR_04_maxtime_of_the_qr_code_limits_the_paid_transaction() -> None:
    rig, _ = rig21()
    web_payments(rig, "https://pay.example/{chargingstationid}/{evse}/{totp}/{version}")
    assert rig.core.payment_url(1, rig.now, "CS9", {"maxtime": 600})
    rig.advance(40)  # past the code's validity: the driver is on the page (NotifyWebPaymentStarted)
    paid_remote_start(rig)
    rig.do("ev_plugged", 1, 1)
    charge(rig, energy=0, power=11000)
    events = rig.of(M21.TransactionEventRequest)
    limits = [e.transaction_info.transaction_limit for e in events if e.transaction_info.transaction_limit]
    assert len(limits) == 1
    assert limits[0].max_time == 600
    rig.advance(601)
    triggers = [e.trigger_reason for e in rig.of(M21.TransactionEventRequest)]
    assert "TimeLimitReached" in triggers  # enforced


def test_C25_FR_05_maxenergy_of_the_qr_code_stops_the_energy() -> None:
    rig, _ = rig21()
    web_payments(rig, "https://pay.example/{chargingstationid}/{evse}/{totp}/{version}")
    assert rig.core.payment_url(1, rig.now, "CS9", {"maxenergy": 5000})
    paid_remote_start(rig)
    rig.do("ev_plugged", 1, 1)
    charge(rig, energy=0, power=11000)
    sent = [e.transaction_info.transaction_limit for e in rig.of(M21.TransactionEventRequest)]
    assert [limit.max_energy for limit in sent if limit] == [5000]
    charge(rig, energy=5000, power=11000)
    assert "EnergyLimitReached" in [e.trigger_reason for e in rig.of(M21.TransactionEventRequest)]


def test_C25_FR_04_limits_not_taken_by_a_local_start_or_a_stale_code() -> None:
    rig, _ = rig21()
    web_payments(rig, "https://pay.example/{chargingstationid}/{evse}/{totp}/{version}")
    assert rig.core.payment_url(1, rig.now, "CS9", {"maxtime": 600})
    rig.advance(31)  # the code is stale and no driver started paying
    started = rig.handle(
        M21.RequestStartTransactionRequest(
            id_token=D21.IdTokenType(id_token="PSP-X", type="DirectPayment"), remote_start_id=6, evse_id=1
        )
    )
    assert started.status == "Accepted"
    rig.pump()
    rig.do("ev_plugged", 1, 1)
    charge(rig, energy=0, power=11000)
    assert not any(e.transaction_info.transaction_limit for e in rig.of(M21.TransactionEventRequest))
