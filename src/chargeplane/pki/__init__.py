"""The operator's certificate authority: pure X.509 logic on ``cryptography`` (no I/O but its own key files).

:mod:`~chargeplane.pki.ca` (the CA hierarchy root -> sub-CA, CSR checks, issuing, CRLs, OCSP responses, the
:class:`~chargeplane.pki.ca.ExternalCa` protocol for an operator's own CA), :mod:`~chargeplane.pki.hashes` (the
OCPP ``CertificateHashData`` of a certificate) and :mod:`~chargeplane.pki.v2g` (the built-in test V2G PKI).
It imports nothing of the CSMS or the station: the CSMS's ``pki`` block and the ``chargeplane ca`` command use it.
"""
