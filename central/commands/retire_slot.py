"""`gridwatch central retire-slot`: end a replica slot for good.

A replica's client id is a slot of the events' shared subscription, and the
broker keeps handing a slot its share while nobody is connected as it
(`central/ingest/replicas.py`). Scaling down from three replicas to two, say,
leaves `central-3`'s share waiting in the broker: this command connects as that
slot, stores what waited, leaves the group, ends the session and clears the
slot's presence message, then exits.
"""

from __future__ import annotations

import argparse
import sys

from central.commands.common import add_settings_arguments, settings_from
from central.commands.run import add_mqtt_arguments, mqtt_settings_from
from central.config import CentralConfigError
from central.matters import MatterListError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_settings_arguments(parser)
    add_mqtt_arguments(parser, client_id_required=True)
    parser.add_argument(
        "--quiet-s",
        type=float,
        default=5.0,
        help="drained once nothing has arrived for this long (default 5)",
    )
    parser.add_argument(
        "--timeout-s",
        type=float,
        default=300.0,
        help="give up (exit 1, the slot left as it was) after this long",
    )


def run_cli(args: argparse.Namespace) -> int:
    from central.server import CentralService

    try:
        settings = settings_from(args)
        mqtt = mqtt_settings_from(args, settings)
    except CentralConfigError as exc:
        print(f"central retire-slot: {exc}", file=sys.stderr)
        return 2
    if not mqtt.shared_group:
        print(
            "central retire-slot: mqtt.shared_group is unset: replicas share no "
            "subscription, so no slot holds events",
            file=sys.stderr,
        )
        return 2
    settings = settings.model_copy(update={"mqtt": mqtt})
    try:
        service = CentralService(settings, api=False, scheduler=False)
    except (MatterListError, CentralConfigError) as exc:
        print(f"central retire-slot: {exc}", file=sys.stderr)
        return 2
    service.start()
    try:
        drained = service.mqtt.retire(quiet_s=args.quiet_s, timeout_s=args.timeout_s)
    except TimeoutError as exc:
        print(
            f"central retire-slot: {exc}; slot {mqtt.client_id} kept", file=sys.stderr
        )
        return 1
    finally:
        service.stop()
    print(
        f"central retire-slot: {mqtt.client_id} retired ({drained} waiting messages "
        "stored; its session is ended)",
        flush=True,
    )
    return 0
