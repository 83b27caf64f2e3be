"""Customer information on the station (N09, N10): what it holds about an id token, reported in parts and
cleared (but for the CSMS's local list)."""

from __future__ import annotations

from chargeplane.ocpp.messages import v201
from tests.station.core.helpers import M, make_rig, set_var

D = v201.datatypes
CARD = D.IdTokenType(id_token="CUST1", type="ISO14443")


def customer_information(
    request_id: int, report: bool, clear: bool, **named: object
) -> M.CustomerInformationRequest:
    return M.CustomerInformationRequest(request_id=request_id, report=report, clear=clear, **named)  # type: ignore[arg-type]


def notified(rig: object) -> list[tuple[int, int, bool, str]]:
    sent = rig.of(M.NotifyCustomerInformationRequest)  # type: ignore[attr-defined]
    return [(m.request_id, m.seq_no, m.tbc, m.data) for m in sent]


def known_customer() -> object:
    """A station whose cache and local list know CUST1, with a transaction of CUST1 ongoing."""
    rig = make_rig()
    assert set_var(rig, "AuthCacheCtrlr", "Enabled", "true") == "Accepted"
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "CUST1")  # authorized by the CSMS: cached
    entry = D.AuthorizationData(id_token=CARD, id_token_info=D.IdTokenInfoType(status="Accepted"))
    update = M.SendLocalListRequest(version_number=1, update_type="Full", local_authorization_list=[entry])
    assert rig.handle(update).status == "Accepted"
    rig.clear()
    return rig


def test_N09_FR_05_the_report_names_the_cache_the_list_and_the_transaction() -> None:
    rig = known_customer()
    answer = rig.handle(customer_information(5, report=True, clear=False, id_token=CARD))  # type: ignore[attr-defined]
    assert answer.status == "Accepted"
    [(request_id, seq_no, tbc, data)] = notified(rig)
    assert (request_id, seq_no, tbc) == (5, 0, False)
    assert "Authorization Cache: token CUST1 (ISO14443), status Accepted" in data
    assert "Local Authorization List: token CUST1" in data
    assert "Ongoing transaction" in data


def test_N10_FR_03_clear_and_report_removes_the_cache_entry_not_the_local_list() -> None:
    rig = known_customer()
    rig.handle(customer_information(6, report=True, clear=True, id_token=CARD))  # type: ignore[attr-defined]
    assert "Authorization Cache" in notified(rig)[0][3]  # what was there, then cleared
    rig.clear()  # type: ignore[attr-defined]
    rig.handle(customer_information(7, report=True, clear=False, id_token=CARD))  # type: ignore[attr-defined]
    data = notified(rig)[0][3]
    assert "Authorization Cache" not in data
    assert "Local Authorization List" in data  # N10.FR.02: the CSMS's to change


def test_N10_FR_06_clear_without_report_says_it_was_cleared() -> None:
    rig = known_customer()
    rig.handle(customer_information(8, report=False, clear=True, id_token=CARD))  # type: ignore[attr-defined]
    assert notified(rig) == [(8, 0, False, "The customer's data was cleared.")]


def test_N09_FR_06_unknown_customer_one_part_no_data() -> None:
    rig = make_rig()
    rig.clear()
    stranger = D.IdTokenType(id_token="NOBODY", type="ISO14443")
    assert (
        rig.handle(customer_information(9, report=True, clear=False, id_token=stranger)).status == "Accepted"
    )
    assert notified(rig) == [(9, 0, False, "No data found for this customer.")]
    rig.handle(customer_information(10, report=True, clear=False, customer_identifier="C-42"))
    assert notified(rig)[-1] == (10, 0, False, "No data found for this customer.")


def test_N09_FR_07_09_invalid_or_rejected_requests_send_nothing() -> None:
    rig = make_rig()
    rig.clear()
    assert rig.handle(customer_information(1, report=True, clear=False)).status == "Invalid"
    both = customer_information(2, report=True, clear=False, id_token=CARD, customer_identifier="C-42")
    assert rig.handle(both).status == "Invalid"
    assert rig.handle(customer_information(3, report=False, clear=False, id_token=CARD)).status == "Rejected"
    assert notified(rig) == []


def test_a_long_report_is_sent_in_parts_of_at_most_512_characters() -> None:
    from chargeplane.station.core.customer_information import _pack

    parts = _pack([f"line {i} " + "x" * 100 for i in range(12)])
    assert len(parts) > 1
    assert all(len(p) <= 512 for p in parts)
    assert "\n".join(parts).count("line ") == 12


# ---------------------------------------------------------------------- customer identifiers (C-14)
def enrolled_customer() -> object:
    """CUST1's driver enrolled at the station as "user-42", and CUST1 in the authorization cache."""
    rig = known_customer()
    rig.do("customer_enrolled", "user-42", token="CUST1")  # type: ignore[attr-defined]
    return rig


def test_N09_FR_05_by_identifier_reports_the_enrolment_and_its_tokens() -> None:
    rig = enrolled_customer()
    answer = rig.handle(customer_information(8, report=True, clear=False, customer_identifier="user-42"))  # type: ignore[attr-defined]
    assert answer.status == "Accepted"
    data = "".join(part[3] for part in notified(rig))
    assert "Enrolled at this station as user-42" in data
    assert "CUST1 (ISO14443)" in data
    assert "Authorization Cache: token CUST1" in data


def test_N09_FR_06_an_unknown_identifier_has_no_data() -> None:
    rig = enrolled_customer()
    rig.handle(customer_information(9, report=True, clear=False, customer_identifier="someone-else"))  # type: ignore[attr-defined]
    assert [part[3] for part in notified(rig)] == ["No data found for this customer."]


def test_N10_FR_03_clear_by_identifier_removes_the_enrolment_and_the_cache_entry() -> None:
    rig = enrolled_customer()
    rig.handle(customer_information(10, report=True, clear=True, customer_identifier="user-42"))  # type: ignore[attr-defined]
    assert "Enrolled at this station as user-42" in notified(rig)[0][3]  # what was there, then cleared
    rig.clear()  # type: ignore[attr-defined]
    rig.handle(customer_information(11, report=True, clear=False, customer_identifier="user-42"))  # type: ignore[attr-defined]
    assert [part[3] for part in notified(rig)] == ["No data found for this customer."]
    rig.clear()  # type: ignore[attr-defined]
    rig.handle(customer_information(12, report=True, clear=False, id_token=CARD))  # type: ignore[attr-defined]
    data = notified(rig)[0][3]
    assert "Authorization Cache" not in data
    assert "Local Authorization List" in data  # N10.FR.02: the CSMS's to change
