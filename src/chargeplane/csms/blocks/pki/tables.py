"""What the CSMS keeps of its PKI: the certificates its CA issued (A02/A03, the CLI), the stations' signing
requests, the certificates stations reported installed (M03) and the certificate operations sent (M03-M05)."""

from __future__ import annotations

import sqlalchemy as sa

from chargeplane.csms.storage.metadata import metadata, utc_timestamp

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

pki_certificates = sa.Table(
    "pki_certificates",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(16), nullable=False),  # the issuing CA: station | v2g
    sa.Column("serial", sa.String(40), nullable=False),  # hex, lower case, no leading zeros
    sa.Column("station_key", sa.String(48)),  # casefolded identity; None: issued for no station (CLI)
    sa.Column(
        "certificate_type", sa.String(32), nullable=False
    ),  # ChargingStationCertificate | V2GCertificate
    sa.Column("subject", sa.String(255), nullable=False),  # RFC 4514
    utc_timestamp("not_before", nullable=False),
    utc_timestamp("not_after", nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # issued | revoked
    utc_timestamp("revoked_at"),
    sa.Column("revocation_reason", sa.String(32)),
    sa.Column("pem", sa.Text, nullable=False),
    sa.Column("source", sa.String(16), nullable=False),  # ocpp | cli | test-v2g-pki
    sa.Column("delivery_status", sa.String(32)),  # CertificateSigned's answer: Accepted | Rejected | failed
    utc_timestamp("renewal_requested_at"),  # when the renewal job triggered a new CSR for it
    utc_timestamp("issued_at", nullable=False),
    sa.UniqueConstraint("kind", "serial"),
    sa.Index("ix_pki_certificates_station", "station_key", "id"),
    sa.Index("ix_pki_certificates_expiry", "status", "not_after"),
)

pki_sign_requests = sa.Table(
    "pki_sign_requests",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("station_key", sa.String(48), nullable=False),
    sa.Column("certificate_type", sa.String(32), nullable=False),
    sa.Column("request_id", sa.Integer),  # 2.1 SignCertificate's requestId, echoed in CertificateSigned
    sa.Column("status", sa.String(16), nullable=False),  # Accepted | Rejected (the answer)
    sa.Column("reason", sa.String(255)),  # why it was rejected, or why signing failed
    sa.Column("certificate_id", _ID),  # the issued certificate
    sa.Column("outcome", sa.String(32)),  # failed | undelivered | the CertificateSigned answer
    sa.Column("csr", sa.Text),  # an accepted CSR (PEM) until it is signed: signed after a restart too
    utc_timestamp("received_at", nullable=False),
    utc_timestamp("completed_at"),
    sa.Index("ix_pki_sign_requests_station", "station_key", "id"),
)

pki_installed = sa.Table(
    "pki_installed",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("station_key", sa.String(48), nullable=False),
    sa.Column("certificate_type", sa.String(40)),  # None: a 1.6 report names no type per certificate
    sa.Column("hash_algorithm", sa.String(8), nullable=False),
    sa.Column("issuer_name_hash", sa.String(128), nullable=False),
    sa.Column("issuer_key_hash", sa.String(128), nullable=False),
    sa.Column("serial_number", sa.String(40), nullable=False),
    sa.Column(
        "child_of", sa.String(40)
    ),  # a V2GCertificateChain's sub-CA: the serial of its leaf (M03.FR.05)
    utc_timestamp("reported_at", nullable=False),
    sa.Index("ix_pki_installed_station", "station_key", "certificate_type"),
)

pki_operations = sa.Table(
    "pki_operations",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("station_key", sa.String(48), nullable=False),
    # InstallCertificate | GetInstalledCertificateIds | DeleteCertificate | TriggerMessage | ExtendedTriggerMessage
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("detail", sa.String(255)),  # the certificate type(s) or serial concerned
    sa.Column("status", sa.String(32)),  # the station's answer; None: none came
    utc_timestamp("sent_at", nullable=False),
    sa.Index("ix_pki_operations_station", "station_key", "id"),
)
