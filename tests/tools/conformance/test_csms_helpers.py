"""The data the csms-side tool makes up: signed meter values (TC_E_11, J_04, J_11) and certificate hash data
(block M) must be what a CSMS that does read them would accept."""

from __future__ import annotations

import base64
import io
import json

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp

from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.tools.conformance.adapter import InteractiveAdapter, SendCommand
from chargeplane.tools.conformance.cases.csms.m_certificates import hash_data, self_signed
from chargeplane.tools.conformance.messages import signed_meter_value
from tests.tools.conformance.conftest import Operator


def test_the_signed_meter_value_is_an_ocmf_container_its_public_key_verifies() -> None:
    value = signed_meter_value(1234.0, "2026-01-01T00:00:00Z", en.ReadingContextEnumType.TRANSACTION_END)
    assert value.encoding_method == "OCMF"
    assert value.signing_method == ""  # in the container
    marker, payload, signature = base64.b64decode(value.signed_meter_data).decode().split("|")
    assert marker == "OCMF"
    assert json.loads(payload)["RD"][0]["RV"] == 1.234
    printed = base64.b64decode(value.public_key).decode()
    assert printed.startswith("oca:base64:asn1:")
    key = serialization.load_der_public_key(base64.b64decode(printed.removeprefix("oca:base64:asn1:")))
    assert isinstance(key, ec.EllipticCurvePublicKey)
    der = bytes.fromhex(json.loads(signature)["SD"])
    key.verify(der, payload.encode(), ec.ECDSA(hashes.SHA256()))  # raises when it does not verify


def test_certificate_hash_data_are_those_of_an_ocsp_request() -> None:
    certificate = x509.load_pem_x509_certificate(self_signed("hash data test").encode())
    for algorithm, hash_type in (
        (en.HashAlgorithmEnumType.SHA256, hashes.SHA256()),
        (en.HashAlgorithmEnumType.SHA384, hashes.SHA384()),
        (en.HashAlgorithmEnumType.SHA512, hashes.SHA512()),
    ):
        request = ocsp.OCSPRequestBuilder().add_certificate(certificate, certificate, hash_type).build()
        data = hash_data(self_signed("hash data test"), algorithm)
        assert data.issuer_name_hash == request.issuer_name_hash.hex()
        assert data.issuer_key_hash == request.issuer_key_hash.hex()
        assert int(data.serial_number, 16) == request.serial_number


async def test_an_operator_is_told_any_command_by_name() -> None:
    out = io.StringIO()
    adapter = InteractiveAdapter(ask=Operator(), out=out)
    await adapter.perform("CS1", SendCommand("ClearCache", what="clear the authorization cache"))
    assert "send ClearCache (clear the authorization cache) to CS1" in out.getvalue()
    await adapter.perform("CS1", SendCommand("InstallCertificate", {"certificate": "-----BEGIN"}))
    assert '{"certificate": "-----BEGIN"}' in out.getvalue()  # the operator needs what to send
