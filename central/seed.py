"""Fill a fresh central database with a city and the logins a demo or test needs.

The demo (`gridwatch demo`) and the browser tests share this: grids and city from
files, one login per worker with a shared password, staff logins, and a token per
edge node so nodes can upload media.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from central.auth.users import create_user, issue_token
from central.context import CentralContext
from central.db.models import UserRole
from central.grids.geojson import load_grid_file
from central.importer import import_city, import_grids, load_city_file


@dataclass(frozen=True, slots=True)
class StaffLogin:
    username: str
    password: str
    role: UserRole
    display_name: str = ""


@dataclass(frozen=True, slots=True)
class SeedResult:
    grids: int
    workers: int
    cameras: int
    edge_tokens: dict[str, str] = field(default_factory=dict)


def seed_city(
    context: CentralContext,
    grids_path: Path,
    city_path: Path,
    *,
    now: datetime,
    worker_password: str,
    staff: Sequence[StaffLogin] = (),
    edge_nodes: Sequence[str] = (),
) -> SeedResult:
    """Import the city into `context`'s database and create the logins.

    Each worker logs in by their id with `worker_password`; each of `edge_nodes`
    gets an `edge_node` user and a token that never expires.
    """
    features = load_grid_file(grids_path)
    city = load_city_file(city_path)
    tokens: dict[str, str] = {}
    with context.sessions.begin() as session:
        import_grids(session, features)
        import_city(session, city, now=now, worker_password=worker_password)
        for login in staff:
            create_user(
                session,
                login.username,
                login.password,
                login.role,
                display_name=login.display_name,
                now=now,
            )
        for node_id in edge_nodes:
            user = create_user(
                session,
                f"edge-{node_id}",
                None,
                UserRole.EDGE_NODE,
                node_id=node_id,
                display_name=f"edge node {node_id}",
                now=now,
            )
            tokens[node_id] = issue_token(
                session, user, now=now, ttl=None, label="demo edge node"
            )
    context.reload_reference_data()
    return SeedResult(
        grids=len(features),
        workers=len(city.workers),
        cameras=len(city.cameras),
        edge_tokens=tokens,
    )
