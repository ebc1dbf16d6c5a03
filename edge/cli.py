"""`gridwatch edge run`: run one edge node until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path
from types import FrameType

from edge.check_config import load_or_report
from edge.config import ConfigError
from edge.factory import build_node
from models.faces import FaceModelError
from models.manifest import NotFoundError, UnknownEntryError

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, required=True, help="Node config YAML.")


def run_cli(args: argparse.Namespace) -> int:
    config = load_or_report(args.config)
    if config is None:
        return 2
    try:
        node = build_node(config)
    except (ConfigError, FaceModelError, NotFoundError, UnknownEntryError) as error:
        # A missing model, face model or token: one line naming it, no traceback.
        sys.stderr.write(f"edge run: {error}\n")
        return 2

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        logger.info("signal %d: stopping", signum)
        node.request_stop()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    node.start()
    sys.stdout.write(
        f"node {config.node_id} running: {len(config.cameras)} cameras; "
        f"health {node.http_url}/healthz, metrics {node.http_url}/metrics "
        "(monitoring token)\n"
    )
    sys.stdout.flush()
    node.wait()
    node.stop()
    return 0
