"""Authorization (C01-C16): cache, local pre-authorization, master pass, ClearCache."""

from __future__ import annotations

from typing import Any

import msgspec

from chargeplane.station.core.model import ContractHash
from tests.station.core.helpers import D, M, make_rig, set_var


def test_c10_cache_used_offline_and_c10_fr_08_lifetime_expiry() -> None:
    rig = make_rig()
    set_var(rig, "AuthCacheCtrlr", "LifeTime", "3600")
    rig.do("token_presented", "T1")  # online Authorize -> cached
    rig.do("token_presented", "T1")  # ends that authorization again
    rig.do("connection_closed")
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "T1")
    assert rig.core.transaction(1) is not None  # LocalAuthorizeOffline from the cache
    rig.do("token_presented", "T1")
    rig.do("ev_unplugged", 1)
    rig.advance(3601)
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "T1")
    assert rig.core.transaction(1) is None


def test_c16_fr_02_master_pass_stops_every_transaction() -> None:
    def answer(request: Any, now: Any) -> Any:
        if isinstance(request, M.AuthorizeRequest) and request.id_token.id_token == "BOSS":
            group = D.IdTokenType(id_token="MASTER", type="Central")
            return M.AuthorizeResponse(
                id_token_info=D.IdTokenInfoType(status="Accepted", group_id_token=group)
            )
        return None

    rig = make_rig(connectors=(1, 1), answer=answer)
    set_var(rig, "AuthCtrlr", "MasterPassGroupId", "MASTER")
    for evse_id, token in ((1, "A"), (2, "B")):
        rig.do("ev_plugged", evse_id, 1)
        rig.do("token_presented", token, evse_id=evse_id)
    rig.clear()
    rig.do("token_presented", "BOSS")
    ended = rig.events()
    assert [e.transaction_info.stopped_reason for e in ended] == ["MasterPass", "MasterPass"]
    assert all(e.id_token is msgspec.UNSET for e in ended)  # not the holders' tokens (Part 6 TC_C_49)


def _grouped(statuses: dict[str, str]) -> Any:
    def answer(request: Any, now: Any) -> Any:
        if isinstance(request, M.AuthorizeRequest) and request.id_token.id_token in statuses:
            group = D.IdTokenType(id_token="FAMILY", type="Central")
            status = statuses[request.id_token.id_token]
            return M.AuthorizeResponse(id_token_info=D.IdTokenInfoType(status=status, group_id_token=group))
        return None

    return answer


def test_c09_fr_11_a_refused_token_of_the_same_group_does_not_stop() -> None:
    rig = make_rig(answer=_grouped({"A": "Accepted", "B": "Invalid", "C": "Accepted"}))
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "A")
    assert rig.core.transaction(1) is not None
    rig.do("token_presented", "B")  # asked online: Invalid, same group
    assert rig.core.transaction(1) is not None
    rig.do("token_presented", "B")  # now cached as Invalid with the group: still not a stop
    assert rig.core.transaction(1) is not None
    rig.do("token_presented", "C")  # an Accepted token of the group stops it (C09.FR.03)
    assert rig.core.transaction(1) is None


def test_c11_clear_cache() -> None:
    rig = make_rig()
    rig.do("token_presented", "T1")
    assert rig.core.cache.entries
    assert rig.handle(M.ClearCacheRequest()).status == "Accepted"
    assert rig.core.cache.entries == {}


def test_disable_post_authorize_refuses_a_cached_or_listed_refused_token_without_asking() -> None:
    rig = make_rig(answer=_grouped({"BAD": "Invalid", "LISTED": "Accepted"}))
    set_var(rig, "AuthCtrlr", "LocalPreAuthorize", "true")
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "BAD")  # cached as Invalid
    set_var(rig, "AuthCacheCtrlr", "DisablePostAuthorize", "true")
    rig.clear()
    rig.do("token_presented", "BAD")
    assert not rig.of(M.AuthorizeRequest)
    set_var(rig, "AuthCacheCtrlr", "DisablePostAuthorize", "false")
    rig.do("token_presented", "BAD")  # C12.FR.05: asked again
    assert rig.of(M.AuthorizeRequest)
    entry = D.AuthorizationData(
        id_token=D.IdTokenType(id_token="LISTED", type="ISO14443"),
        id_token_info=D.IdTokenInfoType(status="Blocked"),
    )
    request = M.SendLocalListRequest(version_number=1, update_type="Full", local_authorization_list=[entry])
    assert rig.handle(request).status == "Accepted"
    set_var(rig, "LocalAuthListCtrlr", "DisablePostAuthorize", "true")
    rig.clear()
    rig.do("token_presented", "LISTED")
    assert not rig.of(M.AuthorizeRequest)
    assert rig.core.transaction(1) is None


# ---------------------------------------------------------------------- C07: ISO 15118 contract certificate

CONTRACT = (
    ContractHash("SHA256", "aa" * 32, "bb" * 32, "1f2e3d", "http://127.0.0.1:8180/api/v1/pki/mo/ocsp"),
)


def _contract_answer(certificate_status: str, status: str) -> Any:
    def answer(request: Any, now: Any) -> Any:
        if isinstance(request, M.AuthorizeRequest) and request.id_token.type == "eMAID":
            return M.AuthorizeResponse(
                id_token_info=D.IdTokenInfoType(status=status), certificate_status=certificate_status
            )
        return None

    return answer


def test_C07_FR_01_02_contract_sent_with_the_emaid_and_its_ocsp_data() -> None:
    rig = make_rig(answer=_contract_answer("Accepted", "Accepted"))
    rig.do("ev_plugged", 1, 1)
    rig.do("contract_presented", "DECPLC1234567", CONTRACT)
    [request] = rig.of(M.AuthorizeRequest)
    assert (request.id_token.id_token, request.id_token.type) == ("DECPLC1234567", "eMAID")
    [data] = request.iso15118_certificate_hash_data
    assert (data.serial_number, data.responder_url) == ("1f2e3d", CONTRACT[0].responder_url)
    assert rig.core.transaction(1) is not None  # C07.FR.14: accepted, charging


def test_C07_FR_01_always_asks_the_csms_even_for_a_cached_emaid() -> None:
    rig = make_rig(answer=_contract_answer("Accepted", "Accepted"))
    rig.do("contract_presented", "DECPLC1234567", CONTRACT)
    rig.do("token_presented", "DECPLC1234567", token_type="eMAID")  # ends it again
    rig.do("contract_presented", "DECPLC1234567", CONTRACT)
    assert len(rig.of(M.AuthorizeRequest)) == 2


def test_C07_FR_16_revoked_contract_not_charging() -> None:
    rig = make_rig(answer=_contract_answer("CertificateRevoked", "Invalid"))
    rig.do("ev_plugged", 1, 1)
    rig.do("contract_presented", "DECPLC1234567", CONTRACT)
    assert len(rig.of(M.AuthorizeRequest)) == 1
    assert rig.core.transaction(1) is None


def test_C07_FR_07_offline_no_charging_with_a_contract() -> None:
    rig = make_rig()
    rig.do("connection_closed")
    rig.do("ev_plugged", 1, 1)
    rig.clear()
    rig.do("contract_presented", "DECPLC1234567", CONTRACT)
    assert rig.of(M.AuthorizeRequest) == []
    assert rig.core.transaction(1) is None
