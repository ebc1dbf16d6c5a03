"""`gridwatch central tls`: a deployment's private CA and its certificates.

`init` makes the CA (`ca.crt`, `ca.key`) in `--ca-dir`; `issue` signs a server
certificate (the broker's TLS listener, central's HTTPS) or, with `--client`, a
client one; `show` prints what a certificate names and how long it is valid.
Keys are written readable by their owner only; nothing secret is printed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from central.pki import (
    DEFAULT_CA_DAYS,
    DEFAULT_LEAF_DAYS,
    PkiError,
    ca_paths,
    describe,
    init_ca,
    issue,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    init = actions.add_parser("init", help="Make the private CA (ca.crt, ca.key).")
    init.add_argument("--ca-dir", type=Path, required=True, help="folder for the CA")
    init.add_argument("--common-name", default="gridwatch private CA")
    init.add_argument("--days", type=int, default=DEFAULT_CA_DAYS)
    init.add_argument(
        "--replace",
        action="store_true",
        help="replace an existing CA (every certificate it signed must be reissued)",
    )
    sign = actions.add_parser(
        "issue", help="A certificate and key signed by the CA: NAME.crt, NAME.key."
    )
    sign.add_argument("name", help="file stem and common name, e.g. broker")
    sign.add_argument("--ca-dir", type=Path, required=True, help="folder of the CA")
    sign.add_argument(
        "--out", type=Path, help="folder to write into (default: the CA folder)"
    )
    sign.add_argument(
        "--host",
        action="append",
        default=[],
        help="DNS name or IP address clients use to reach the server (repeat)",
    )
    sign.add_argument(
        "--client", action="store_true", help="a client certificate, not a server one"
    )
    sign.add_argument("--days", type=int, default=DEFAULT_LEAF_DAYS)
    for sub in (init, sign):
        sub.add_argument(
            "--if-missing",
            action="store_true",
            help="do nothing (exit 0) when the files are already there (setup scripts)",
        )
    show = actions.add_parser("show", help="Names and validity of certificates.")
    show.add_argument("certs", type=Path, nargs="+")


def run_cli(args: argparse.Namespace) -> int:
    if args.action != "show" and args.if_missing and _present(args):
        print("central tls: already there, nothing done")
        return 0
    try:
        if args.action == "init":
            files = init_ca(
                args.ca_dir,
                common_name=args.common_name,
                days=args.days,
                replace=args.replace,
            )
            print(f"CA certificate {files.cert} (give it to every client)")
            print(f"CA key {files.key} (owner-only; keep it off the servers)")
        elif args.action == "issue":
            files = issue(
                args.ca_dir,
                args.out or args.ca_dir,
                args.name,
                hostnames=args.host,
                client=args.client,
                days=args.days,
            )
            print(f"certificate {files.cert}")
            print(f"key {files.key} (owner-only)")
        else:
            for cert in args.certs:
                print(describe(cert))
    except PkiError as error:
        print(f"central tls: {error}", file=sys.stderr)
        return 2
    return 0


def _present(args: argparse.Namespace) -> bool:
    if args.action == "init":
        return bool(ca_paths(args.ca_dir).key.exists())
    folder: Path = args.out or args.ca_dir
    return all((folder / f"{args.name}.{end}").exists() for end in ("crt", "key"))
