"""The `gridwatch` command: edge, central, sim, models, bench, demo, eval."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

# subcommand path → module exposing add_arguments(parser) and run_cli(args) -> int
COMMANDS: dict[tuple[str, str | None], tuple[str, str]] = {
    ("edge", "run"): ("edge.cli", "Run an edge node from a YAML config."),
    ("edge", "check-config"): ("edge.check_config", "Validate a node config and exit."),
    ("sim", "rtsp"): ("simulators.rtsp_server", "Serve a folder of clips over RTSP."),
    ("sim", "checkpoint"): ("simulators.checkpoint", "Push a clip as JPEG snapshots."),
    ("sim", "city"): ("simulators.city", "Write a synthetic city (grids, workers)."),
    ("sim", "sensors"): (
        "simulators.sensors",
        "Replay IoT sensor readings of a city's devices over MQTT.",
    ),
    ("sim", "scenario"): (
        "harness.scenario_command",
        "Composite test scenes (littering, crowds) with ground truth.",
    ),
    ("central", "run"): (
        "central.commands.run",
        "Run central: ingest, dispatch, deadlines, HTTP API.",
    ),
    ("central", "migrate"): ("central.commands.migrate", "Migrate the database."),
    ("central", "retire-slot"): (
        "central.commands.retire_slot",
        "End a replica slot: store what waited for it, end its session.",
    ),
    ("central", "import-grids"): (
        "central.commands.import_grids",
        "Import grid polygons from GeoJSON.",
    ),
    ("central", "import-city"): (
        "central.commands.import_city",
        "Import departments, workers and cameras.",
    ),
    ("central", "broker"): (
        "central.commands.broker",
        "Broker logins: provision a node, rotate, revoke.",
    ),
    ("central", "user"): (
        "central.commands.users",
        "Create a login (and a token); disable, enable, tokens, password reset.",
    ),
    ("central", "tls"): (
        "central.commands.tls",
        "Private CA and certificates for the broker's and central's TLS.",
    ),
    ("models", None): (
        "harness.models_command",
        "List, fetch, verify and rewrite ONNX models.",
    ),
    ("bench", "edge"): (
        "harness.bench.edge",
        "Benchmark the edge node on N streams.",
    ),
    ("bench", "density"): (
        "harness.bench.density",
        "The most camera streams one edge node sustains (cameras per core).",
    ),
    ("bench", "readers"): (
        "harness.bench.readers",
        "What the stream readers' read timeout costs the node's Python threads.",
    ),
    ("bench", "clips"): (
        "harness.bench.clips",
        "Clip cost: analysed frames against the camera's packets (full rate).",
    ),
    ("bench", "central"): (
        "harness.bench.central",
        "Benchmark central: N events through the broker.",
    ),
    ("bench", "fuzz"): (
        "harness.bench.fuzz",
        "Fuzz central: valid and malformed messages through the broker.",
    ),
    ("bench", "chaos"): (
        "harness.bench.chaos",
        "Inject faults (killed replicas, database, broker, edge) and count losses.",
    ),
    ("bench", "soak"): (
        "harness.bench.soak",
        "Run the stack under steady load; report memory and file handles over time.",
    ),
    ("bench", "map"): (
        "harness.bench.map",
        "Time the console's map with a whole city (20,031 grids) in Chromium.",
    ),
    ("bench", "warnings"): (
        "harness.bench.warnings",
        "Backtest hotspot early warning on generated history with injected rises.",
    ),
    ("bench", "city"): (
        "harness.bench.city",
        "A city-year of cases in PostgreSQL: evaluation, lists, queue, exports.",
    ),
    ("bench", "grid-import"): (
        "harness.bench.grid_import",
        "A whole city's grids through the admin API: preview, apply, preview again.",
    ),
    ("demo", None): ("harness.demo", "Run the whole stack on embedded defaults."),
    ("eval", None): (
        "harness.accuracy.command",
        "Score the pipeline on scenario clips with ground truth.",
    ),
}

GROUP_HELP = {
    "edge": "Edge node commands.",
    "sim": "Simulators for tests and demos.",
    "central": "Central service: tickets, dispatch, API.",
    "bench": "Benchmarks that print figures (JSON with --json).",
}


def _add_command(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    module_name: str,
    help_text: str,
) -> None:
    parser = subparsers.add_parser(name, help=help_text, description=help_text)
    module = importlib.import_module(module_name)
    module.add_arguments(parser)
    parser.set_defaults(_run=module.run_cli)


def _command_words(argv: Sequence[str]) -> list[str]:
    """The first two positional words (the command), skipping top-level options."""
    words: list[str] = []
    skip_next = False
    for arg in argv:
        if skip_next:
            skip_next = False
        elif arg == "--log-level":
            skip_next = True
        elif not arg.startswith("-"):
            words.append(arg)
    return words[:2]


def build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    """Builds the parser, importing only the module of the chosen command."""
    parser = argparse.ArgumentParser(prog="gridwatch", description=__doc__)
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING, ...")
    top = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = _command_words(argv)
    groups: dict[str, argparse._SubParsersAction[argparse.ArgumentParser]] = {}
    for (group, sub), (module_name, help_text) in COMMANDS.items():
        wanted = chosen[:1] == [group] and (sub is None or chosen[1:2] == [sub])
        if sub is None:
            if wanted:
                _add_command(top, group, module_name, help_text)
            else:
                top.add_parser(group, help=help_text)
            continue
        if group not in groups:
            group_parser = top.add_parser(group, help=GROUP_HELP[group])
            groups[group] = group_parser.add_subparsers(
                dest="subcommand", required=True, metavar="SUBCOMMAND"
            )
        if wanted:
            _add_command(groups[group], sub, module_name, help_text)
        else:
            groups[group].add_parser(sub, help=help_text)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(args_list)
    args = parser.parse_args(args_list)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    run = getattr(args, "_run", None)
    if run is None:
        parser.error(f"command {args.command!r} is not available")
    result: int = run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
