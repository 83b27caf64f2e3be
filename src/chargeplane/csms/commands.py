"""The ``chargeplane token`` command: API tokens on the database directly (wired into :mod:`chargeplane.cli`).

It works whether the CSMS runs or not (a running CSMS sees a change within seconds), migrates a new database
first (so a token can be made before the first start), and prints a new token's secret once: only its digest
is stored.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from chargeplane.csms.api.tokens import Scope, TokenStore
from chargeplane.csms.settings import CsmsSettings
from chargeplane.csms.storage.engine import create_engine
from chargeplane.csms.storage.migrate import migrate

SCOPES = [scope.value for scope in Scope]


def add_token_command(commands: Any, add_settings_options: Any) -> None:
    token = commands.add_parser(
        "token",
        help="create, list or revoke operator API tokens (on the database directly)",
        description="API tokens, on the database of the CSMS (the same --config / CHARGEPLANE_DATABASE_URL "
        "as serve). Scopes: read (GET only), operator (also commands to stations), admin (everything).",
    )
    add_settings_options(token)
    actions = token.add_subparsers(dest="token_action", required=True)
    create = actions.add_parser("create", help="create a token and print its secret once")
    create.add_argument("--name", required=True, help="what the token is for (shown by list)")
    create.add_argument("--scope", choices=SCOPES, default=Scope.ADMIN.value, help="default admin")
    actions.add_parser("list", help="the tokens: id, scope, name, created (never the secrets)")
    revoke = actions.add_parser("revoke", help="delete a token by id, or every token with this name")
    revoke.add_argument("which", help="token id or name")


async def run_token_command(args: argparse.Namespace, settings: CsmsSettings) -> int:
    logging.getLogger("alembic").setLevel(logging.WARNING)  # the secret is the output, not the migrations
    engine = create_engine(settings.database_url)
    try:
        await migrate(engine)
        store = TokenStore(engine)
        if args.token_action == "create":
            try:
                secret = await store.create(args.name, Scope(args.scope))
            except ValueError as error:
                print(f"chargeplane token: {error}", file=sys.stderr)
                return 2
            print(secret)
            print(f"(scope {args.scope}; shown once, store it now)", file=sys.stderr)
            return 0
        if args.token_action == "list":
            for info in await store.all():
                created = info.created_at.strftime("%Y-%m-%dT%H:%M:%SZ")
                print(f"{info.id}\t{info.scope.value}\t{created}\t{info.name}")
            return 0
        revoked = await store.revoke(args.which)
        if not revoked:
            print(f"chargeplane token: no token with id or name {args.which!r}", file=sys.stderr)
            return 1
        for info in revoked:
            print(f"revoked {info.id} ({info.name}, {info.scope.value})")
        return 0
    finally:
        await engine.dispose()
