"""Block A, Security (Part 6 §3.2), CSMS side: Basic authentication, the server's TLS, the password update and
the security profile upgrade.

Readings:
* The runner opens every case with the configured identity and password; the cases here close that link and
  make the connection attempts of their steps themselves. A refused upgrade is any answer but 101 (a 401
  as Part 2 suggests, or another refusal) or a closed connection.
* TC_A_02's user name is the station identity followed by "Invalid" (the table's "<Id> +Invalid").
* TC_A_04 / A_06 / A_19 need the CSMS's wss endpoint: the run's URL when it is wss, else ``tls_url``
  (``--tls-url``), checked against ``ca_file`` (``--ca-file``). Security profile 2 (TLS with Basic auth) is
  the one used (profile 3: TC_A_07 / A_08).
* TC_A_04's TLS checks: version 1.2 or above; of the cipher suites, Part 5 (C-41) asks for both ECDSA ones or
  both RSA ones, so the tool requires one of the two pairs (each tried in a TLS 1.2 handshake of its own);
  key size (EC >= 224 bits, RSA >= 2048; no suite Part 2 allows uses DSA); a serial number; a commonName in the subject. "CN is the FQDN of
  the endpoint" is read as: the certificate is valid for the host the tool connects to (hostname check,
  which accepts a subjectAltName for an IP address), and it has a commonName.
* TC_A_06: when this machine's TLS library cannot offer TLS 1.1 at all, the step fails as a tool limit (it
  says so) rather than pass.
* TC_A_09 / A_10 name the component "SecurityCtrl": read as SecurityCtrlr (Part 2). The new password is the
  one the CSMS sends; the manual action proposes one (a CSMS that makes its own is as good). After a
  successful TC_A_09 the tool puts the configured password back (outside the verdict) for the cases after it.
* TC_A_07: security profile 3 with the declaration's client certificate (``client_certificate_file``,
  ``client_private_key_file``) and no password; step 3's suites are all four (both pairs, as its table says).
* TC_A_08: the invalid client certificates are the ones the tool can make: of a CA the CSMS cannot know, for
  the station's identity, for another commonName, and expired; each upgrade must be refused (in the TLS
  handshake, by an HTTP answer, or by closing the connection).
* TC_A_19 starts from the run's profile (1 for a ws URL, 2 for wss) and raises it by one; the new profile's
  URL is the wss endpoint (the table's <Configured ocppCsmsUrl>), checked as such; the reboot is a Reset of
  any type.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime
import secrets
import ssl
import tempfile
import urllib.parse
import warnings
from collections.abc import AsyncIterator
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.typing import Subprotocol

from chargeplane.ocpp.messages.v201 import datatypes as dt
from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.tools.conformance.adapter import Reset, SendCommand
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.checks import StepFailed, expect_field
from chargeplane.tools.conformance.pki import issue
from chargeplane.tools.conformance.states import booted
from chargeplane.tools.conformance.steps import CONNECT_TIMEOUT, CsmsTool
from chargeplane.transport.security import CertificateFiles, basic_auth_header

OCPP201 = Subprotocol("ocpp2.0.1")
# Part 2 A00.FR.318 / 319 (ECDSA) and A00.FR.321 / 322 (RSA), OpenSSL names
CIPHER_PAIRS = (
    ("ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384"),
    ("AES128-GCM-SHA256", "AES256-GCM-SHA384"),
)


def _uri(url: str, station_id: str) -> str:
    return url.rstrip("/") + "/" + urllib.parse.quote(station_id, safe="")


def tls_url(tool: CsmsTool) -> str:
    settings = tool.link.settings
    if settings.url.startswith("wss:"):
        return settings.url
    if settings.tls_url is None:
        raise StepFailed("before", "this case needs the CSMS's wss endpoint (a wss URL, or --tls-url)")
    return settings.tls_url


def client_context(
    ca_file: Path | None,
    *,
    version: ssl.TLSVersion | None = None,
    ciphers: str | None = None,
    check: bool = True,
) -> ssl.SSLContext:
    """The tool's TLS client: the CAs of ``ca_file`` (else the system's); ``version``: only that one."""
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file is not None else None)
    if not check:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if version is not None:
        with warnings.catch_warnings():  # TLS 1.1 is deprecated: offering it is the point of TC_A_06
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = context.maximum_version = version
    if ciphers is not None or version is ssl.TLSVersion.TLSv1_1:
        context.set_ciphers((ciphers or "DEFAULT") + ":@SECLEVEL=0")
    return context


async def upgrade(
    tool: CsmsTool, step: int | str, *, username: str, password: str | None, url: str | None = None
) -> str | None:
    """One WebSocket upgrade request with these credentials: None when the CSMS upgraded the connection
    (closed again at once), else how it refused."""
    settings = tool.link.settings
    target = url or settings.url
    headers = {"Authorization": basic_auth_header(username, password)} if password is not None else {}
    context = client_context(settings.ca_file) if target.startswith("wss:") else None
    try:
        async with connect(
            _uri(target, settings.station_id),
            subprotocols=[OCPP201],
            additional_headers=headers,
            ssl=context,
            open_timeout=CONNECT_TIMEOUT,
            user_agent_header=None,
        ):
            return None
    except InvalidStatus as refused:
        return f"HTTP {refused.response.status_code}"
    except InvalidHandshake as error:
        return f"handshake refused ({error})"
    except (OSError, TimeoutError) as error:
        raise StepFailed(step, f"no answer to the upgrade request at {target}: {error}") from None


async def reconnect(
    tool: CsmsTool, step: int | str, *, url: str | None = None, password: str | None = None
) -> None:
    """Close the tool's link and connect again, to ``url`` / with ``password`` when given."""
    await tool.link.close()
    settings = tool.link.settings
    tool.link.settings = dataclasses.replace(
        settings, url=url or settings.url, password=settings.password if password is None else password
    )
    await tool.link.connect(step)


@contextlib.asynccontextmanager
async def tls_session(step: int | str, url: str, context: ssl.SSLContext) -> AsyncIterator[ssl.SSLObject]:
    """A bare TLS connection to the host and port of ``url`` (handshake only)."""
    parts = urllib.parse.urlsplit(url)
    host, port = parts.hostname or "", parts.port or 443
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=context, server_hostname=host), CONNECT_TIMEOUT
        )
    except TimeoutError:
        raise StepFailed(step, f"no TLS handshake with {host}:{port} within {CONNECT_TIMEOUT:g} s") from None
    try:
        ssl_object = writer.get_extra_info("ssl_object")
        if not isinstance(ssl_object, ssl.SSLObject):
            raise StepFailed(step, "no TLS session")
        yield ssl_object
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()


async def handshake_works(url: str, context: ssl.SSLContext) -> bool:
    try:
        async with tls_session("tls", url, context):
            return True
    except (OSError, ssl.SSLError):
        return False


async def check_server_tls(tool: CsmsTool, step: int, url: str, *, every_suite: bool = False) -> None:
    """TC_A_04 step 3 checks (also the handshake of TC_A_06 step 3); ``every_suite``: both cipher suite pairs
    (TC_A_07's table asks for all four suites)."""
    ca_file = tool.link.settings.ca_file
    try:
        async with tls_session(step, url, client_context(ca_file)) as session:
            version, der = session.version(), session.getpeercert(binary_form=True)
    except ssl.SSLCertVerificationError as error:
        raise StepFailed(step, f"the server certificate does not verify: {error.verify_message}") from None
    except (OSError, ssl.SSLError) as error:
        raise StepFailed(step, f"TLS handshake failed: {error}") from None
    if version not in ("TLSv1.2", "TLSv1.3"):
        raise StepFailed(step, f"TLS version {version}, expected 1.2 or above")
    if der is None:
        raise StepFailed(step, "the server sent no certificate")
    certificate = x509.load_der_x509_certificate(der)
    key = certificate.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey) and key.key_size < 224:
        raise StepFailed(step, f"EC key of {key.key_size} bits, expected at least 224")
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < 2048:  # DSA: no TLS 1.2 suite of Part 2 uses it
        raise StepFailed(step, f"RSA key of {key.key_size} bits, expected at least 2048")
    if not certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME):
        raise StepFailed(step, "the server certificate's subject has no commonName")
    if certificate.serial_number <= 0:
        raise StepFailed(step, "the server certificate has no serial number")
    supported = []
    for pair in CIPHER_PAIRS:
        tried = [
            await handshake_works(
                url, client_context(ca_file, version=ssl.TLSVersion.TLSv1_2, ciphers=cipher, check=False)
            )
            for cipher in pair
        ]
        if all(tried):
            supported.append(pair)
        elif every_suite:
            raise StepFailed(step, f"the CSMS does not support the cipher suites {' and '.join(pair)}")
    if not supported:
        raise StepFailed(
            step, f"the CSMS supports neither cipher suite pair {' nor '.join(map(str, CIPHER_PAIRS))}"
        )


@case(
    "TC_A_01_CSMS",
    "Basic Authentication - Valid username/password combination",
    use_cases=("A00", "B01"),
    requirements=("A00.FR.204", "B01.FR.02"),
    starts_booted=False,
)
async def tc_a_01(tool: CsmsTool) -> None:
    await reconnect(tool, 2)  # 1-2: the configured identity and password
    await booted(tool)  # 3-6


async def refused(tool: CsmsTool, username: str, password: str) -> None:
    """Steps 1-2 of TC_A_02 / A_03: the upgrade request must be refused."""
    await tool.link.close()
    refusal = await upgrade(tool, 1, username=username, password=password)
    if refusal is None:
        raise StepFailed(2, f"the CSMS upgraded the connection of user {username!r} with that password")


@case(
    "TC_A_02_CSMS",
    "Basic Authentication - Username does not equal ChargingStationId",
    use_cases=("A00",),
    requirements=("A00.FR.204",),
    starts_booted=False,
)
async def tc_a_02(tool: CsmsTool) -> None:
    settings = tool.link.settings
    await refused(tool, f"{settings.station_id}Invalid", settings.password or "")


@case(
    "TC_A_03_CSMS",
    "Basic Authentication - Invalid password",
    use_cases=("A00",),
    requirements=("A00.FR.204",),
    starts_booted=False,
)
async def tc_a_03(tool: CsmsTool) -> None:
    await refused(tool, tool.link.settings.station_id, secrets.token_hex(16))  # 32 characters


@case(
    "TC_A_04_CSMS",
    "TLS - server-side certificate - Valid certificate",
    use_cases=("A00",),
    requirements=(
        "A00.FR.306",
        "A00.FR.307",
        "A00.FR.312",
        "A00.FR.318",
        "A00.FR.321",
        "A00.FR.502",
        "A00.FR.503",
        "A00.FR.507",
        "A00.FR.508",
        "A00.FR.510",
    ),
    starts_booted=False,
)
async def tc_a_04(tool: CsmsTool) -> None:
    url = tls_url(tool)
    await tool.link.close()
    await check_server_tls(tool, 3, url)  # 1-4
    await reconnect(tool, 6, url=url)  # 5-6: profile 2, with the password
    await booted(tool)  # 7-10


@case(
    "TC_A_06_CSMS",
    "TLS - server-side certificate - TLS version too low",
    use_cases=("A00",),
    requirements=("A00.FR.314", "A00.FR.315", "A00.FR.409", "A00.FR.416", "A00.FR.417", "A00.FR.418"),
    starts_booted=False,
)
async def tc_a_06(tool: CsmsTool) -> None:
    url = tls_url(tool)
    await tool.link.close()
    old = client_context(tool.link.settings.ca_file, version=ssl.TLSVersion.TLSv1_1, check=False)
    try:
        async with tls_session(1, url, old) as session:
            raise StepFailed(2, f"the CSMS completed a {session.version()} handshake")
    except ssl.SSLError as error:
        if "NO_PROTOCOLS_AVAILABLE" in str(error) or "NO_CIPHERS_AVAILABLE" in str(error):
            raise StepFailed(1, f"tool limit: this TLS library cannot offer TLS 1.1 ({error})") from None
    except OSError:
        pass  # the CSMS closed the connection: as it should
    await check_server_tls(tool, 5, url)  # 3-6
    await reconnect(tool, 8, url=url)  # 7-8
    await booted(tool)  # 9-12


def configured_client_certificate(tool: CsmsTool) -> CertificateFiles:
    """<Configured client certificate> (TC_A_07): the declaration's files."""
    configured = tool.configured
    if not configured.client_certificate_file or not configured.client_private_key_file:
        raise StepFailed(
            "before",
            "the declaration names no client certificate (client_certificate_file, client_private_key_file)",
        )
    files = CertificateFiles(
        Path(configured.client_certificate_file), Path(configured.client_private_key_file)
    )
    for path in (files.certificate, files.private_key):
        if not path.is_file():
            raise StepFailed("before", f"{path}: no such file")
    return files


@case(
    "TC_A_07_CSMS",
    "TLS - Client-side certificate - valid certificate",
    use_cases=("A00",),
    requirements=("A00.FR.409", "A00.FR.410", "A00.FR.415", "A00.FR.416", "A00.FR.421"),
    starts_booted=False,
)
async def tc_a_07(tool: CsmsTool) -> None:
    url = tls_url(tool)
    files = configured_client_certificate(tool)
    await tool.link.close()
    await check_server_tls(tool, 3, url, every_suite=True)  # 1-4: the CSMS's side of the handshake
    settings = tool.link.settings
    # 5-6: security profile 3, the client certificate and no password
    tool.link.settings = dataclasses.replace(settings, url=url, password=None, client_certificate=files)
    await tool.link.connect(6)
    await booted(tool)  # 7-10


@case(
    "TC_A_08_CSMS",
    "TLS - Client-side certificate - Invalid certificate",
    use_cases=("A00",),
    requirements=("A00.FR.405", "A00.FR.407", "A00.FR.409", "A00.FR.410"),
    starts_booted=False,
)
async def tc_a_08(tool: CsmsTool) -> None:
    url = tls_url(tool)
    settings = tool.link.settings
    await tool.link.close()
    with tempfile.TemporaryDirectory(prefix="chargeplane-conformance-") as directory:
        for kind, files in unknown_client_certificates(Path(directory), settings.station_id):
            context = client_context(settings.ca_file)
            context.load_cert_chain(files.certificate, files.private_key)
            refusal = await upgrade_with(tool, 3, url, context)
            if refusal is None:
                raise StepFailed(4, f"the CSMS upgraded a connection with {kind}")


def unknown_client_certificates(directory: Path, station_id: str) -> list[tuple[str, CertificateFiles]]:
    """<Configured invalid client certificate>: what the tool can make itself, certificates of CAs the CSMS
    cannot know: one for the station (its identity as CN), one for another CN, one expired."""
    root = issue("Conformance unknown client CA", ca=True)
    now = datetime.datetime.now(datetime.UTC)
    made = {
        "an unknown certificate": issue(station_id, root, ca=False),
        "a certificate of another commonName": issue(f"{station_id}-other", root, ca=False),
        "an expired certificate": issue(
            station_id, root, ca=False, not_after=now - datetime.timedelta(days=1)
        ),
    }
    kept = []
    for n, (kind, leaf) in enumerate(made.items()):
        certificate, key = directory / f"client{n}.crt", directory / f"client{n}.key"
        certificate.write_text(leaf.pem + root.pem)
        key.write_text(leaf.key_pem)
        kept.append((kind, CertificateFiles(certificate, key)))
    return kept


async def upgrade_with(tool: CsmsTool, step: int, url: str, context: ssl.SSLContext) -> str | None:
    """One upgrade request over TLS with ``context`` and no password: None when the CSMS upgraded it, else
    how it refused (the TLS handshake, the HTTP answer, or a closed connection)."""
    try:
        async with connect(
            _uri(url, tool.link.settings.station_id),
            subprotocols=[OCPP201],
            ssl=context,
            open_timeout=CONNECT_TIMEOUT,
            user_agent_header=None,
        ) as websocket:
            await websocket.ping()  # TLS 1.3 refuses a client certificate after the handshake: a round trip
            return None
    except InvalidStatus as refused:
        return f"HTTP {refused.response.status_code}"
    except (InvalidHandshake, ConnectionClosed) as error:
        return f"refused ({error})"
    except ssl.SSLError as error:
        return f"TLS handshake refused ({error.reason})"
    except (OSError, TimeoutError) as error:
        return f"connection closed ({error})"


async def password_update(tool: CsmsTool, status: en.SetVariableStatusEnumType) -> str:
    """Steps 1-2 of TC_A_09 / A_10: the CSMS sends a new BasicAuthPassword (a manual action); returns it."""
    proposal = f"conformance-{secrets.token_hex(10)}"  # 32 characters of passwordString
    payload = {
        "setVariableData": [
            {
                "component": {"name": "SecurityCtrlr"},
                "variable": {"name": "BasicAuthPassword"},
                "attributeValue": proposal,
            }
        ]
    }
    tool.manual(SendCommand("SetVariables", payload, "a new SecurityCtrlr.BasicAuthPassword"))
    incoming = await tool.expect(1, msg.SetVariablesRequest)
    request = incoming.request
    data = request.set_variable_data
    expect_field(1, request, "setVariableData[0].variable.name", "BasicAuthPassword")
    expect_field(1, request, "setVariableData[0].component.name", "SecurityCtrlr")
    results = [
        dt.SetVariableResultType(attribute_status=status, component=d.component, variable=d.variable)
        for d in data
    ]
    incoming.answer(msg.SetVariablesResponse(set_variable_result=results))
    await tool.settle()
    return data[0].attribute_value


async def connect_with(tool: CsmsTool, password: str | None, what: str) -> None:
    """Steps 3-4 of TC_A_09 / A_10: a new connection with ``password``, which the CSMS must upgrade."""
    await tool.link.close()
    settings = tool.link.settings
    refusal = await upgrade(tool, 3, username=settings.station_id, password=password)
    if refusal is not None:
        raise StepFailed(4, f"the CSMS refused the {what} password: {refusal}")
    await reconnect(tool, 4, password=password)


@case(
    "TC_A_09_CSMS",
    "Update Charging Station Password for HTTP Basic Authentication - Accepted",
    use_cases=("A01",),
    requirements=("A01.FR.02", "A01.FR.03"),
)
async def tc_a_09(tool: CsmsTool) -> None:
    old = tool.link.settings.password
    new = await password_update(tool, en.SetVariableStatusEnumType.ACCEPTED)
    await connect_with(tool, new, "new")
    await booted(tool)  # 5-8
    # Outside the table: the configured password again, for the cases that follow.
    with contextlib.suppress(StepFailed):
        await restore_password(tool, old)


async def restore_password(tool: CsmsTool, password: str | None) -> None:
    if password is None:
        return
    payload = {
        "setVariableData": [
            {
                "component": {"name": "SecurityCtrlr"},
                "variable": {"name": "BasicAuthPassword"},
                "attributeValue": password,
            }
        ]
    }
    tool.manual(SendCommand("SetVariables", payload, "the configured BasicAuthPassword again"))
    incoming = await tool.expect("clean-up", msg.SetVariablesRequest)
    results = [
        dt.SetVariableResultType(
            attribute_status=en.SetVariableStatusEnumType.ACCEPTED, component=d.component, variable=d.variable
        )
        for d in incoming.request.set_variable_data
    ]
    incoming.answer(msg.SetVariablesResponse(set_variable_result=results))
    await tool.settle()


@case(
    "TC_A_10_CSMS",
    "Update Charging Station Password for HTTP Basic Authentication - Rejected",
    use_cases=("A01",),
    requirements=("A01.FR.02", "A01.FR.04", "A01.FR.05"),
)
async def tc_a_10(tool: CsmsTool) -> None:
    await password_update(tool, en.SetVariableStatusEnumType.REJECTED)
    await connect_with(tool, tool.link.settings.password, "old")
    await booted(tool)  # 5-8


@case(
    "TC_A_19_CSMS",
    "Upgrade Charging Station Security Profile - Accepted",
    use_cases=("A05",),
    requirements=("A05.FR.04", "A05.FR.07"),
)
async def tc_a_19(tool: CsmsTool) -> None:
    settings, c = tool.link.settings, tool.configured
    current = 2 if settings.url.startswith("wss:") else 1
    if current == 2:
        raise StepFailed("before", "tool limit: profile 3 (a client certificate) is not supported")
    url = tls_url(tool)
    data = {
        "ocppVersion": "OCPP20",
        "ocppTransport": "JSON",
        "ocppCsmsUrl": url,
        "messageTimeout": c.message_timeout,
        "securityProfile": current + 1,
        "ocppInterface": c.ocpp_interface,
    }
    payload = {"configurationSlot": c.configuration_slot, "connectionData": data}
    tool.manual(SendCommand("SetNetworkProfile", payload, f"security profile {current + 1} at {url}"))
    incoming = await tool.expect(1, msg.SetNetworkProfileRequest)
    request = incoming.request
    expect_field(1, request, "connectionData.messageTimeout", c.message_timeout)
    expect_field(1, request, "connectionData.ocppCsmsUrl", url)
    expect_field(1, request, "connectionData.ocppInterface", c.ocpp_interface)
    expect_field(1, request, "connectionData.ocppTransport", "JSON")
    expect_field(1, request, "connectionData.ocppVersion", "OCPP20")
    expect_field(1, request, "connectionData.securityProfile", current + 1)
    slot = request.configuration_slot
    incoming.answer(msg.SetNetworkProfileResponse(status=en.SetNetworkProfileStatusEnumType.ACCEPTED))
    await tool.settle()

    priority = {
        "setVariableData": [
            {
                "component": {"name": "OCPPCommCtrlr"},
                "variable": {"name": "NetworkConfigurationPriority"},
                "attributeValue": str(slot),
            }
        ]
    }
    tool.manual(SendCommand("SetVariables", priority, f"NetworkConfigurationPriority with slot {slot} first"))
    variables = await tool.expect(3, msg.SetVariablesRequest)
    expect_field(3, variables.request, "setVariableData[0].variable.name", "NetworkConfigurationPriority")
    expect_field(3, variables.request, "setVariableData[0].component.name", "OCPPCommCtrlr")
    value = variables.request.set_variable_data[0].attribute_value
    if str(slot) not in [v.strip() for v in value.split(",")]:
        raise StepFailed(3, f"NetworkConfigurationPriority {value!r} does not contain slot {slot}")
    results = [
        dt.SetVariableResultType(
            attribute_status=en.SetVariableStatusEnumType.ACCEPTED, component=d.component, variable=d.variable
        )
        for d in variables.request.set_variable_data
    ]
    variables.answer(msg.SetVariablesResponse(set_variable_result=results))
    await tool.settle()

    tool.manual(Reset("Immediate"))
    reset = await tool.expect(5, msg.ResetRequest)
    reset.answer(msg.ResetResponse(status=en.ResetStatusEnumType.ACCEPTED))
    await tool.settle()
    old_url = settings.url
    await reconnect(tool, 8, url=url)  # 7-8: the new profile
    await booted(tool)  # 9
    await tool.link.close()
    refusal = await upgrade(tool, 10, username=settings.station_id, password=settings.password, url=old_url)
    if refusal is None:
        raise StepFailed(11, f"the CSMS accepted a profile {current} connection after the upgrade")
