"""C07.FR.06 / FR.15 / FR.17: the checks of a contract chain sent in PEM, before OCSP (pure, no I/O)."""

from __future__ import annotations

import datetime

from chargeplane.csms.blocks.pki.contract_chain import check_chain, ocsp_url
from chargeplane.tools.conformance.pki import DAY, Issued, chain_pem, issue

EMAID = "DE-CPL-C00000001"
URL = "http://127.0.0.1:9/ocsp"
NOW = datetime.datetime.now(datetime.UTC)


def mo_chain(emaid: str = EMAID, operator: str = "MO") -> tuple[Issued, Issued, Issued]:
    root = issue(f"{operator} root", ca=True)
    sub = issue(f"{operator} sub-CA", root, ca=True)
    return root, sub, issue(emaid, sub, ca=False, ocsp_url=URL)


def test_C07_FR_06_chain_to_a_trusted_root_is_accepted_with_the_leaf_and_its_issuer() -> None:
    root, sub, leaf = mo_chain()
    checked = check_chain(chain_pem(leaf.certificate, sub.certificate), EMAID, [root.certificate], NOW)
    assert checked.status == "Accepted"
    assert checked.leaf == leaf.certificate
    assert checked.issuer == sub.certificate
    assert checked.leaf is not None
    assert ocsp_url(checked.leaf) == URL


def test_the_emaid_compares_without_separators_or_case_and_a_sent_root_is_not_trusted_for_being_sent() -> (
    None
):
    root, sub, leaf = mo_chain()
    pem = chain_pem(leaf.certificate, sub.certificate, root.certificate)
    assert check_chain(pem, "decplc00000001", [root.certificate], NOW).status == "Accepted"
    assert check_chain(pem, EMAID, [], NOW).status == "CertChainError"  # C07.FR.17: no trusted root


def test_C07_FR_17_chain_errors() -> None:
    root, sub, leaf = mo_chain()
    roots = [root.certificate]
    other_root, other_sub, _ = mo_chain(operator="Other MO")
    assert check_chain(
        chain_pem(leaf.certificate, sub.certificate), EMAID, [other_root.certificate], NOW
    ).status == ("CertChainError")
    # the sub-CA of another chain: the names do not chain
    assert check_chain(chain_pem(leaf.certificate, other_sub.certificate), EMAID, roots, NOW).status == (
        "CertChainError"
    )
    bad_pem = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"
    assert check_chain(bad_pem, EMAID, roots, NOW).status == "CertChainError"
    # the contract is another eMAID's
    assert check_chain(chain_pem(leaf.certificate, sub.certificate), "DECPLC9", roots, NOW).status == (
        "CertChainError"
    )
    # a non-CA certificate in the middle
    not_ca = issue("MO sub-CA", root, ca=False)
    assert check_chain(chain_pem(leaf.certificate, not_ca.certificate), EMAID, roots, NOW).status == (
        "CertChainError"
    )


def test_no_certificate_in_the_field() -> None:
    assert check_chain("", EMAID, [], NOW).status == "NoCertificateAvailable"


def test_a_forged_issuer_of_the_same_name_is_a_signature_error() -> None:
    root, sub, leaf = mo_chain()
    forged_sub = issue("MO sub-CA", root, ca=True)  # same name, another key: the leaf's signature fails
    pem = chain_pem(leaf.certificate, forged_sub.certificate)
    assert check_chain(pem, EMAID, [root.certificate], NOW).status == "SignatureError"
    forged_root = issue("MO root", ca=True)  # the trusted root's name, another key
    good = chain_pem(leaf.certificate, sub.certificate)
    assert check_chain(good, EMAID, [forged_root.certificate], NOW).status == "SignatureError"


def test_C07_FR_15_an_expired_certificate_of_the_chain() -> None:
    root = issue("MO root", ca=True)
    sub = issue("MO sub-CA", root, ca=True)
    expired = issue(EMAID, sub, ca=False, not_after=NOW - DAY, ocsp_url=URL)
    pem = chain_pem(expired.certificate, sub.certificate)
    assert check_chain(pem, EMAID, [root.certificate], NOW).status == "CertificateExpired"
    fresh = issue(EMAID, sub, ca=False, ocsp_url=URL)
    later = NOW + 400 * DAY  # the whole chain has run out
    assert check_chain(
        chain_pem(fresh.certificate, sub.certificate), EMAID, [root.certificate], later
    ).status == ("CertificateExpired")
