"""Secrets hidden from the message trace and the command log (chargeplane.ocpp.redaction)."""

from __future__ import annotations

from chargeplane.ocpp.redaction import HIDDEN, redact


def test_basic_auth_password_in_set_variables_is_hidden() -> None:
    payload = {
        "setVariableData": [
            {
                "attributeValue": "s3cret-password-1234",
                "component": {"name": "SecurityCtrlr"},
                "variable": {"name": "BasicAuthPassword"},
            },
            {
                "attributeValue": "300",
                "component": {"name": "OCPPCommCtrlr"},
                "variable": {"name": "HeartbeatInterval"},
            },
        ]
    }
    hidden = redact(payload)
    assert hidden["setVariableData"][0]["attributeValue"] == HIDDEN
    assert hidden["setVariableData"][0]["variable"] == {"name": "BasicAuthPassword"}  # what it was stays
    assert hidden["setVariableData"][1]["attributeValue"] == "300"
    assert (
        payload["setVariableData"][0]["attributeValue"] == "s3cret-password-1234"
    )  # the input is not changed


def test_authorization_key_of_16_is_hidden_both_ways() -> None:
    assert redact({"key": "AuthorizationKey", "value": "0123456789abcdef"}) == {
        "key": "AuthorizationKey",
        "value": HIDDEN,
    }
    answer = {"configurationKey": [{"key": "AuthorizationKey", "readonly": False, "value": "x" * 16}]}
    assert redact(answer)["configurationKey"][0]["value"] == HIDDEN
    assert redact({"key": "HeartbeatInterval", "value": "300"}) == {
        "key": "HeartbeatInterval",
        "value": "300",
    }


def test_password_fields_and_nested_report_values_are_hidden() -> None:
    profile = {
        "connectionData": {"apn": {"apn": "internet", "apnPassword": "pw"}, "basicAuthPassword": "pw2"}
    }
    hidden = redact(profile)
    assert hidden["connectionData"]["apn"] == {"apn": "internet", "apnPassword": HIDDEN}
    assert hidden["connectionData"]["basicAuthPassword"] == HIDDEN
    report = {
        "reportData": [
            {
                "component": {"name": "SecurityCtrlr"},
                "variable": {"name": "BasicAuthPassword"},
                "variableAttribute": [{"type": "Actual", "value": "pw3"}],
            }
        ]
    }
    assert redact(report)["reportData"][0]["variableAttribute"] == [{"type": "Actual", "value": HIDDEN}]


def test_private_key_blocks_are_cut_out_of_pem_text() -> None:
    pem = (
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
        "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----\n"
    )
    hidden = redact({"certificateChain": pem})["certificateChain"]
    assert "MIIB" in hidden
    assert "MHcCAQEE" not in hidden
    assert HIDDEN in hidden
    assert redact({"certificate": "-----BEGIN CERTIFICATE-----\nMIIB"}) == {
        "certificate": "-----BEGIN CERTIFICATE-----\nMIIB"
    }
