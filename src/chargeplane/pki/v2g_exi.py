"""ISO 15118-2 EXI for Plug & Charge certificate installation: CertificateInstallationReq / Res in a V2G_Message
(namespace ``urn:iso:15118:2:2013:MsgDef``) and the xmldsig ``SignedInfo`` fragment a signature covers.

The codec is EXIficient, the ``EXICodec.jar`` shipped in the ``iso15118`` package (installed with ``--no-deps``:
only the jar is used, none of its Python). It runs in one JVM per process, driven through py4j, started on the
first use and shut down at exit; it encodes from and decodes to JSON, which this module maps to typed values.
A malformed stream, an unexpected message or a JSON shape we do not know is an :class:`ExiError`.
"""

from __future__ import annotations

import atexit
import base64
import binascii
import importlib.util
import json
import logging
import shutil
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)

MSG_DEF = "urn:iso:15118:2:2013:MsgDef"
XMLDSIG = "http://www.w3.org/2000/09/xmldsig#"
CANONICAL_EXI = "http://www.w3.org/TR/canonical-exi/"  # canonicalization and transform of every reference
ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"

Json = dict[str, object]


class ExiError(Exception):
    """Not an ISO 15118-2 stream this module understands (or the codec is not there)."""


class CodecUnavailable(ExiError):
    """The codec cannot run here (no java, jar or py4j): no fault of the stream."""


# -- the messages -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reference:
    """One signed element: ``#Id`` and the SHA-256 of its EXI fragment."""

    uri: str
    digest: bytes
    transform: str = CANONICAL_EXI
    digest_method: str = SHA256


@dataclass(frozen=True, slots=True)
class SignedInfo:
    references: tuple[Reference, ...]
    canonicalization: str = CANONICAL_EXI
    method: str = ECDSA_SHA256


@dataclass(frozen=True, slots=True)
class Signature:
    """The header's xmldsig Signature: what is signed, and the raw ECDSA value (r || s, 32 bytes each)."""

    signed_info: SignedInfo
    value: bytes


@dataclass(frozen=True, slots=True)
class RootCertificateId:
    """An X509IssuerSerial of ListOfRootCertificateIDs: a V2G root the EV trusts."""

    issuer_name: str
    serial_number: int


@dataclass(frozen=True, slots=True)
class CertificateInstallationReq:
    id: str
    oem_provisioning_cert: bytes  # DER
    root_certificate_ids: tuple[RootCertificateId, ...]


@dataclass(frozen=True, slots=True)
class CertificateChain:
    """A certificate (DER) and up to two sub-CA certificates, leaf first; ``id`` when it is signed."""

    certificate: bytes
    sub_certificates: tuple[bytes, ...] = ()
    id: str | None = None


@dataclass(frozen=True, slots=True)
class CertificateInstallationRes:
    response_code: str
    sa_provisioning_chain: CertificateChain
    contract_chain: CertificateChain  # its id is set: a signed element
    encrypted_private_key: bytes  # IV (16 bytes) then the AES-128-CBC ciphertext of the contract key
    dh_public_key: bytes  # the MO's ephemeral ECDH key, uncompressed point (65 bytes)
    emaid: str
    encrypted_private_key_id: str = "id2"
    dh_public_key_id: str = "id3"
    emaid_id: str = "id4"


Body = CertificateInstallationReq | CertificateInstallationRes


@dataclass(frozen=True, slots=True)
class V2gMessage:
    session_id: str  # hex, up to 8 bytes
    body: Body
    signature: Signature | None = None


# -- the codec ----------------------------------------------------------------------------------------------


class _JavaCodec(Protocol):
    def encode(self, document: str, namespace: str) -> bytes | None: ...
    def decode(self, exi: bytes, namespace: str) -> str | None: ...
    def get_last_encoding_error(self) -> str: ...
    def get_last_decoding_error(self) -> str: ...


def jar_path() -> Path | None:
    """Where ``iso15118``'s EXICodec.jar is (found without importing the package), or None."""
    spec = importlib.util.find_spec("iso15118")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        jar = Path(location) / "shared" / "EXICodec.jar"
        if jar.is_file():
            return jar
    return None


def unavailable() -> str | None:
    """Why the codec cannot run here (no java, no jar, no py4j), or None when it can."""
    if shutil.which("java") is None:
        return "no java on the PATH (the EXI codec is a Java library)"
    if jar_path() is None:
        return "no EXICodec.jar: pip install --no-deps iso15118==0.31.2"
    if importlib.util.find_spec("py4j") is None:
        return "py4j is not installed"
    return None


class _Jvm:
    """One JVM running EXIficient for the whole process: started by the first call, stopped at exit."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._gateway: object | None = None
        self._codec: _JavaCodec | None = None

    def codec(self) -> _JavaCodec:
        with self._lock:
            if self._codec is None:
                self._codec = self._start()
            return self._codec

    def _start(self) -> _JavaCodec:
        reason = unavailable()
        if reason is not None:
            raise CodecUnavailable(f"the EXI codec cannot run: {reason}")
        from py4j.java_gateway import JavaGateway  # type: ignore[import-untyped]

        logging.getLogger("py4j").setLevel(logging.WARNING)
        gateway = JavaGateway.launch_gateway(
            classpath=str(jar_path()),
            die_on_exit=True,
            javaopts=["--add-opens", "java.base/java.lang=ALL-UNNAMED"],
        )
        self._gateway = gateway
        atexit.register(self.close)
        codec: _JavaCodec = gateway.jvm.com.siemens.ct.exi.main.cmd.EXICodec()
        log.info("EXI codec started (EXIficient in a JVM)")
        return codec

    def close(self) -> None:
        with self._lock:
            gateway, self._gateway, self._codec = self._gateway, None, None
        if gateway is not None:
            gateway.shutdown()  # type: ignore[attr-defined]

    def encode(self, document: Json, namespace: str) -> bytes:
        codec = self.codec()
        from py4j.protocol import Py4JError  # type: ignore[import-untyped]

        with self._lock:  # the codec keeps its last error: one call at a time
            try:
                exi = codec.encode(json.dumps(document), namespace)
                error = codec.get_last_encoding_error() if exi is None else ""
            except Py4JError as failure:
                raise ExiError(f"EXI encoding failed: {failure}") from None
        if exi is None:
            raise ExiError(f"EXI encoding failed: {error}")
        return bytes(exi)

    def decode(self, exi: bytes, namespace: str) -> Json:
        codec = self.codec()
        from py4j.protocol import Py4JError

        with self._lock:
            try:
                text = codec.decode(exi, namespace)
                error = codec.get_last_decoding_error() if text is None else ""
            except Py4JError as failure:
                raise ExiError(f"not EXI of {namespace}: {failure}") from None
        if text is None:
            raise ExiError(f"not EXI of {namespace}: {error}")
        try:
            document = json.loads(text)
        except ValueError:
            raise ExiError("the EXI codec gave no JSON") from None
        if not isinstance(document, dict):
            raise ExiError("the EXI codec gave no JSON object")
        return document


_JVM = _Jvm()


def start() -> None:
    """Start the codec now (the first call takes seconds): keeps the JVM's start out of a time-critical path."""
    _JVM.codec()


# -- mapping to and from the codec's JSON -------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _obj(parent: Mapping[str, object], key: str) -> Mapping[str, object]:
    value = parent.get(key)
    if not isinstance(value, dict):
        raise ExiError(f"{key}: missing or not an element")
    return value


def _text(parent: Mapping[str, object], key: str) -> str:
    value = parent.get(key)
    if not isinstance(value, str):
        raise ExiError(f"{key}: missing or not a string")
    return value


def _bytes(parent: Mapping[str, object], key: str) -> bytes:
    try:
        return base64.b64decode(_text(parent, key), validate=True)
    except binascii.Error:
        raise ExiError(f"{key}: not base64") from None


def _list(parent: Mapping[str, object], key: str) -> Sequence[object]:
    value = parent.get(key, [])
    if isinstance(value, list):
        return value
    return [value]


def _chain_json(chain: CertificateChain) -> Json:
    document: Json = {} if chain.id is None else {"Id": chain.id}
    document["Certificate"] = _b64(chain.certificate)
    if chain.sub_certificates:
        document["SubCertificates"] = {"Certificate": [_b64(c) for c in chain.sub_certificates]}
    return document


def _chain(document: Mapping[str, object]) -> CertificateChain:
    subs = document.get("SubCertificates")
    sub_certificates: list[bytes] = []
    if isinstance(subs, dict):
        for item in _list(subs, "Certificate"):
            sub_certificates.append(_bytes({"Certificate": item}, "Certificate"))
    identifier = document.get("Id")
    return CertificateChain(
        _bytes(document, "Certificate"),
        tuple(sub_certificates),
        identifier if isinstance(identifier, str) else None,
    )


def _request_json(request: CertificateInstallationReq) -> Json:
    ids = [
        {"X509IssuerName": r.issuer_name, "X509SerialNumber": r.serial_number}
        for r in request.root_certificate_ids
    ]
    return {
        "Id": request.id,
        "OEMProvisioningCert": _b64(request.oem_provisioning_cert),
        "ListOfRootCertificateIDs": {"RootCertificateID": ids},
    }


def _request(document: Mapping[str, object]) -> CertificateInstallationReq:
    roots: list[RootCertificateId] = []
    for item in _list(_obj(document, "ListOfRootCertificateIDs"), "RootCertificateID"):
        if not isinstance(item, dict) or not isinstance(item.get("X509SerialNumber"), int):
            raise ExiError("RootCertificateID: not an X509IssuerSerial")
        roots.append(RootCertificateId(_text(item, "X509IssuerName"), item["X509SerialNumber"]))
    return CertificateInstallationReq(
        _text(document, "Id"), _bytes(document, "OEMProvisioningCert"), tuple(roots)
    )


def _signed_parts(response: CertificateInstallationRes) -> dict[str, Json]:
    """The four elements of a CertificateInstallationRes the SA provisioning key signs, by element name."""
    if response.contract_chain.id is None:
        raise ExiError("ContractSignatureCertChain needs an Id: it is signed")
    return {
        "ContractSignatureCertChain": _chain_json(response.contract_chain),
        "ContractSignatureEncryptedPrivateKey": {
            "Id": response.encrypted_private_key_id,
            "value": _b64(response.encrypted_private_key),
        },
        "DHpublickey": {"Id": response.dh_public_key_id, "value": _b64(response.dh_public_key)},
        "eMAID": {"Id": response.emaid_id, "value": response.emaid},
    }


def _response_json(response: CertificateInstallationRes) -> Json:
    return {
        "ResponseCode": response.response_code,
        "SAProvisioningCertificateChain": _chain_json(response.sa_provisioning_chain),
        **_signed_parts(response),
    }


def _response(document: Mapping[str, object]) -> CertificateInstallationRes:
    contract = _chain(_obj(document, "ContractSignatureCertChain"))
    if contract.id is None:
        raise ExiError("ContractSignatureCertChain: no Id")
    key = _obj(document, "ContractSignatureEncryptedPrivateKey")
    dh = _obj(document, "DHpublickey")
    emaid = _obj(document, "eMAID")
    return CertificateInstallationRes(
        _text(document, "ResponseCode"),
        _chain(_obj(document, "SAProvisioningCertificateChain")),
        contract,
        _bytes(key, "value"),
        _bytes(dh, "value"),
        _text(emaid, "value"),
        _text(key, "Id"),
        _text(dh, "Id"),
        _text(emaid, "Id"),
    )


def _signed_info_json(info: SignedInfo) -> Json:
    references = [
        {
            "URI": r.uri,
            "Transforms": {"Transform": [{"Algorithm": r.transform}]},
            "DigestMethod": {"Algorithm": r.digest_method},
            "DigestValue": _b64(r.digest),
        }
        for r in info.references
    ]
    return {
        "CanonicalizationMethod": {"Algorithm": info.canonicalization},
        "SignatureMethod": {"Algorithm": info.method},
        "Reference": references,
    }


def _signed_info(document: Mapping[str, object]) -> SignedInfo:
    references: list[Reference] = []
    for item in _list(document, "Reference"):
        if not isinstance(item, dict):
            raise ExiError("Reference: not an element")
        transforms = _list(_obj(item, "Transforms"), "Transform")
        if len(transforms) != 1 or not isinstance(transforms[0], dict):
            raise ExiError("Reference: not one Transform")
        references.append(
            Reference(
                _text(item, "URI"),
                _bytes(item, "DigestValue"),
                _text(transforms[0], "Algorithm"),
                _text(_obj(item, "DigestMethod"), "Algorithm"),
            )
        )
    return SignedInfo(
        tuple(references),
        _text(_obj(document, "CanonicalizationMethod"), "Algorithm"),
        _text(_obj(document, "SignatureMethod"), "Algorithm"),
    )


# -- the public functions -----------------------------------------------------------------------------------


def encode_message(message: V2gMessage) -> bytes:
    """The EXI stream of a whole V2G_Message (header and body)."""
    header: Json = {"SessionID": message.session_id}
    if message.signature is not None:
        header["Signature"] = {
            "SignedInfo": _signed_info_json(message.signature.signed_info),
            "SignatureValue": {"value": _b64(message.signature.value)},
        }
    body = message.body
    if isinstance(body, CertificateInstallationReq):
        content = {"CertificateInstallationReq": _request_json(body)}
    else:
        content = {"CertificateInstallationRes": _response_json(body)}
    return _JVM.encode({"V2G_Message": {"Header": header, "Body": content}}, MSG_DEF)


def decode_message(exi: bytes) -> V2gMessage:
    """The V2G_Message of an EXI stream holding a CertificateInstallationReq or Res."""
    message = _obj(_JVM.decode(exi, MSG_DEF), "V2G_Message")
    header, content = _obj(message, "Header"), _obj(message, "Body")
    signature = None
    if "Signature" in header:
        signed = _obj(header, "Signature")
        signature = Signature(
            _signed_info(_obj(signed, "SignedInfo")), _bytes(_obj(signed, "SignatureValue"), "value")
        )
    body: Body
    if "CertificateInstallationReq" in content:
        body = _request(_obj(content, "CertificateInstallationReq"))
    elif "CertificateInstallationRes" in content:
        body = _response(_obj(content, "CertificateInstallationRes"))
    else:
        raise ExiError(f"not a certificate installation message: {', '.join(content) or 'empty body'}")
    return V2gMessage(_text(header, "SessionID"), body, signature)


def signed_elements(body: Body) -> list[tuple[str, bytes]]:
    """The (Id, EXI fragment) of each element of ``body`` a signature covers: the request itself; the
    response's contract chain, encrypted key, DH public key and eMAID."""
    if isinstance(body, CertificateInstallationReq):
        return [(body.id, _JVM.encode({"CertificateInstallationReq": _request_json(body)}, MSG_DEF))]
    elements = []
    for name, part in _signed_parts(body).items():
        identifier = part["Id"]
        assert isinstance(identifier, str)
        elements.append((identifier, _JVM.encode({name: part}, MSG_DEF)))
    return elements


def encode_signed_info(info: SignedInfo) -> bytes:
    """The EXI fragment of ``SignedInfo`` (xmldsig namespace): what the SignatureValue signs."""
    return _JVM.encode({"SignedInfo": _signed_info_json(info)}, XMLDSIG)
