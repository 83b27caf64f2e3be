"""The ``chargeplane user`` command: console accounts on the database directly (wired into
:mod:`chargeplane.cli`).

Like ``chargeplane token`` it works whether the CSMS runs or not and migrates a new database first. The
password is asked twice on a terminal, else read from the first line of standard input (for scripts); it is
never an argument (arguments show in the process list and the shell history).
"""

from __future__ import annotations

import argparse
import getpass
import logging
import sys
from typing import Any, TextIO

from chargeplane.csms.console.users import AccountError, Role, UserStore
from chargeplane.csms.settings import CsmsSettings
from chargeplane.csms.storage.engine import create_engine
from chargeplane.csms.storage.migrate import migrate

ROLES = [role.value for role in Role]


def add_user_command(commands: Any, add_settings_options: Any) -> None:
    user = commands.add_parser(
        "user",
        help="create console accounts or reset their passwords (on the database directly)",
        description="Accounts of the web console, on the database of the CSMS (the same --config / "
        "CHARGEPLANE_DATABASE_URL as serve). Roles: viewer (reads), operator (also sends commands to "
        "stations), admin (everything). The password is asked on the terminal, or read from standard input.",
    )
    add_settings_options(user)
    actions = user.add_subparsers(dest="user_action", required=True)
    create = actions.add_parser("create", help="create an account")
    create.add_argument("username")
    create.add_argument("--role", choices=ROLES, default=Role.VIEWER.value, help="default viewer")
    reset = actions.add_parser("reset-password", help="set a new password; ends the account's sessions")
    reset.add_argument("username")
    actions.add_parser("list", help="the accounts: username and role")


def read_password(stdin: TextIO) -> str:
    if stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != first:
            raise AccountError("the two passwords differ")
        return first
    return stdin.readline().rstrip("\r\n")


async def run_user_command(
    args: argparse.Namespace, settings: CsmsSettings, stdin: TextIO = sys.stdin
) -> int:
    logging.getLogger("alembic").setLevel(logging.WARNING)
    engine = create_engine(settings.database_url)
    try:
        await migrate(engine)
        store = UserStore(engine)
        if args.user_action == "list":
            for user in await store.all():
                print(f"{user.username}\t{user.role.value}")
            return 0
        try:
            password = read_password(sys.stdin)
            if args.user_action == "create":
                user = await store.create(args.username, password, Role(args.role))
                print(f"created {user.username} ({user.role.value})")
            else:
                user = await store.set_password(args.username, password)
                print(f"new password for {user.username}; its sessions ended")
        except AccountError as error:
            print(f"chargeplane user: {error}", file=sys.stderr)
            return 2
        return 0
    finally:
        await engine.dispose()
