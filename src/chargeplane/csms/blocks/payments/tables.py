"""Payments: one row per payment-service-provider reference (pspRef), whatever started it, and prepaid
balances (C17)."""

from __future__ import annotations

import sqlalchemy as sa

from chargeplane.csms.storage.metadata import metadata, utc_timestamp

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

payments = sa.Table(
    "payments",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("psp_ref", sa.String(255), nullable=False, unique=True),
    sa.Column("station_key", sa.String(48), nullable=False),  # casefolded identity
    sa.Column("station_id", sa.String(48), nullable=False),
    sa.Column("evse_id", sa.Integer),
    # terminal (the station's own, C18-C23) | kiosk (C24) | web (the QR page, C25)
    sa.Column("source", sa.String(12), nullable=False),
    # Authorized | Settled | Canceled | Rejected | Failed | Refunded
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("currency", sa.String(3)),
    sa.Column("authorized_amount", sa.String(24)),  # decimal text
    sa.Column("settlement_amount", sa.String(24)),
    sa.Column("refunded_amount", sa.String(24)),
    sa.Column("transaction_id", sa.String(36)),
    sa.Column("transaction_key", _ID),  # the transactions block's key (its cost: /transactions/{key}/cost)
    sa.Column("limit_sent", sa.Boolean, nullable=False, default=False),  # transactionLimit.maxCost answered
    sa.Column("settled_by", sa.String(8)),  # station | csms
    sa.Column("status_info", sa.String(500)),
    sa.Column("receipt_id", sa.String(50)),
    sa.Column("receipt_url", sa.String(2000)),
    sa.Column("vat_number", sa.String(20)),
    sa.Column("vat_company", sa.JSON),
    sa.Column("card_bin", sa.String(8)),
    sa.Column("card_last4", sa.String(4)),
    # C18.FR.04/06: the terminal's additionalInfo (PaymentBrand, ReadingMethod, ...; never a full number)
    sa.Column("card_details", sa.JSON),
    # C25.FR.59: the driver's maxEnergy (Wh) / maxTime (s) from the QR code's URL, sent with maxCost
    sa.Column("driver_limits", sa.JSON),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),  # captures tried by the CSMS (C22)
    utc_timestamp("next_attempt_at"),
    utc_timestamp("settlement_time"),
    utc_timestamp("created_at", nullable=False),
    utc_timestamp("updated_at", nullable=False),
    sa.Index("ix_payments_transaction", "station_key", "transaction_id"),
)

# C17: the balance of a prepaid id token
prepaid_accounts = sa.Table(
    "prepaid_accounts",
    metadata,
    sa.Column("id_token", sa.String(255), primary_key=True),
    sa.Column("balance", sa.String(24), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    utc_timestamp("updated_at", nullable=False),
)
