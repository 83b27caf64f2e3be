"""The operator's certificate authority: pure X.509 logic on ``cryptography`` (no I/O but its own key files).

:mod:`~chargeplane.pki.ca` (the CA hierarchy root -> sub-CA, CSR checks, issuing, CRLs, OCSP responses, the
:class:`~chargeplane.pki.ca.ExternalCa` protocol for an operator's own CA), :mod:`~chargeplane.pki.hashes` (the
OCPP ``CertificateHashData`` of a certificate, and the OCSP request it stands for) and
:mod:`~chargeplane.pki.contract` (the contract-certificate backend protocol of ISO 15118 Plug & Charge), and
for ISO 15118-2 certificate installation :mod:`~chargeplane.pki.v2g_exi` (the EXI codec),
:mod:`~chargeplane.pki.v2g_security` (signatures over EXI, the contract key's encryption) and
:mod:`~chargeplane.pki.dev_v2g_pki` (the built-in test V2G PKI, development and tests only).
It imports nothing of the CSMS or the station: the CSMS's ``pki`` block and the ``chargeplane ca`` command use it.
"""
