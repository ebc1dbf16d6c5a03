"""`gridwatch central run`: ingest, dispatch, deadlines and the HTTP API."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from pydantic import ValidationError

from central.commands.common import add_settings_arguments, settings_from
from central.config import CentralConfigError, CentralSettings, MqttSettings
from central.matters import MatterListError
from gridwatch.validation import describe_validation_error


def add_mqtt_arguments(
    parser: argparse.ArgumentParser, *, client_id_required: bool = False
) -> None:
    """The broker options `central run` and `central retire-slot` share."""
    parser.add_argument("--mqtt-host", help="broker host (default from config)")
    parser.add_argument("--mqtt-port", type=int, help="broker port")
    parser.add_argument(
        "--client-id",
        required=client_id_required,
        help="MQTT client id: the replica's fixed slot (central-1, central-2, ...)",
    )
    parser.add_argument("--mqtt-username", help="central's broker login")
    parser.add_argument(
        "--mqtt-password-file",
        type=Path,
        help="file holding the broker password (never pass it on the command line)",
    )


def mqtt_settings_from(
    args: argparse.Namespace, settings: CentralSettings
) -> MqttSettings:
    """The config's broker settings with the command line's overrides.

    Raises:
        CentralConfigError: the result is not valid (another host may need TLS).
    """
    overrides = {
        k: v
        for k, v in {
            "host": args.mqtt_host,
            "port": args.mqtt_port,
            "client_id": args.client_id,
            "username": args.mqtt_username,
            "password_file": args.mqtt_password_file,
        }.items()
        if v is not None
    }
    try:
        return MqttSettings.model_validate(
            {**settings.mqtt.model_dump(exclude_unset=True), **overrides}
        )
    except ValidationError as exc:
        raise CentralConfigError(describe_validation_error(exc)) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_settings_arguments(parser)
    add_mqtt_arguments(parser)
    parser.add_argument("--http-host", help="HTTP bind address")
    parser.add_argument("--http-port", type=int, help="HTTP port (0 = any free one)")
    parser.add_argument("--media-dir", type=Path, help="where media files are kept")
    parser.add_argument(
        "--no-api", action="store_true", help="ingest only (a worker replica)"
    )


def run_cli(args: argparse.Namespace) -> int:
    from central.server import CentralService

    try:
        settings = settings_from(args)
    except CentralConfigError as exc:
        print(f"central run: {exc}", file=sys.stderr)
        return 2
    try:
        mqtt = mqtt_settings_from(args, settings)
    except CentralConfigError as exc:
        print(f"central run: {exc}", file=sys.stderr)
        return 2
    http = settings.http.model_copy(
        update={
            k: v
            for k, v in {"host": args.http_host, "port": args.http_port}.items()
            if v is not None
        }
    )
    media = (
        settings.media.model_copy(update={"dir": args.media_dir})
        if args.media_dir
        else settings.media
    )
    settings = settings.model_copy(update={"mqtt": mqtt, "http": http, "media": media})
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        service = CentralService(settings, api=not args.no_api)
    except (MatterListError, CentralConfigError) as exc:
        print(f"central run: {exc}", file=sys.stderr)
        return 2
    service.start()
    api = (
        "ingest only (no API)"
        if args.no_api
        else f"{'https' if settings.http.tls else 'http'}://{settings.http.host}:"
        f"{service.http_port}/api/docs"
    )
    print(
        f"central: {api}, broker {settings.mqtt.host}:{settings.mqtt.port}"
        f"{' (TLS)' if settings.mqtt.tls else ''}, "
        f"database {service.context.engine.url.render_as_string(hide_password=True)}",
        flush=True,
    )
    try:
        stop.wait()
    finally:
        service.stop()
    return 0
