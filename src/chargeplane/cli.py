"""The ``chargeplane`` command."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chargeplane import __version__
from chargeplane.logs import FORMATS
from chargeplane.logs import configure as configure_logs

log = logging.getLogger("chargeplane.serve")

if TYPE_CHECKING:
    from chargeplane.csms.settings import CsmsSettings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chargeplane", description="Open OCPP platform")
    parser.add_argument("--version", action="version", version=f"chargeplane {__version__}")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING, ERROR (default INFO)")
    parser.add_argument(
        "--log-format",
        choices=FORMATS,
        default=os.environ.get("CHARGEPLANE_LOG_FORMAT", "text"),
        help="text lines or JSON lines on standard error (default text; CHARGEPLANE_LOG_FORMAT)",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    from chargeplane.csms.config import help_epilog

    serve = commands.add_parser(
        "serve",
        help="run the CSMS (OCPP endpoint, HTTP API, database, jobs)",
        description="Settings: defaults < --config file < CHARGEPLANE_* environment variables < these options "
        "(every setting is listed below and in docs/SETTINGS.md).",
        epilog=help_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_settings_options(serve)
    serve.add_argument("--ocpp-host", help="OCPP listen address (default 0.0.0.0)")
    serve.add_argument("--ocpp-port", type=int, help="plain ws port for profile 1 (default 9000)")
    serve.add_argument("--ocpp-tls-port", type=int, help="wss port for profiles 2 and 3 (default 9443)")
    serve.add_argument("--tls-certificate", type=Path, help="CSMS certificate chain (PEM); enables wss")
    serve.add_argument("--tls-key", type=Path, help="its private key (PEM)")
    serve.add_argument(
        "--tls-certificate2",
        type=Path,
        help="a second chain of the other key type (RSA / ECDSA), offered too",
    )
    serve.add_argument("--tls-key2", type=Path, help="the second certificate's private key (PEM)")
    serve.add_argument("--client-ca", type=Path, help="CA bundle for station certificates (profile 3)")
    serve.add_argument("--operator-name", help="required O of station certificates (profile 3)")
    serve.add_argument("--api-host", help="HTTP API listen address (default 127.0.0.1)")
    serve.add_argument("--api-port", type=int, help="HTTP API port (default 8080)")
    serve.add_argument(
        "--dev-allow-unauthenticated",
        action="store_true",
        help="development only, loopback only: unknown stations connect without credentials",
    )
    serve.add_argument(
        "--unknown-stations",
        choices=["refuse", "pending", "accept", "reject"],
        help="BootNotification answer for auto-registered stations (with --dev-allow-unauthenticated)",
    )
    serve.add_argument(
        "--access-log", action="store_true", default=None, help="log one line per HTTP API request"
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes sharing the ports (SO_REUSEPORT), one cluster node each: needs PostgreSQL and "
        "CHARGEPLANE_NATS_URL (default 1: one process, no NATS needed)",
    )
    serve.add_argument("--worker-index", type=int, help=argparse.SUPPRESS)  # set by the supervisor
    from chargeplane.csms.commands import add_token_command

    add_token_command(commands, _add_settings_options)
    from chargeplane.csms.blocks.firmware.commands import add_firmware_command

    add_firmware_command(commands, _add_settings_options)
    from chargeplane.csms.blocks.pki.commands import add_ca_command

    add_ca_command(commands, _add_settings_options)
    from chargeplane.csms.console.commands import add_user_command

    add_user_command(commands, _add_settings_options)
    from chargeplane.station.commands import add_station_commands

    add_station_commands(commands)  # station, simulate
    from chargeplane.tools.conformance.commands import add_conformance_command

    add_conformance_command(commands)
    return parser


def _add_settings_options(parser: argparse.ArgumentParser) -> None:
    """The options that locate the settings, shared by serve, token and user."""
    parser.add_argument("--config", type=Path, help="settings file (TOML, names as in docs/SETTINGS.md)")
    parser.add_argument("--database-url", help="default sqlite+aiosqlite:///chargeplane.db")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv  # what the workers of `serve --workers` are started with
    configure_logs(args.log_level, args.log_format)
    if args.command == "serve":
        with contextlib.suppress(KeyboardInterrupt), asyncio.Runner(loop_factory=_loop_factory()) as runner:
            return runner.run(_serve(args))
        return 0
    if args.command == "token":
        from chargeplane.csms.commands import run_token_command

        return asyncio.run(run_token_command(args, _settings(args, {"database_url": args.database_url})))
    if args.command == "firmware":
        from chargeplane.csms.blocks.firmware.commands import run_firmware_command

        return run_firmware_command(args, _settings(args, {"database_url": args.database_url}))
    if args.command == "ca":
        from chargeplane.csms.blocks.pki.commands import run_ca_command

        return asyncio.run(run_ca_command(args, _settings(args, {"database_url": args.database_url})))
    if args.command == "user":
        from chargeplane.csms.console.commands import run_user_command

        return asyncio.run(run_user_command(args, _settings(args, {"database_url": args.database_url})))
    if args.command in ("station", "station-ctl", "simulate"):
        from chargeplane.station.commands import run_command

        with contextlib.suppress(KeyboardInterrupt):
            return asyncio.run(run_command(args))
        return 0
    if args.command == "conformance":
        from chargeplane.tools.conformance.commands import run_command as run_conformance

        return asyncio.run(run_conformance(args))
    return 2


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop when it is installed (not on Windows), else the default asyncio loop.

    CHARGEPLANE_EVENT_LOOP=asyncio forces the default loop (for comparison, or to rule uvloop out)."""
    if os.environ.get("CHARGEPLANE_EVENT_LOOP", "").lower() == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def _settings(args: argparse.Namespace, overrides: dict[str, Any]) -> CsmsSettings:
    from chargeplane.csms.config import load_settings
    from chargeplane.csms.settings import SettingsError

    try:
        return load_settings(os.environ, args.config, overrides)
    except SettingsError as error:
        raise SystemExit(f"chargeplane {args.command}: {error}") from None


def _serve_settings(args: argparse.Namespace) -> CsmsSettings:
    from chargeplane.csms.blocks.provisioning.settings import ProvisioningSettings
    from chargeplane.csms.settings import UnknownStationPolicy

    overrides: dict[str, Any] = {
        "database_url": args.database_url,
        "api_host": args.api_host,
        "api_port": args.api_port,
        "api_access_log": args.access_log,
        "ocpp_host": args.ocpp_host,
        "ocpp_port": args.ocpp_port,
        "ocpp_tls_port": args.ocpp_tls_port,
        "tls_certificate": args.tls_certificate,
        "tls_key": args.tls_key,
        "tls_certificate2": args.tls_certificate2,
        "tls_key2": args.tls_key2,
        "client_ca": args.client_ca,
        "operator_name": args.operator_name,
    }
    if args.dev_allow_unauthenticated:
        overrides["ocpp_allow_unauthenticated"] = True
        overrides["ocpp_host"] = args.ocpp_host or "127.0.0.1"
    settings = _settings(args, overrides)
    if args.unknown_stations:
        provisioning = settings.block(ProvisioningSettings)
        policy = UnknownStationPolicy(args.unknown_stations)
        settings = settings.with_blocks(dataclasses.replace(provisioning, unknown_stations=policy))
    return settings


async def _serve(args: argparse.Namespace) -> int:
    from chargeplane.csms.app import Csms, PortInUse
    from chargeplane.csms.collector import CollectorPacing
    from chargeplane.csms.workers import CONFIG_ERROR, refusal, watch_parent, worker_settings

    settings = _serve_settings(args)
    reason = refusal(settings, args.workers)
    if reason is not None:
        print(f"chargeplane serve: {reason}", file=sys.stderr, flush=True)
        return CONFIG_ERROR
    if args.worker_index is None and args.workers > 1:
        return await _supervise(args, settings)
    if args.worker_index is not None:
        settings = worker_settings(settings, args.worker_index)
    csms = Csms(settings)
    try:
        token = await csms.start()
    except OSError as error:  # a port in use, an address that is not ours: one line, no traceback
        print(f"chargeplane serve: {error.strerror or error}", file=sys.stderr, flush=True)
        if isinstance(error, PortInUse):  # found before anything was created or started
            await csms.engine.dispose()
        else:
            await csms.stop(deadline=0)
        return 1
    collector = CollectorPacing()
    collector.start()
    stop = asyncio.Event()
    if args.worker_index is not None:  # the supervisor printed the banner and the token
        parent_watch = asyncio.create_task(watch_parent(os.getppid(), stop))
        log.info("worker %d: node %s", args.worker_index, settings.node_id)
    else:
        _banner(settings, token)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    if args.worker_index is not None:
        parent_watch.cancel()
    print("stopping...", file=sys.stderr, flush=True)
    await collector.stop()
    await csms.stop()
    return 0


def _banner(settings: CsmsSettings, token: str | None, workers: int = 1) -> None:
    ocpp = settings.ocpp
    print(f"Chargeplane CSMS {__version__}", flush=True)
    print(f"  OCPP:     ws://{ocpp.host}:{ocpp.port}{ocpp.path_prefix}/<stationId>", flush=True)
    if ocpp.tls is not None:
        print(f"            wss://{ocpp.host}:{ocpp.tls_port}{ocpp.path_prefix}/<stationId>", flush=True)
    print(f"  HTTP API: http://{settings.api_host}:{settings.api_port}/api/v1 (OpenAPI: /schema)", flush=True)
    print(
        f"  Console:  http://{settings.api_host}:{settings.api_port}/ (accounts: chargeplane user)",
        f"  Metrics:  http://{settings.api_host}:{settings.api_port}/metrics (probes: /healthz, /readyz)",
        sep="\n",
        flush=True,
    )
    print(f"  Database: {settings.database_url}", flush=True)
    if workers > 1:
        print(
            f"  Workers:  {workers} (nodes {settings.node_id}-w0..w{workers - 1}, {settings.nats_url})",
            flush=True,
        )
    if token is not None:
        print(f"\n  API token (shown once, store it now): {token}\n", flush=True)


async def _supervise(args: argparse.Namespace, settings: CsmsSettings) -> int:
    """The parent of ``serve --workers N``: prepare once, start the workers, keep them running."""
    from chargeplane.csms.app import PortInUse, check_ports
    from chargeplane.csms.workers import Supervisor, prepare

    try:
        check_ports(settings.with_overrides({"ocpp_reuse_port": True}))
    except PortInUse as error:
        print(f"chargeplane serve: {error.strerror or error}", file=sys.stderr, flush=True)
        return 1
    try:
        token = await prepare(settings)
    except OSError as error:  # the database is not there: one line, as a single process says it
        print(f"chargeplane serve: database: {error.strerror or error}", file=sys.stderr, flush=True)
        return 1
    _banner(settings, token, args.workers)
    command = [sys.executable, "-m", "chargeplane.cli", *args.argv]
    supervisor = Supervisor(lambda index: [*command, "--worker-index", str(index)], args.workers)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, supervisor.stop)
    code = await supervisor.run()
    print("stopped", file=sys.stderr, flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
