"""`gridwatch bench grid-import`: a whole city's grids through the admin API.

Generates a city's grids with `simulators.city` (Guangzhou scale by default:
20,031 grids), then, against central on a fresh SQLite database and through the
HTTP API in process (FastAPI's test client: the request and response are real,
the network is not), times what an admin does from the console:

- preview_new_s: `POST /api/v1/admin/grids/import?dry_run=true` of the file
  into an empty city (every area new; nothing written);
- apply_s: the same file without `dry_run` (import, audit, grid index rebuilt);
- preview_unchanged_s: the file again, dry run (every area unchanged);
- preview_one_renamed_s: the file with one grid renamed (one area updated).

Figures (one JSON line with --json): grids, file_mb, generate_s, each time
above, the counts each preview reported for the grid level, and peak_rss_mb.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from central.api.app import create_app
from central.auth.users import create_user, issue_token
from central.config import CentralSettings, MediaSettings
from central.context import build_context
from central.db.models import UserRole
from harness.bench.report import write_figures
from simulators.city import generate_city, spec_for, write_city

IMPORT = "/api/v1/admin/grids/import"


@dataclass(frozen=True, slots=True)
class Upload:
    """One timed request: seconds taken and the grid level's counts."""

    seconds: float
    grid_counts: dict[str, int]


def _post(client: TestClient, content: bytes, *, dry_run: bool) -> Upload:
    started = time.perf_counter()
    response = client.post(
        IMPORT,
        params={"dry_run": "true"} if dry_run else {},
        files={"file": ("grids.geojson", content, "application/geo+json")},
    )
    seconds = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"import answered {response.status_code}: {response.text}")
    body: dict[str, Any] = response.json()
    return Upload(seconds, body["counts"].get("grid", {}))


def _renamed_first(content: bytes) -> bytes:
    document = json.loads(content)
    document["features"][0]["properties"]["name"] += " (renamed)"
    return json.dumps(document, ensure_ascii=False).encode()


def _admin_client(workdir: Path) -> TestClient:
    context = build_context(
        CentralSettings(
            database_url=f"sqlite:///{workdir}/central.db",
            media=MediaSettings(dir=workdir / "media"),
        )
    )
    now = datetime.now(UTC)
    with context.sessions.begin() as session:
        admin = create_user(session, "admin", None, UserRole.ADMIN, now=now)
        token = issue_token(session, admin, now=now, ttl=timedelta(hours=2))
    return TestClient(create_app(context), headers={"Authorization": f"Bearer {token}"})


def run_bench(*, grids: int, seed: int) -> dict[str, Any]:
    """Generate the grids and time the four uploads; returns the figures."""
    with tempfile.TemporaryDirectory(prefix="gw-bench-grid-import-") as tmp:
        workdir = Path(tmp)
        started = time.perf_counter()
        city = generate_city(spec_for("guangzhou", grids=grids, seed=seed), clips=[])
        grids_path, _ = write_city(city, workdir / "city")
        generate_s = time.perf_counter() - started
        content = grids_path.read_bytes()
        with _admin_client(workdir) as client:
            preview_new = _post(client, content, dry_run=True)
            applied = _post(client, content, dry_run=False)
            unchanged = _post(client, content, dry_run=True)
            renamed = _post(client, _renamed_first(content), dry_run=True)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "grids": grids,
        "file_mb": round(len(content) / 1e6, 2),
        "generate_s": round(generate_s, 2),
        "preview_new_s": round(preview_new.seconds, 2),
        "apply_s": round(applied.seconds, 2),
        "preview_unchanged_s": round(unchanged.seconds, 2),
        "preview_one_renamed_s": round(renamed.seconds, 2),
        "preview_new_grids": preview_new.grid_counts,
        "preview_unchanged_grids": unchanged.grid_counts,
        "preview_one_renamed_grids": renamed.grid_counts,
        "peak_rss_mb": round(peak_kb / 1024),
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--grids",
        type=int,
        default=20_031,
        help="grids in the city (Guangzhou: 20,031)",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the city")
    parser.add_argument("--json", action="store_true", help="print JSON only")


def run_cli(args: argparse.Namespace) -> int:
    write_figures(run_bench(grids=args.grids, seed=args.seed), as_json=args.json)
    return 0
