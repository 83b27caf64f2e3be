"""The Local Authorization List (D01-D02; 1.6 §5.10, §5.15)."""

from __future__ import annotations

from tests.station.core.helpers import D16, M16, D, M, make_rig, rig16, set_var


def test_d01_fr_19_local_list_full_differential_version_mismatch_and_d02_version() -> None:
    rig = make_rig()
    entry = D.AuthorizationData(
        id_token=D.IdTokenType(id_token="L1", type="ISO14443"),
        id_token_info=D.IdTokenInfoType(status="Accepted"),
    )
    assert rig.handle(M.GetLocalListVersionRequest()).version_number == 0
    full = rig.handle(
        M.SendLocalListRequest(version_number=3, update_type="Full", local_authorization_list=[entry])
    )
    assert full.status == "Accepted"
    stale = rig.handle(M.SendLocalListRequest(version_number=3, update_type="Differential"))
    assert stale.status == "VersionMismatch"
    assert rig.handle(M.GetLocalListVersionRequest()).version_number == 3
    rig.do("connection_closed")
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "L1")
    assert rig.core.transaction(1) is not None
    removal = M.SendLocalListRequest(
        version_number=4,
        update_type="Differential",
        local_authorization_list=[
            D.AuthorizationData(id_token=D.IdTokenType(id_token="L1", type="ISO14443"))
        ],
    )
    assert rig.handle(removal).status == "Accepted"
    assert rig.core.local_list.entries == {}


def test_d02_fr_03_version_is_0_while_the_list_is_disabled() -> None:
    rig = make_rig()
    entry = D.AuthorizationData(
        id_token=D.IdTokenType(id_token="L1", type="ISO14443"),
        id_token_info=D.IdTokenInfoType(status="Accepted"),
    )
    full = M.SendLocalListRequest(version_number=5, update_type="Full", local_authorization_list=[entry])
    assert rig.handle(full).status == "Accepted"
    assert set_var(rig, "LocalAuthListCtrlr", "Enabled", "false") == "Accepted"
    assert rig.handle(M.GetLocalListVersionRequest()).version_number == 0
    assert set_var(rig, "LocalAuthListCtrlr", "Enabled", "true") == "Accepted"
    assert rig.handle(M.GetLocalListVersionRequest()).version_number == 5  # the list was kept


def test_ocpp16_local_list_full_then_stale_differential_and_version() -> None:
    rig = rig16()
    entry = D16.AuthorizationData(id_tag="L1", id_tag_info=D16.IdTagInfo(status="Accepted"))
    full = M16.SendLocalListRequest(list_version=2, update_type="Full", local_authorization_list=[entry])
    assert rig.handle(full).status == "Accepted"
    assert (
        rig.handle(M16.SendLocalListRequest(list_version=2, update_type="Differential")).status
        == "VersionMismatch"
    )
    assert rig.handle(M16.GetLocalListVersionRequest()).list_version == 2
