"""Running the grid from the API (admin): workers with their grids, role and duty
roster, the 1+1+N shape, dispatch following a roster change at once, and grid
import with a preview that writes nothing; every change audited. The flows run on
SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from central.context import build_context
from central.db.models import Area, AuditEntry, Worker, WorkerArea
from central.reference_watch import ReferenceWatch
from tests.central.api.conftest import (
    COMMUNITY,
    GRID_1,
    GRID_1_POINT,
    Api,
    open_api,
    square,
)

WORKERS = "/api/v1/admin/workers"
IMPORT = "/api/v1/admin/grids/import"
GRID_3 = "440106001001003"
GRID_3_POINT = (23.1225, 113.3325)  # lon 113.330-113.335
NAMES = {
    "city_name": "Guangzhou",
    "district_name": "Tianhe",
    "street_name": "Shipai",
    "community_name": "Gangding",
}


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)]
)
def city(
    request: pytest.FixtureRequest, tmp_path: Path, password_hash: str
) -> Iterator[Api]:
    url = None
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
    with open_api(tmp_path, password_hash, database_url=url) as opened:
        yield opened


@pytest.fixture(scope="module")
def quiet(
    tmp_path_factory: pytest.TempPathFactory, password_hash: str
) -> Iterator[Api]:
    """One tiny city for the tests that change nothing (reads and refusals)."""
    with open_api(tmp_path_factory.mktemp("grid-admin"), password_hash) as opened:
        yield opened


def new_worker(**fields: Any) -> dict[str, Any]:
    return {"id": "p1", "name": "Zhao Min", "role": "part_time", **fields}


def audit_rows(api: Api, action: str) -> list[AuditEntry]:
    with api.context.sessions() as session:
        return list(
            session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == action)
                .order_by(AuditEntry.id)
            )
        )


def grid_file(*grids: tuple[str, str, float]) -> bytes:
    """A FeatureCollection of (code, name, west longitude) squares."""
    features = [
        {
            "type": "Feature",
            "geometry": square(lon0, 23.120),
            "properties": {"code": code, "name": name, **NAMES},
        }
        for code, name, lon0 in grids
    ]
    return json.dumps({"type": "FeatureCollection", "features": features}).encode()


def upload(
    api: Api, content: bytes, *, dry_run: bool, user: str = "admin"
) -> httpx.Response:
    return api.post(
        user,
        IMPORT,
        params={"dry_run": "true"} if dry_run else {},
        files={"file": ("grids.geojson", content, "application/geo+json")},
    )


def stored_areas(api: Api) -> list[tuple[Any, ...]]:
    with api.context.sessions() as session:
        return [
            (a.code, a.level, a.name, a.parent_code, json.dumps(a.geometry))
            for a in session.scalars(select(Area).order_by(Area.code))
        ]


def audit_count(api: Api) -> int:
    with api.context.sessions() as session:
        return session.scalar(select(func.count()).select_from(AuditEntry)) or 0


# -- workers ------------------------------------------------------------------------


def test_list_workers_given_the_tiny_city_should_show_grids_duty_and_logins(
    quiet: Api,
) -> None:
    response = quiet.get("admin", WORKERS)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == body["count"] == 3
    by_id = {w["id"]: w for w in body["data"]}
    assert by_id["w1"]["areas"] == [GRID_1]
    assert by_id["w1"]["login"] == "worker1"
    assert by_id["w1"]["duty"] == [] and by_id["w1"]["on_duty"] is True
    assert by_id["lead"]["role"] == "grid_leader"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"q": "wang"}, ["w2"]),
        ({"q": "W1"}, ["w1"]),
        ({"q": "%"}, []),
        ({"role": "grid_leader"}, ["lead"]),
        ({"area": COMMUNITY}, ["lead", "w1", "w2"]),
        ({"area": GRID_1}, ["w1"]),
        ({"active": "false"}, []),
        ({"limit": 1, "offset": 1}, ["w1"]),
    ],
)
def test_list_workers_given_a_filter_should_show_only_matches(
    quiet: Api, params: dict[str, Any], expected: list[str]
) -> None:
    response = quiet.get("admin", WORKERS, params=params)
    assert response.status_code == 200, response.text
    assert [w["id"] for w in response.json()["data"]] == expected


def test_worker_changes_given_an_admin_should_be_stored_audited_and_dispatched(
    city: Api,
) -> None:
    created = city.post(
        "admin",
        WORKERS,
        json=new_worker(areas=[GRID_1], phone="10012345678"),
    )
    assert created.status_code == 201, created.text
    assert created.json()["areas"] == [GRID_1]
    assert city.context.directory.get("p1") is not None  # dispatch knows them
    [made] = audit_rows(city, "worker_created")
    assert made.actor == "admin" and made.target == "p1"
    assert made.detail["areas"] == [GRID_1]

    changed = city.client.patch(
        f"{WORKERS}/p1",
        headers=city.auth("admin"),
        json={"name": "Zhao Min (evenings)", "phone": None},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["name"] == "Zhao Min (evenings)"
    assert changed.json()["phone"] is None
    [updated] = audit_rows(city, "worker_updated")
    assert updated.detail["changed"] == {
        "name": {"from": "Zhao Min", "to": "Zhao Min (evenings)"},
        "phone": {"from": "10012345678", "to": None},
    }
    again = city.client.patch(
        f"{WORKERS}/p1",
        headers=city.auth("admin"),
        json={"name": "Zhao Min (evenings)"},
    )
    assert again.status_code == 200
    assert len(audit_rows(city, "worker_updated")) == 1  # nothing changed

    off = city.client.patch(
        f"{WORKERS}/p1", headers=city.auth("admin"), json={"active": False}
    )
    assert off.status_code == 200 and off.json()["on_duty"] is False
    assert city.context.directory.get("p1") is None  # no new tickets for them


def test_duty_roster_given_an_overnight_window_should_be_stored_and_audited(
    city: Api,
) -> None:
    windows = [{"days": [5, 1, 3], "start": "22:00", "end": "06:00"}]
    response = city.put("admin", f"{WORKERS}/w2/duty", json={"windows": windows})
    assert response.status_code == 200, response.text
    assert response.json()["duty"] == [
        {"days": [1, 3, 5], "start": "22:00", "end": "06:00"}
    ]
    with city.context.sessions() as session:
        assert session.get_one(Worker, "w2").duty == response.json()["duty"]
    [entry] = audit_rows(city, "worker_duty_set")
    assert entry.target == "w2" and entry.detail["from"] == []
    assert entry.detail["to"] == response.json()["duty"]


def test_dispatch_given_a_roster_change_should_go_to_the_worker_on_duty(
    city: Api,
) -> None:
    """START is Wednesday 02:00 (UTC, the city's zone here)."""
    assert city.create_ticket()["assignee_id"] == "w1"
    part_time = city.post("admin", WORKERS, json=new_worker(areas=[GRID_1]))
    assert part_time.status_code == 201, part_time.text
    daytime = [{"days": [1, 2, 3, 4, 5], "start": "08:00", "end": "18:00"}]
    assert city.put("admin", f"{WORKERS}/w1/duty", json={"windows": daytime}).is_success
    assert city.create_ticket()["assignee_id"] == "p1"  # w1 is off duty now

    nights = [{"days": [2], "start": "22:00", "end": "06:00"}]  # Tue 22:00 → Wed
    assert city.put("admin", f"{WORKERS}/w1/duty", json={"windows": nights}).is_success
    assert city.create_ticket()["assignee_id"] == "w1"  # back on duty


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (new_worker(id="w1"), 409, "taken"),
        (new_worker(role="full_time", areas=[GRID_1]), 409, "already has a full-time"),
        (new_worker(role="grid_leader", areas=[COMMUNITY]), 409, "lead (Chen Jing)"),
        (new_worker(areas=["440106009"]), 422, "unknown area"),
        (new_worker(role="department_staff"), 422, "need a department"),
        (new_worker(department_code="NOPE"), 422, "unknown department"),
        (new_worker(areas=["44x"]), 422, "areas"),
        (new_worker(id="bad id"), 422, "id"),
        (new_worker(duty=[{"days": [8], "start": "08:00", "end": "09:00"}]), 422, ""),
        (new_worker(duty=[{"days": [1], "start": "24:00", "end": "09:00"}]), 422, ""),
        (
            new_worker(duty=[{"days": [1], "start": "08:00", "end": "08:00"}]),
            422,
            "covers no time",
        ),
    ],
)
def test_create_worker_given_a_bad_request_should_refuse_it_and_change_nothing(
    quiet: Api, body: dict[str, Any], status: int, words: str
) -> None:
    response = quiet.post("admin", WORKERS, json=body)
    assert response.status_code == status, response.text
    assert words in response.text
    assert not audit_rows(quiet, "worker_created")
    with quiet.context.sessions() as session:
        assert session.get(Worker, "p1") is None


def test_1_1_n_given_an_inactive_leader_should_let_a_new_one_take_the_area(
    api: Api,
) -> None:
    off = api.client.patch(
        f"{WORKERS}/lead", headers=api.auth("admin"), json={"active": False}
    )
    assert off.status_code == 200, off.text
    leader = new_worker(id="lead2", role="grid_leader", areas=[COMMUNITY])
    assert api.post("admin", WORKERS, json=leader).status_code == 201
    back = api.client.patch(
        f"{WORKERS}/lead", headers=api.auth("admin"), json={"active": True}
    )
    assert back.status_code == 409 and "lead2" in back.json()["detail"]
    staff = api.client.patch(
        f"{WORKERS}/w1",
        headers=api.auth("admin"),
        json={"role": "department_staff", "department_code": "TH-SAN"},
    )
    assert staff.status_code == 200, staff.text
    assert staff.json()["department_code"] == "TH-SAN"


def test_update_given_an_imported_clash_should_still_rename_but_not_move(
    api: Api,
) -> None:
    """An import may break 1+1+N; a rename does not refuse, a move still does."""
    with api.context.sessions.begin() as session:
        session.add(Worker(id="w9", name="Second", role="full_time", duty=[]))
        session.flush()
        session.add(WorkerArea(worker_id="w9", area_code=GRID_1))
    renamed = api.client.patch(
        f"{WORKERS}/w9", headers=api.auth("admin"), json={"name": "Second shift"}
    )
    assert renamed.status_code == 200, renamed.text
    moved = api.client.patch(
        f"{WORKERS}/w2", headers=api.auth("admin"), json={"areas": [GRID_1]}
    )
    assert moved.status_code == 409
    assert "already has a full-time worker" in moved.json()["detail"]


@pytest.mark.parametrize(
    ("url", "body", "status"),
    [
        (f"{WORKERS}/nobody", {"name": "x"}, 404),
        (f"{WORKERS}/w1", {"name": None}, 422),
        (f"{WORKERS}/w1", {"role": "boss"}, 422),
        (f"{WORKERS}/w2", {"role": "full_time", "areas": [GRID_1]}, 409),
    ],
)
def test_update_worker_given_a_request_should_answer_its_status(
    quiet: Api, url: str, body: dict[str, Any], status: int
) -> None:
    response = quiet.client.patch(url, headers=quiet.auth("admin"), json=body)
    assert response.status_code == status, response.text


def test_duty_given_an_unknown_worker_or_a_bad_window_should_refuse(quiet: Api) -> None:
    window = {"days": [1], "start": "08:00", "end": "09:00"}
    assert (
        quiet.put(
            "admin", f"{WORKERS}/nobody/duty", json={"windows": [window]}
        ).status_code
        == 404
    )
    bad = {**window, "start": "8am"}
    response = quiet.put("admin", f"{WORKERS}/w1/duty", json={"windows": [bad]})
    assert response.status_code == 422
    assert not audit_rows(quiet, "worker_duty_set")


def test_operator_given_the_worker_admin_should_be_refused(quiet: Api) -> None:
    assert quiet.get("operator", WORKERS).status_code == 403
    assert quiet.post("operator", WORKERS, json=new_worker()).status_code == 403
    assert (
        upload(
            quiet, grid_file((GRID_3, "Grid 3", 113.330)), dry_run=True, user="operator"
        ).status_code
        == 403
    )


# -- grid import --------------------------------------------------------------------


def test_grid_import_given_a_dry_run_should_preview_and_write_nothing(
    city: Api,
) -> None:
    content = grid_file((GRID_1, "Grid 1 north", 113.320), (GRID_3, "Grid 3", 113.330))
    before, audited = stored_areas(city), audit_count(city)
    response = upload(city, content, dry_run=True)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["dry_run"] and not body["applied"] and body["can_apply"]
    assert body["counts"]["grid"] == {"created": 1, "updated": 1, "unchanged": 0}
    assert body["counts"]["street"] == {"created": 0, "updated": 0, "unchanged": 1}
    changes = {c["code"]: c for c in body["changes"]}
    assert changes[GRID_3]["change"] == "created"
    assert "name" in changes[GRID_1]["fields"]
    assert stored_areas(city) == before
    assert audit_count(city) == audited
    assert city.context.lookup_grid(*GRID_3_POINT) is None


def test_grid_import_given_a_good_file_should_apply_audit_and_reload(city: Api) -> None:
    content = grid_file((GRID_1, "Grid 1 north", 113.320), (GRID_3, "Grid 3", 113.330))
    response = upload(city, content, dry_run=False)
    assert response.status_code == 200, response.text
    assert response.json()["applied"] is True
    [entry] = audit_rows(city, "grids_imported")
    assert entry.detail["sha256"] == hashlib.sha256(content).hexdigest()
    assert entry.target == "grids.geojson" and entry.actor == "admin"
    assert city.context.lookup_grid(*GRID_3_POINT) == GRID_3  # lookup follows
    names = {
        f["id"]: f["properties"]["name"]
        for f in city.get("admin", "/api/v1/grids").json()["features"]
    }
    assert names[GRID_1] == "Grid 1 north" and names[GRID_3] == "Grid 3"

    again = upload(city, content, dry_run=True).json()
    assert again["changes"] == []
    assert all(c["created"] == c["updated"] == 0 for c in again["counts"].values())
    assert city.context.lookup_grid(*GRID_1_POINT) == GRID_1


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (grid_file(("12", "Short", 113.330)), "features[0]"),
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (b"[" * 100_000, "nested too deeply"),
        (json.dumps({"type": "FeatureCollection", "features": []}).encode(), "empty"),
    ],
)
def test_grid_import_given_a_bad_file_should_refuse_it_and_write_nothing(
    quiet: Api, content: bytes, problem: str
) -> None:
    before, audited = stored_areas(quiet), audit_count(quiet)
    preview = upload(quiet, content, dry_run=True)
    assert preview.status_code == 200, preview.text
    assert not preview.json()["can_apply"]
    assert any(problem in p for p in preview.json()["refused"])
    applied = upload(quiet, content, dry_run=False)
    assert applied.status_code == 422
    assert problem in applied.json()["detail"]
    assert stored_areas(quiet) == before and audit_count(quiet) == audited


# -- other processes ----------------------------------------------------------------


def test_another_replica_given_a_change_here_should_reload_within_a_poll(
    city: Api,
) -> None:
    """A second process on the same database (as a replica would be) polls the
    audit log and reloads its directory, then its grid index after an import."""
    other = build_context(city.context.settings, clock=city.clock)
    try:
        watch = ReferenceWatch(other, interval_s=60)
        assert watch.check_once() is False  # nothing changed yet
        nights = [{"days": [1, 2, 3, 4, 5, 6, 7], "start": "22:00", "end": "06:00"}]
        assert city.put(
            "admin", f"{WORKERS}/w1/duty", json={"windows": nights}
        ).is_success
        before = other.directory.get("w1")
        assert before is not None and before.duty == ()
        assert watch.check_once() is True
        after = other.directory.get("w1")
        assert after is not None and len(after.duty) == 1
        assert watch.check_once() is False

        content = grid_file((GRID_3, "Grid 3", 113.330))
        assert upload(city, content, dry_run=False).status_code == 200
        assert other.lookup_grid(*GRID_3_POINT) is None
        assert watch.check_once() is True
        assert other.lookup_grid(*GRID_3_POINT) == GRID_3
    finally:
        other.engine.dispose()


def test_grid_import_given_a_file_over_the_api_limit_should_take_it_as_an_upload(
    quiet: Api,
) -> None:
    """A city's grids are megabytes: the upload limit applies, not the 1 MiB one."""
    api_limit = quiet.context.settings.http.body.max_api_bytes
    content = grid_file((GRID_1, "Grid 1", 113.320)) + b" " * (api_limit + 1)
    response = upload(quiet, content, dry_run=True)
    assert response.status_code == 200, response.text
    assert response.json()["can_apply"] is True
