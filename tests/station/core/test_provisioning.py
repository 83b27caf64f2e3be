"""Provisioning (B05-B07) and the 1.6 configuration keys (1.6 §9, §5.3, §5.8)."""

from __future__ import annotations

import msgspec

from chargeplane.station.core import config16
from chargeplane.station.core.config16 import ChangeStatus16
from chargeplane.station.core.device_model import DeviceModel, StationLayout, VariableKey
from chargeplane.station.core.station import standard_variables
from chargeplane.station.core.storage import MemoryStorage
from tests.station.core.helpers import M16, D, M, make_rig, rig16, set_var


def _get(rig, component, variable, attribute=None, evse=None, instance=None):  # type: ignore[no-untyped-def]
    comp = (
        D.ComponentType(name=component, evse=D.EVSEType(id=evse)) if evse else D.ComponentType(name=component)
    )
    var = D.VariableType(name=variable, instance=instance) if instance else D.VariableType(name=variable)
    data = (
        D.GetVariableDataType(component=comp, variable=var, attribute_type=attribute)
        if attribute
        else D.GetVariableDataType(component=comp, variable=var)
    )
    return rig.handle(M.GetVariablesRequest(get_variable_data=[data])).get_variable_result[0]


def test_b06_get_variables_statuses_and_b06_fr_09_write_only_rejected() -> None:
    rig = make_rig()
    ok = _get(rig, "TxCtrlr", "TxStartPoint")
    assert (ok.attribute_status, ok.attribute_value, ok.attribute_type) == (
        "Accepted",
        "PowerPathClosed",
        "Actual",
    )
    assert _get(rig, "NoSuchCtrlr", "X").attribute_status == "UnknownComponent"
    assert _get(rig, "TxCtrlr", "NoSuchVariable").attribute_status == "UnknownVariable"
    unsupported = _get(rig, "TxCtrlr", "TxStartPoint", attribute="Target")
    assert unsupported.attribute_status == "NotSupportedAttributeType"
    assert "attribute_value" not in {f for f in unsupported.__struct_fields__ if getattr(unsupported, f)}
    assert _get(rig, "SecurityCtrlr", "BasicAuthPassword").attribute_status == "Rejected"  # WriteOnly
    assert _get(rig, "EVSE", "Power", attribute="MaxSet", evse=1).attribute_status == "Accepted"
    assert _get(rig, "EVSE", "Power", evse=7).attribute_status == "UnknownComponent"
    assert _get(rig, "DeviceDataCtrlr", "ItemsPerMessage", instance="GetReport").attribute_value == "50"


def test_b05_fr_04_to_10_set_variables_statuses_and_persistence() -> None:
    rig = make_rig()
    assert set_var(rig, "OCPPCommCtrlr", "HeartbeatInterval", "60") == "Accepted"
    assert set_var(rig, "OCPPCommCtrlr", "HeartbeatInterval", "sixty") == "Rejected"  # bad format
    assert set_var(rig, "OCPPCommCtrlr", "HeartbeatInterval", "0") == "Rejected"  # below minLimit
    assert set_var(rig, "SecurityCtrlr", "CertificateEntries", "3") == "Rejected"  # ReadOnly
    assert set_var(rig, "TxCtrlr", "TxStartPoint", "EVConnected,Authorized") == "Accepted"
    assert set_var(rig, "TxCtrlr", "TxStartPoint", "Sunshine") == "Rejected"  # not in valuesList
    assert set_var(rig, "OCPPCommCtrlr", "NetworkConfigurationPriority", "0") == "RebootRequired"  # B10.FR.04
    assert set_var(rig, "Nope", "X", "1") == "UnknownComponent"
    assert set_var(rig, "TxCtrlr", "Nope", "1") == "UnknownVariable"
    # every writable configuration variable is persistent: a new model on the same storage sees it
    again = DeviceModel(standard_variables(StationLayout()), rig.storage)
    assert again.value("TxCtrlr", "TxStartPoint") == "EVConnected,Authorized"
    assert again.value("OCPPCommCtrlr", "HeartbeatInterval") == "60"


def test_part2_names_and_mutability_of_required_variables() -> None:
    # TC_B_07/B_10_CS read AuthCtrlr.LocalAuthorizationOffline; TC_B_39_CS expects MessageTimeout read-only
    rig = make_rig()
    assert _get(rig, "AuthCtrlr", "LocalAuthorizationOffline").attribute_value == "true"
    assert set_var(rig, "AuthCtrlr", "LocalAuthorizationOffline", "false") == "Accepted"
    assert set_var(rig, "OCPPCommCtrlr", "MessageTimeout", "10", instance="Default") == "Rejected"
    assert _get(rig, "OCPPCommCtrlr", "MessageTimeout", instance="Default").attribute_value == "30"


def test_every_list_variable_reports_its_values_list() -> None:
    # TC_B_12/B_13_CS: a variable of a list type without valuesList fails the base report checks
    lists = [d for d in standard_variables(StationLayout()) if d.data_type.endswith("List")]
    assert lists
    assert [d.key for d in lists if not d.values_list] == []


def test_b05_fr_01_to_03_one_result_per_item_echoing_attribute_type() -> None:
    rig = make_rig()
    response = rig.handle(
        M.SetVariablesRequest(
            set_variable_data=[
                D.SetVariableDataType(
                    attribute_value="10",
                    attribute_type=attribute,
                    component=D.ComponentType(name="AuthCacheCtrlr"),
                    variable=D.VariableType(name="LifeTime"),
                )
                for attribute in ("Actual", "Target")
            ]
        )
    )
    assert [(r.attribute_type, r.attribute_status) for r in response.set_variable_result] == [
        ("Actual", "Accepted"),
        ("Target", "NotSupportedAttributeType"),
    ]


def test_b07_fr_04_base_report_split_by_items_per_message() -> None:
    rig = make_rig()
    rig.core.model.put(
        VariableKey("DeviceDataCtrlr", "ItemsPerMessage", None, "GetReport"),
        "20",
    )
    rig.clear()
    response = rig.handle(M.GetBaseReportRequest(request_id=7, report_base="FullInventory"))
    assert response.status == "Accepted"
    parts = rig.of(M.NotifyReportRequest)
    total = len(rig.core.model.definitions)
    assert len(parts) == -(-total // 20)
    assert [p.seq_no for p in parts] == list(range(len(parts)))
    assert all(p.tbc is True for p in parts[:-1])
    assert parts[-1].tbc is not True
    assert all(p.request_id == 7 for p in parts)
    assert sum(len(p.report_data) for p in parts) == total
    names = {(r.component.name, r.variable.name) for p in parts for r in p.report_data}
    for required in [
        ("OCPPCommCtrlr", "OfflineThreshold"),
        ("TxCtrlr", "TxStopPoint"),
        ("ClockCtrlr", "DateTime"),
    ]:
        assert required in names
    password = next(r for p in parts for r in p.report_data if r.variable.name == "BasicAuthPassword")
    assert not isinstance(password.variable_attribute[0].value, str)  # WriteOnly: no value


def test_b07_configuration_and_summary_inventory() -> None:
    rig = make_rig()
    rig.clear()
    rig.handle(M.GetBaseReportRequest(request_id=1, report_base="ConfigurationInventory"))
    config = [r for p in rig.of(M.NotifyReportRequest) for r in p.report_data]
    assert all(r.variable_attribute[0].mutability != "ReadOnly" for r in config)
    rig.clear()
    rig.handle(M.GetBaseReportRequest(request_id=2, report_base="SummaryInventory"))
    summary = [r for p in rig.of(M.NotifyReportRequest) for r in p.report_data]
    assert {r.variable.name for r in summary} <= {"AvailabilityState", "Available", "Problem"}


def test_ocpp16_get_configuration_known_and_unknown_keys() -> None:
    model = DeviceModel(
        standard_variables(StationLayout()) + config16.ocpp16_variables(StationLayout()), MemoryStorage()
    )
    known, unknown = config16.get_configuration(model, ["HeartbeatInterval", "NumberOfConnectors", "Bogus"])
    assert [(k.key, k.readonly, k.value) for k in known] == [
        ("HeartbeatInterval", False, "300"),
        ("NumberOfConnectors", True, "1"),
    ]
    assert unknown == ["Bogus"]
    everything, _ = config16.get_configuration(model, None)
    assert {"MeterValueSampleInterval", "LocalAuthorizeOffline", "SupportedFeatureProfiles"} <= {
        k.key for k in everything
    }


def test_ocpp16_change_configuration_statuses_and_shared_values() -> None:
    model = DeviceModel(
        standard_variables(StationLayout()) + config16.ocpp16_variables(StationLayout()), MemoryStorage()
    )
    assert config16.change_configuration(model, "MeterValueSampleInterval", "15") is ChangeStatus16.ACCEPTED
    assert model.value("SampledDataCtrlr", "TxUpdatedInterval") == "15"  # one value, two names
    assert config16.change_configuration(model, "NumberOfConnectors", "4") is ChangeStatus16.REJECTED
    assert config16.change_configuration(model, "LocalPreAuthorize", "maybe") is ChangeStatus16.REJECTED
    assert config16.change_configuration(model, "LocalPreAuthorize", "TRUE") is ChangeStatus16.ACCEPTED
    assert config16.change_configuration(model, "Bogus", "1") is ChangeStatus16.NOT_SUPPORTED


def test_ocpp16_get_and_change_configuration_through_the_core() -> None:
    rig = rig16()
    response = rig.handle(M16.GetConfigurationRequest(key=["HeartbeatInterval", "Nope"]))
    assert [(k.key, k.value) for k in response.configuration_key] == [("HeartbeatInterval", "300")]
    assert response.unknown_key == ["Nope"]
    assert (
        rig.handle(M16.ChangeConfigurationRequest(key="MeterValueSampleInterval", value="5")).status
        == "Accepted"
    )
    assert (
        rig.handle(M16.ChangeConfigurationRequest(key="NumberOfConnectors", value="5")).status == "Rejected"
    )
    assert rig.handle(M16.ChangeConfigurationRequest(key="Nope", value="5")).status == "NotSupported"
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "TAG1")
    rig.clear()
    rig.advance(5)
    (values,) = rig.of(M16.MeterValuesRequest)
    assert values.transaction_id == 1000
    assert values.meter_value[0].sampled_value[0].context == "Sample.Periodic"


# ---------------------------------------------------------------------- B08 GetReport
def _cv(component: str, variable: str | None = None, *, evse: int | None = None, instance: str | None = None):  # type: ignore[no-untyped-def]
    comp = (
        D.ComponentType(name=component, evse=D.EVSEType(id=evse)) if evse else D.ComponentType(name=component)
    )
    if variable is None:
        return D.ComponentVariableType(component=comp)
    var = D.VariableType(name=variable, instance=instance) if instance else D.VariableType(name=variable)
    return D.ComponentVariableType(component=comp, variable=var)


def _report(rig, **fields):  # type: ignore[no-untyped-def]
    rig.clear()
    response = rig.handle(M.GetReportRequest(request_id=9, **fields))
    items = [r for p in rig.of(M.NotifyReportRequest) for r in p.report_data]
    return response, items


def _names(items):  # type: ignore[no-untyped-def]
    return {
        (r.component.name, r.component.evse.id if r.component.evse else None, r.variable.name) for r in items
    }


def test_b08_fr_11_component_variable_of_one_evse_TC_B_17() -> None:
    rig = make_rig(connectors=(1, 1))
    response, items = _report(rig, component_variable=[_cv("EVSE", "AvailabilityState", evse=1)])
    assert response.status == "Accepted"
    assert _names(items) == {("EVSE", 1, "AvailabilityState")}
    (item,) = items
    assert item.variable_characteristics.data_type == "OptionList"  # B08.FR.12
    assert item.variable_attribute[0].mutability == "ReadOnly"
    parts = rig.of(M.NotifyReportRequest)
    assert [p.seq_no for p in parts] == [0]
    assert parts[0].request_id == 9  # B08.FR.04, B08.FR.14


def test_b08_fr_23_no_evse_reports_every_evse_TC_B_56() -> None:
    rig = make_rig(connectors=(1, 1, 1))
    _, items = _report(rig, component_variable=[_cv("EVSE", "AvailabilityState")])
    assert _names(items) == {("EVSE", n, "AvailabilityState") for n in (1, 2, 3)}


def test_b08_fr_20_21_no_variable_or_no_instance_TC_B_54_TC_B_55() -> None:
    rig = make_rig()
    _, items = _report(rig, component_variable=[_cv("DeviceDataCtrlr", "ItemsPerMessage")])
    assert {r.variable.instance for r in items} == {"GetReport", "GetVariables", "SetVariables"}
    _, items = _report(
        rig, component_variable=[_cv("DeviceDataCtrlr", "ItemsPerMessage", instance="GetReport")]
    )
    assert [(r.variable.name, r.variable.instance) for r in items] == [("ItemsPerMessage", "GetReport")]
    _, items = _report(rig, component_variable=[_cv("DeviceDataCtrlr")])
    assert {r.variable.name for r in items} >= {"ItemsPerMessage", "BytesPerMessage", "Enabled"}


def test_b08_fr_05_15_criteria_with_component_variable_TC_B_18() -> None:
    rig = make_rig()
    selection = [_cv("EVSE", "AvailabilityState", evse=1)]
    response, items = _report(rig, component_criteria=["Available"], component_variable=selection)
    assert response.status == "Accepted"
    assert _names(items) == {("EVSE", 1, "AvailabilityState")}
    response, items = _report(rig, component_criteria=["Problem"], component_variable=selection)
    assert response.status == "EmptyResultSet"
    assert items == []  # B08.FR.15: no report follows
    assert response.status_info.reason_code == "NotFound"


def test_b08_fr_09_13_enabled_criterion_and_or_TC_B_16() -> None:
    rig = make_rig()
    set_var(rig, "AlignedDataCtrlr", "Enabled", "false")
    _, items = _report(rig, component_criteria=["Enabled"])
    components = {r.component.name for r in items}
    assert "AuthCacheCtrlr" in components  # Enabled true
    assert "AlignedDataCtrlr" not in components  # Enabled false
    assert "ClockCtrlr" in components  # no Enabled variable: met (B08.FR.09)
    assert all(r.variable_attribute[0].value == "true" for r in items if r.variable.name == "Enabled")
    # B08.FR.10: Problem is met only when true; OR with Enabled (B08.FR.13) brings no more than Enabled alone
    _, problem = _report(rig, component_criteria=["Problem"])
    assert problem == []
    _, both = _report(rig, component_criteria=["Enabled", "Problem"])
    assert _names(both) == _names(items)


def test_b08_fr_07_08_active_and_available_criteria() -> None:
    rig = make_rig()
    rig.handle(M.ChangeAvailabilityRequest(operational_status="Inoperative", evse=D.EVSEType(id=1)))
    _, items = _report(rig, component_criteria=["Available"], component_variable=[_cv("EVSE")])
    assert items == []  # EVSE 1 not Available
    _, items = _report(rig, component_criteria=["Active"], component_variable=[_cv("EVSE")])
    assert ("EVSE", 1, "AvailabilityState") in _names(items)  # no Active variable: met


def test_b08_fr_17_18_items_and_bytes_per_message_get_report() -> None:
    import pytest

    from chargeplane.ocpp.errors import FormatViolation, OccurrenceConstraintViolation

    rig = make_rig()
    rig.core.model.put(VariableKey("DeviceDataCtrlr", "ItemsPerMessage", None, "GetReport"), "2")
    with pytest.raises(OccurrenceConstraintViolation):
        rig.handle(M.GetReportRequest(request_id=1, component_variable=[_cv("EVSE")] * 3))
    rig.core.model.put(VariableKey("DeviceDataCtrlr", "BytesPerMessage", None, "GetReport"), "60")
    with pytest.raises(FormatViolation):
        rig.handle(M.GetReportRequest(request_id=1, component_variable=[_cv("EVSE", "AvailabilityState")]))


def test_b08_report_parts_split_by_items_and_bytes_per_message() -> None:
    rig = make_rig()
    model = rig.core.model
    model.put(VariableKey("DeviceDataCtrlr", "ItemsPerMessage", None, "GetReport"), "1000")
    model.put(VariableKey("DeviceDataCtrlr", "BytesPerMessage", None, "GetReport"), "2000")
    rig.clear()
    assert rig.handle(M.GetReportRequest(request_id=4, component_criteria=["Enabled"])).status == "Accepted"
    parts = rig.of(M.NotifyReportRequest)
    assert len(parts) > 1
    assert [p.seq_no for p in parts] == list(range(len(parts)))
    assert all(p.tbc is True for p in parts[:-1])
    assert parts[-1].tbc is not True
    for part in parts:
        assert len(msgspec.json.encode(part)) <= 2000
    rig.handle(M.GetBaseReportRequest(request_id=5, report_base="FullInventory"))
    assert all(len(msgspec.json.encode(p)) <= 2000 for p in rig.of(M.NotifyReportRequest))


def test_b08_get_report_on_ocpp21() -> None:
    from datetime import datetime

    from chargeplane.ocpp.messages import v21
    from chargeplane.ocpp.messages.base import Payload
    from chargeplane.ocpp.timestamps import to_wire
    from chargeplane.ocpp.versions import Version

    def answer21(request: Payload, now: datetime) -> Payload | None:
        if isinstance(request, v21.messages.BootNotificationRequest):
            return v21.messages.BootNotificationResponse(
                current_time=to_wire(now), interval=60, status="Accepted"
            )
        if isinstance(request, v21.messages.NotifyReportRequest):
            return v21.messages.NotifyReportResponse()
        return None

    rig = make_rig(version=Version.V21, answer=answer21)
    comp = v21.datatypes.ComponentType(name="EVSE", evse=v21.datatypes.EVSEType(id=1))
    selection = [v21.datatypes.ComponentVariableType(component=comp)]
    rig.clear()
    response = rig.handle(v21.messages.GetReportRequest(request_id=3, component_variable=selection))
    assert response.status == "Accepted"
    parts = [m for m in rig.sent if isinstance(m, v21.messages.NotifyReportRequest)]
    assert {r.component.evse.id for p in parts for r in p.report_data} == {1}
