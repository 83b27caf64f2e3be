"""Network connection profiles on the station (B09, B10): storing profiles in slots, the priority order and
the URL of each connection attempt, with the fallback to the last good slot."""

from __future__ import annotations

from chargeplane.ocpp.messages import v201
from tests.station.core.helpers import M, make_rig, set_var
from tests.station.core.pki import issue

D = v201.datatypes
FACTORY = "ws://127.0.0.1:9000/ocpp"
NEW = "ws://127.0.0.1:9001/ocpp"


def profile(
    url: str = NEW, security_profile: int = 1, version: str = "OCPP20"
) -> D.NetworkConnectionProfileType:
    return D.NetworkConnectionProfileType(
        ocpp_version=version,
        ocpp_transport="JSON",
        ocpp_csms_url=url,
        message_timeout=30,
        security_profile=security_profile,
        ocpp_interface="Wired0",
    )


def set_profile(rig: object, slot: int, data: D.NetworkConnectionProfileType) -> str:
    answer = rig.handle(M.SetNetworkProfileRequest(configuration_slot=slot, connection_data=data))  # type: ignore[attr-defined]
    return str(answer.status)


def test_B09_FR_01_05_a_profile_is_stored_in_an_existing_slot_only() -> None:
    rig = make_rig()
    assert set_profile(rig, 1, profile()) == "Accepted"
    assert set_profile(rig, 9, profile()) == "Rejected"  # B09.FR.05: not in the valuesList


def test_B09_FR_02_04_invalid_content_is_rejected() -> None:
    rig = make_rig()
    assert set_profile(rig, 1, profile(version="OCPP16")) == "Rejected"  # not this station's protocol
    assert set_profile(rig, 1, profile(url="wss://127.0.0.1:9001/ocpp", security_profile=1)) == "Rejected"
    assert set_profile(rig, 1, profile(url="http://127.0.0.1:9001/ocpp")) == "Rejected"
    assert (
        set_profile(rig, 1, profile(security_profile=0, url=NEW)) == "Rejected"
    )  # B09.FR.04: below profile 1


def test_B10_FR_02_the_priority_names_only_slots_that_hold_a_profile() -> None:
    rig = make_rig()
    assert set_var(rig, "OCPPCommCtrlr", "NetworkConfigurationPriority", "1,0") == "Rejected"
    assert set_profile(rig, 1, profile()) == "Accepted"
    assert set_var(rig, "OCPPCommCtrlr", "NetworkConfigurationPriority", "1,0") == "RebootRequired"


def test_B10_FR_03_07_each_slot_its_attempts_then_back_to_the_last_good_one() -> None:
    rig = make_rig()  # connected through the factory slot: the last good one
    set_profile(rig, 1, profile())
    set_profile(rig, 2, profile(url="ws://127.0.0.1:9002/ocpp"))
    set_var(rig, "OCPPCommCtrlr", "NetworkConfigurationPriority", "1,2")
    set_var(rig, "OCPPCommCtrlr", "NetworkProfileConnectionAttempts", "2")
    urls = [rig.core.next_url(FACTORY) for _ in range(7)]
    assert urls == [
        NEW,
        NEW,
        "ws://127.0.0.1:9002/ocpp",
        "ws://127.0.0.1:9002/ocpp",
        FACTORY,
        FACTORY,
        FACTORY,
    ]


def test_B10_a_successful_connection_starts_the_count_over_on_its_slot() -> None:
    rig = make_rig()
    set_profile(rig, 1, profile())
    set_var(rig, "OCPPCommCtrlr", "NetworkConfigurationPriority", "1,0")
    set_var(rig, "OCPPCommCtrlr", "NetworkProfileConnectionAttempts", "1")
    assert rig.core.next_url(FACTORY) == NEW
    rig.do("connection_closed")
    rig.do("connection_opened")  # connected to slot 1
    assert rig.core.next_url(FACTORY) == NEW  # a later loss: slot 1 again first


def test_profiles_survive_a_reboot() -> None:
    rig = make_rig()
    set_profile(rig, 1, profile())
    set_var(rig, "OCPPCommCtrlr", "NetworkConfigurationPriority", "1,0")
    again = make_rig(storage=rig.storage)
    assert again.core.next_url(FACTORY) == NEW


TLS = "wss://127.0.0.1:9443/ocpp"


def _csms_root_pem() -> str:
    return issue("CSMS root").pem


def test_TC_A_20_A05_FR_02_no_upgrade_to_tls_without_a_csms_root() -> None:
    rig = make_rig()
    assert set_profile(rig, 1, profile(url=TLS, security_profile=2)) == "Accepted"
    response = rig.handle(
        M.SetVariablesRequest(
            set_variable_data=[
                D.SetVariableDataType(
                    attribute_value="1,0",
                    component=D.ComponentType(name="OCPPCommCtrlr"),
                    variable=D.VariableType(name="NetworkConfigurationPriority"),
                )
            ]
        )
    )
    [result] = response.set_variable_result
    assert result.attribute_status == "Rejected"
    assert result.attribute_status_info.reason_code == "NoCsmsRoot"
    rig.handle(
        M.InstallCertificateRequest(certificate_type="CSMSRootCertificate", certificate=_csms_root_pem())
    )
    assert (
        set_var(rig, "OCPPCommCtrlr", "NetworkConfigurationPriority", "1,0") == "RebootRequired"
    )  # A05.FR.04


def test_TC_A_21_A05_FR_03_no_upgrade_to_profile_3_without_a_station_certificate() -> None:
    rig = make_rig()
    rig.handle(
        M.InstallCertificateRequest(certificate_type="CSMSRootCertificate", certificate=_csms_root_pem())
    )
    assert set_profile(rig, 1, profile(url=TLS, security_profile=3)) == "Accepted"
    assert set_var(rig, "OCPPCommCtrlr", "NetworkConfigurationPriority", "1,0") == "Rejected"
    assert set_profile(rig, 2, profile(url=TLS, security_profile=2)) == "Accepted"
    assert set_var(rig, "OCPPCommCtrlr", "NetworkConfigurationPriority", "2,0") == "RebootRequired"


def test_TC_A_19_A05_FR_05_06_connected_on_the_higher_profile_the_lower_slots_go() -> None:
    rig = make_rig()
    rig.handle(
        M.InstallCertificateRequest(certificate_type="CSMSRootCertificate", certificate=_csms_root_pem())
    )
    set_profile(rig, 1, profile(url=TLS, security_profile=2))
    set_var(rig, "OCPPCommCtrlr", "NetworkConfigurationPriority", "1,0")
    rig.do("connection_closed")
    assert rig.core.next_url(FACTORY) == TLS  # A05.FR.05: the first entry
    rig.do("connection_opened")
    model = rig.core.model
    assert model.value("SecurityCtrlr", "SecurityProfile") == "2"  # A05.FR.06
    assert model.value("OCPPCommCtrlr", "NetworkConfigurationPriority") == "1"
    # B09.FR.04 from now on: no way back to profile 1
    assert set_profile(rig, 2, profile(url=NEW, security_profile=1)) == "Rejected"
    rig.do("connection_closed")
    assert rig.core.next_url(FACTORY) == TLS
