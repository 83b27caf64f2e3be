"""Id tokens, the authorization decision log and the local authorization lists sent to stations."""

from __future__ import annotations

import sqlalchemy as sa

from chargeplane.csms.storage.metadata import metadata, utc_timestamp

# A big integer key that SQLite still auto-increments (SQLite only does so for INTEGER PRIMARY KEY).
_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

id_tokens = sa.Table(
    "id_tokens",
    metadata,
    sa.Column("id", _BigId, primary_key=True, autoincrement=True),
    # Id tokens are case-insensitive (1.6 CiString20; 2.x IdTokenType.idToken): lookups go through
    # ``token_key`` (casefolded); ``id_token`` keeps the spelling the operator gave.
    sa.Column("token_key", sa.String(255), nullable=False),
    sa.Column("id_token", sa.String(255), nullable=False),  # 20 in 1.6, 36 in 2.0.1, 255 in 2.1
    sa.Column("type", sa.String(20), nullable=False),  # IdTokenEnumType (2.1: extensible string[20])
    sa.Column("status", sa.String(24), nullable=False),  # AuthorizationStatusEnumType
    utc_timestamp("expires_at"),  # 2.x cacheExpiryDateTime / 1.6 expiryDate
    sa.Column("group_id_token", sa.String(255)),  # 1.6 parentIdTag (C09)
    sa.Column("group_id_token_type", sa.String(20)),
    sa.Column("language1", sa.String(8)),
    sa.Column("language2", sa.String(8)),
    sa.Column("personal_message_format", sa.String(8)),  # MessageFormatEnumType
    sa.Column("personal_message_language", sa.String(8)),
    sa.Column("personal_message_content", sa.String(1024)),
    sa.Column("charging_priority", sa.Integer),  # -9..9
    # Whether the token goes into the local authorization lists of the stations (D01).
    sa.Column("local_list", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("description", sa.String(200)),
    utc_timestamp("created_at", nullable=False),
    utc_timestamp("updated_at", nullable=False),
    sa.UniqueConstraint("token_key", "type", name="uq_id_tokens_token_key_type"),
    sa.Index("ix_id_tokens_group_id_token", "group_id_token"),
    sa.Index("ix_id_tokens_status", "status"),
)

authorization_log = sa.Table(
    "authorization_log",
    metadata,
    sa.Column("id", _BigId, primary_key=True, autoincrement=True),
    sa.Column("station_id", sa.String(48), nullable=False),
    # KeyCode tokens are never stored in clear here (C04.FR.04): see ``repository.token_digest``.
    sa.Column("id_token", sa.String(255), nullable=False),
    sa.Column("token_type", sa.String(20)),  # None for 1.6
    sa.Column("context", sa.String(32), nullable=False),  # Authorize, TransactionEvent, StartTransaction...
    sa.Column("status", sa.String(24), nullable=False),
    utc_timestamp("at", nullable=False),
    sa.Index("ix_authorization_log_station_id_at", "station_id", "at"),
    sa.Index("ix_authorization_log_id_token_at", "id_token", "at"),
    sa.Index("ix_authorization_log_at", "at"),
)

# The CSMS's own random key of the KeyCode token digests (one row, made on first use): a PIN has so few
# values that a plain hash of it is no protection; a keyed one (HMAC) still lets equal PINs be looked up.
token_digest_keys = sa.Table(
    "token_digest_keys",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("key", sa.String(64), nullable=False),
)

# The local authorization list as the CSMS last had it accepted by each station (D01): its version and
# its entries, so that a differential update is computed against what the station holds.
local_lists = sa.Table(
    "local_lists",
    metadata,
    sa.Column("station_key", sa.String(48), primary_key=True),  # casefolded station identity
    sa.Column("station_id", sa.String(48), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    utc_timestamp("updated_at", nullable=False),
)

local_list_entries = sa.Table(
    "local_list_entries",
    metadata,
    sa.Column("station_key", sa.String(48), primary_key=True),
    sa.Column("token_key", sa.String(255), primary_key=True),
    sa.Column("type", sa.String(20), primary_key=True),
    sa.Column("id_token", sa.String(255), nullable=False),
    # A digest of the idTokenInfo that was sent: an entry is re-sent when its digest changes.
    sa.Column("digest", sa.String(32), nullable=False),
)
