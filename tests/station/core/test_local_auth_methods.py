"""Local authorization methods (C02 start button, C03 / C18 payment terminal, C04 PIN keypad)."""

from __future__ import annotations

from typing import Any

from msgspec import UNSET

from chargeplane.ocpp.messages import v21
from chargeplane.ocpp.timestamps import to_wire
from chargeplane.ocpp.versions import Version
from chargeplane.station.core.local_auth_methods import PIN_FREE_ATTEMPTS, PIN_LOCK_S
from chargeplane.station.core.model import ShowMessage
from tests.station.core.helpers import D, M, make_rig, rig16, set_var

M21 = v21.messages
D21 = v21.datatypes


def _shown(rig: Any) -> list[str]:
    return [a.text for a in rig.actions if isinstance(a, ShowMessage)]


def test_c02_fr_01_start_button_with_authorization_off_sends_no_authorization_token() -> None:
    rig = make_rig()
    assert set_var(rig, "AuthCtrlr", "Enabled", "false") == "Accepted"
    rig.do("ev_plugged", 1, 1)
    rig.clear()
    rig.do("start_button", 1)
    assert rig.of(M.AuthorizeRequest) == []  # no Authorize for NoAuthorization
    (started,) = rig.events()
    assert started.event_type == "Started"
    assert started.trigger_reason == "Authorized"
    assert (started.id_token.id_token, started.id_token.type) == ("", "NoAuthorization")
    assert rig.core.transaction(1) is not None


def test_c02_start_button_again_stops_and_button_refused_while_authorization_on() -> None:
    rig = make_rig()
    rig.do("ev_plugged", 1, 1)
    rig.do("start_button", 1)  # AuthCtrlr.Enabled true (default): the button authorizes nobody
    assert rig.core.transaction(1) is None
    assert "Present a card or enter a PIN" in _shown(rig)
    set_var(rig, "AuthCtrlr", "Enabled", "false")
    rig.do("start_button", 1)
    assert rig.core.transaction(1) is not None
    rig.clear()
    rig.do("start_button", 1)  # TxStopPoint Authorized: the second press ends it
    ended = rig.events()[-1]
    assert (ended.event_type, ended.trigger_reason) == ("Ended", "StopAuthorized")
    assert rig.core.transaction(1) is None


def test_authctrlr_enabled_false_puts_a_read_token_in_the_transaction_unchecked() -> None:
    rig = make_rig()
    set_var(rig, "AuthCtrlr", "Enabled", "false")
    rig.do("ev_plugged", 1, 1)
    rig.clear()
    rig.do("token_presented", "CARD1")
    assert rig.of(M.AuthorizeRequest) == []
    (started,) = rig.events()
    assert (started.id_token.id_token, started.id_token.type) == ("CARD1", "ISO14443")


def test_c02_fr_03_c03_fr_02_no_authorization_and_central_never_cached() -> None:
    rig = make_rig()
    set_var(rig, "AuthCtrlr", "Enabled", "false")
    rig.do("ev_plugged", 1, 1)
    rig.do("start_button", 1)
    tx_id = rig.core.transaction(1)
    assert tx_id is not None
    rig.do("start_button", 1)
    rig.do("ev_unplugged", 1)
    set_var(rig, "AuthCtrlr", "Enabled", "true")
    set_var(rig, "AuthCtrlr", "AuthorizeRemoteStart", "true")
    rig.do("ev_plugged", 1, 1)
    rig.clear()
    response = rig.handle(
        M.RequestStartTransactionRequest(
            id_token=D.IdTokenType(id_token="PAID-1", type="Central"), remote_start_id=7, evse_id=1
        )
    )
    assert response.status == "Accepted"
    assert rig.of(M.AuthorizeRequest) == []  # C03.FR.01: even with AuthorizeRemoteStart true
    assert rig.events()[-1].id_token.type == "Central"
    entries = rig.core.ctx.get(_authorization()).cache.entries
    assert all(e.token_type not in ("NoAuthorization", "Central") for e in entries.values())
    assert entries == {}


def _authorization() -> Any:
    from chargeplane.station.core.authorization import Authorization

    return Authorization


def test_c03_remote_start_with_other_token_types_is_still_authorized_first() -> None:
    rig = make_rig()
    set_var(rig, "AuthCtrlr", "AuthorizeRemoteStart", "true")
    rig.handle(
        M.RequestStartTransactionRequest(
            id_token=D.IdTokenType(id_token="RFID1", type="ISO14443"), remote_start_id=8, evse_id=1
        )
    )
    assert [a.id_token.id_token for a in rig.of(M.AuthorizeRequest)] == ["RFID1"]  # F01.FR.01


def test_c04_pin_is_a_key_code_authorized_with_the_csms_and_never_shown() -> None:
    def answer(request: Any, now: Any) -> Any:
        if isinstance(request, M.AuthorizeRequest):
            ok = request.id_token.id_token == "4321"
            return M.AuthorizeResponse(
                id_token_info=D.IdTokenInfoType(status="Accepted" if ok else "Invalid")
            )
        return None

    rig = make_rig(answer=answer)
    rig.do("ev_plugged", 1, 1)
    rig.do("pin_entered", "1111")
    assert rig.core.transaction(1) is None
    rig.clear()
    rig.do("pin_entered", "4321")
    (asked,) = rig.of(M.AuthorizeRequest)
    assert (asked.id_token.id_token, asked.id_token.type) == ("4321", "KeyCode")
    started = rig.events()[0]
    assert (started.id_token.id_token, started.id_token.type) == ("4321", "KeyCode")
    rig.clear()
    rig.do("pin_entered", "1111", evse_id=1)
    assert all("1111" not in text and "4321" not in text for text in _shown(rig))  # C04.FR.04
    assert "PIN: Invalid" in _shown(rig)


def test_c04_fr_06_wrong_pins_lock_the_keypad_with_growing_back_off() -> None:
    def answer(request: Any, now: Any) -> Any:
        if isinstance(request, M.AuthorizeRequest):
            return M.AuthorizeResponse(id_token_info=D.IdTokenInfoType(status="Invalid"))
        return None

    rig = make_rig(answer=answer)
    set_var(rig, "AuthCacheCtrlr", "DisablePostAuthorize", "false")
    for attempt in range(PIN_FREE_ATTEMPTS):
        rig.do("pin_entered", f"{9000 + attempt}")
    asked = len(rig.of(M.AuthorizeRequest))
    assert asked == PIN_FREE_ATTEMPTS
    rig.do("pin_entered", "9999")  # locked: not even asked
    assert len(rig.of(M.AuthorizeRequest)) == asked
    rig.advance(PIN_LOCK_S)
    rig.do("pin_entered", "9998")  # allowed again, wrong again: the lock doubles
    assert len(rig.of(M.AuthorizeRequest)) == asked + 1
    rig.advance(PIN_LOCK_S)
    rig.do("pin_entered", "9997")
    assert len(rig.of(M.AuthorizeRequest)) == asked + 1
    rig.advance(PIN_LOCK_S)
    rig.do("pin_entered", "9997")
    assert len(rig.of(M.AuthorizeRequest)) == asked + 2


def test_c04_bad_pin_format_and_1_6_are_refused_without_a_message() -> None:
    rig = make_rig()
    rig.do("pin_entered", "12a4")
    rig.do("pin_entered", "12")
    assert rig.of(M.AuthorizeRequest) == []
    old = rig16()
    old.do("pin_entered", "1234")
    old.do("start_button", 1)
    assert "PIN entry not available" in _shown(old)
    assert "Start button not available" in _shown(old)


def test_c03_2_0_1_card_at_the_terminal_sends_nothing_itself() -> None:
    rig = make_rig()
    rig.clear()
    rig.do("card_paid")
    assert rig.sent == []  # the payment system asks the CSMS, which remote-starts with a Central token


def _rig21(status: str = "Accepted", direct_payment: str = "true") -> Any:
    """A 2.1 station whose CSMS answers Authorize with ``status``."""

    def answer(request: Any, now: Any) -> Any:
        if isinstance(request, M21.BootNotificationRequest):
            return M21.BootNotificationResponse(current_time=to_wire(now), interval=300, status="Accepted")
        if isinstance(request, M21.AuthorizeRequest):
            return M21.AuthorizeResponse(id_token_info=D21.IdTokenInfoType(status=status))
        for name in ("StatusNotification", "TransactionEvent", "SecurityEventNotification"):
            if type(request).__name__ == f"{name}Request":
                return getattr(M21, f"{name}Response")()
        return None

    rig = make_rig(version=Version.V21, answer=answer)
    variable = D21.SetVariableDataType(
        attribute_value=direct_payment,
        component=D21.ComponentType(name="PaymentCtrlr"),
        variable=D21.VariableType(name="AuthorizeDirectPayment"),
    )
    result = rig.handle(M21.SetVariablesRequest(set_variable_data=[variable])).set_variable_result[0]
    assert result.attribute_status == "Accepted"
    return rig


def test_c18_fr_04_fr_06_direct_payment_authorized_with_the_csms() -> None:
    rig = _rig21()
    rig.do("ev_plugged", 1, 1)
    rig.clear()
    psp_ref = rig.core.card_paid(rig.now)
    rig.pump()
    assert psp_ref is not None
    (asked,) = rig.of(M21.AuthorizeRequest)
    assert (asked.id_token.id_token, asked.id_token.type) == (psp_ref, "DirectPayment")
    started = rig.of(M21.TransactionEventRequest)[0]
    assert (started.id_token.id_token, started.id_token.type) == (psp_ref, "DirectPayment")


def test_c18_fr_03_without_authorization_direct_payment_no_authorize() -> None:
    rig = _rig21(direct_payment="false")
    rig.do("ev_plugged", 1, 1)
    rig.clear()
    psp_ref = rig.core.card_paid(rig.now)
    rig.pump()
    assert rig.of(M21.AuthorizeRequest) == []
    started = rig.of(M21.TransactionEventRequest)[0]
    assert started.id_token.id_token == psp_ref


def test_c18_fr_07_refused_direct_payment_does_not_charge() -> None:
    rig = _rig21("Blocked")
    rig.do("ev_plugged", 1, 1)
    rig.core.card_paid(rig.now)
    rig.pump()
    assert rig.core.transaction(1) is None


def test_c02_scenario_cable_first_then_button_updates_with_no_authorization() -> None:
    """The C02 sequence with TxStartPoint EVConnected: Started on plug-in, then Updated with the
    NoAuthorization token when the button is pressed."""
    rig = make_rig()
    set_var(rig, "AuthCtrlr", "Enabled", "false")
    assert set_var(rig, "TxCtrlr", "TxStartPoint", "EVConnected") == "Accepted"
    rig.clear()
    rig.do("ev_plugged", 1, 1)
    (started,) = rig.events()
    assert started.event_type == "Started"
    assert started.id_token is UNSET
    rig.do("start_button", 1)
    updated = rig.events()[1]
    assert (updated.event_type, updated.trigger_reason) == ("Updated", "Authorized")
    assert (updated.id_token.id_token, updated.id_token.type) == ("", "NoAuthorization")
