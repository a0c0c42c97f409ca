"""The `parley` command: `serve`, `db upgrade`, `models install`, `doctor`.

Settings are loaded once here; an invalid one stops the command with one message listing every
problem, and exit status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from parley import __version__
from parley.config import Settings, load_settings
from parley.errors import ParleyError, SettingsError
from parley.logs import configure_logging


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = _settings(args)
    except SettingsError as exc:
        print(f"parley: {exc.message}", file=sys.stderr)
        return 2
    configure_logging(settings.server.log_level, settings.server.log_format, settings.secrets())
    try:
        result: int = args.run(settings)
    except ParleyError as exc:
        print(f"parley: {exc.message}", file=sys.stderr)
        return 1
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="parley", description=__doc__)
    parser.add_argument("--version", action="version", version=f"parley {__version__}")
    parser.add_argument("--env-file", default=".env", help="settings file (default: .env)")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the server")
    serve.add_argument("--host", help="address to listen on (default: HOST or 0.0.0.0)")
    serve.add_argument("--port", type=int, help="port to listen on (default: PORT or 3000)")
    serve.set_defaults(run=_serve)

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(required=True, metavar="ACTION")
    db_commands.add_parser("upgrade", help="apply pending migrations").set_defaults(run=_upgrade)

    models = commands.add_parser("models", help="local model files")
    model_commands = models.add_subparsers(required=True, metavar="ACTION")
    model_commands.add_parser(
        "install", help="assemble and check the local models from their packages"
    ).set_defaults(run=_install_models)

    commands.add_parser(
        "doctor", help="check what is installed, configured and reachable"
    ).set_defaults(run=_doctor)
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    server = {
        key: value
        for key, value in (
            ("host", getattr(args, "host", None)),
            ("port", getattr(args, "port", None)),
        )
        if value is not None
    }
    return load_settings(args.env_file, server=server)


def _serve(settings: Settings) -> int:
    import uvicorn

    from parley.web.app import create_asgi_app

    config = uvicorn.Config(
        create_asgi_app(settings),
        host=settings.server.host,
        port=settings.server.port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=int(settings.server.shutdown_timeout_s),
    )
    server = uvicorn.Server(config)
    server.run()
    return 0 if server.started else 1


def _upgrade(settings: Settings) -> int:
    from parley.storage.db import Database

    async def upgrade() -> tuple[str, str | None]:
        database = Database(settings.database_url)
        try:
            return database.describe(), await database.upgrade()
        finally:
            await database.aclose()

    where, revision = asyncio.run(upgrade())
    print(f"database {where} is at revision {revision}")
    return 0


def _install_models(settings: Settings) -> int:
    from tqdm import tqdm

    from parley.ai import assets

    for asset in assets.JOINED:
        target = asset.path(settings.ai.models_path)
        if assets.is_installed(asset, settings.ai.models_path):
            print(f"ok        {target}")
            continue
        with tqdm(
            total=assets.total_size(asset), unit="B", unit_scale=True, desc=Path(asset.target).name
        ) as bar:
            assets.install(asset, settings.ai.models_path, progress=bar.update)
        print(f"installed {target} (sha256 checked)")
    for packaged in (assets.PIPER_JOE, assets.SILERO_VAD):
        print(f"ok        {packaged.locate()}")
    return 0


def _doctor(settings: Settings) -> int:
    from parley.doctor import Level, run_checks

    findings = asyncio.run(run_checks(settings))
    for finding in findings:
        print(finding.line())
    return 1 if any(f.level is Level.FAIL for f in findings) else 0
