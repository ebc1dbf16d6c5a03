"""What each broker identity may do, as Mosquitto ACL-file text.

Least privilege per identity: an edge node writes only under its own
`{prefix}/edge/{node}/` and reads only commands addressed to it; central reads
what the nodes publish and writes ticket notices, dead letters and the nodes'
commands (camera checks); an observer
(a dashboard, the test harness) reads everything and writes nothing; a worker's
terminal reads its own ticket topic; an IoT gateway writes only its own
`{prefix}/iot/{gateway}/` readings. Nobody else anything: with an ACL file,
Mosquitto refuses whatever no line grants, and anonymous clients are refused
at connect (`allow_anonymous false`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class BrokerRole(StrEnum):
    EDGE_NODE = "edge_node"
    CENTRAL = "central"
    OBSERVER = "observer"
    WORKER = "worker"
    # Publishes for any node: load generators and tests only, never a real node.
    SIMULATOR = "simulator"
    # A sensor gateway: publishes the readings of its own devices (docs/iot.md).
    IOT_GATEWAY = "iot_gateway"


_NEEDS_SUBJECT = frozenset(
    {BrokerRole.EDGE_NODE, BrokerRole.WORKER, BrokerRole.IOT_GATEWAY}
)


@dataclass(frozen=True, slots=True)
class BrokerIdentity:
    """One broker login.

    Attributes:
        username: The MQTT username (also what the ACL names).
        role: What it may do.
        subject: The node id of an edge node, the worker id of a worker, the
            gateway id of an IoT gateway.
    """

    username: str
    role: BrokerRole
    subject: str | None = None

    def __post_init__(self) -> None:
        for label, value in (("username", self.username), ("subject", self.subject)):
            if value is not None and not _NAME.match(value):
                raise ValueError(
                    f"broker {label} {value!r}: 1-64 of A-Z a-z 0-9 _ . - (no "
                    "wildcards, slashes or spaces)"
                )
        if self.role in _NEEDS_SUBJECT and not self.subject:
            raise ValueError(
                f"broker identity {self.username!r}: {self.role} needs a subject"
            )

    def grants(self, prefix: str) -> list[str]:
        """The ACL lines of this identity (after its `user` line)."""
        p = prefix.rstrip("/")
        match self.role:
            case BrokerRole.EDGE_NODE:
                return [
                    f"topic write {p}/edge/{self.subject}/#",
                    f"topic read {p}/edge/{self.subject}/commands/#",
                ]
            case BrokerRole.CENTRAL:
                return [
                    f"topic read {p}/edge/+/events",
                    f"topic read {p}/edge/+/status",
                    f"topic read {p}/edge/+/cameras/+/status",
                    f"topic read {p}/edge/+/cameras/+/occupancy",
                    # Camera checks: central asks a node, the node answers.
                    f"topic write {p}/edge/+/commands/#",
                    f"topic read {p}/edge/+/verifications",
                    f"topic read {p}/iot/+/readings",
                    f"topic readwrite {p}/workers/+/tickets",
                    f"topic readwrite {p}/central/#",
                ]
            case BrokerRole.OBSERVER:
                return [f"topic read {p}/#"]
            case BrokerRole.WORKER:
                return [f"topic read {p}/workers/{self.subject}/tickets"]
            case BrokerRole.SIMULATOR:
                return [
                    f"topic readwrite {p}/edge/#",
                    f"topic readwrite {p}/iot/#",
                    f"topic read {p}/#",
                ]
            case BrokerRole.IOT_GATEWAY:
                return [f"topic write {p}/iot/{self.subject}/#"]


def render_acl(identities: Iterable[BrokerIdentity], prefix: str) -> str:
    """The whole ACL file: one `user` section per identity, nothing for anyone else."""
    lines = ["# Written by gridwatch; changes here are overwritten.", ""]
    for identity in sorted(identities, key=lambda i: i.username):
        lines.append(f"user {identity.username}")
        lines += identity.grants(prefix)
        lines.append("")
    return "\n".join(lines)


def render_passwords(hashes: Iterable[tuple[str, str]]) -> str:
    """The password file: `username:$7$...` per line."""
    return "".join(f"{username}:{digest}\n" for username, digest in sorted(hashes))
