"""The demo's people channels next to its cameras: a grid worker files a patrol
report (网格员巡查上报) and a citizen reports a problem on the public page, follows
it to its close and rates it (回访) — the HTTP calls the worker terminal and the
citizen page make, against the running demo stack.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import httpx

PATROL_WORKER = "w00006"  # full-time, always on duty in the demo city
PATROL_GRID = "440106001001001"  # w00006's grid
PATROL_MATTER = "damaged_facility"  # no camera rule reports it: its own ticket
CITIZEN_MATTER = "illegal_vending"
TIMEOUT_S = 15.0


class ChannelError(RuntimeError):
    """A channel call failed; the message names the step and the answer."""


@dataclass(frozen=True, slots=True)
class ChannelOutcome:
    """What the channels left in central: the patrol ticket, the citizen
    ticket, and the rating the citizen gave once it was closed."""

    patrol_ticket: int
    citizen_ticket: int
    rating: str


def exercise_channels(central_url: str, password: str) -> ChannelOutcome:
    """File a patrol report and a citizen report, take the citizen's through
    the closed loop (confirm, accept, resolve, close) and rate it.

    Raises:
        ChannelError: a call was refused or central could not be reached.
    """
    try:
        with _Session(central_url, password) as calls:
            return _exercise(calls)
    except httpx.HTTPError as exc:
        raise ChannelError(f"central could not be reached: {exc}") from exc


def _exercise(calls: _Session) -> ChannelOutcome:
    operator = calls.login("operator")
    centres = _grid_centres(calls.answer("grids", operator.get("/grids")))
    patrol_point = centres[PATROL_GRID]
    citizen_grid = next(code for code in sorted(centres) if code != PATROL_GRID)

    worker = calls.login(PATROL_WORKER)
    patrol = calls.answer(
        "patrol report",
        worker.post(
            "/patrol/reports",
            data={
                "client_key": f"demo-{secrets.token_hex(8)}",
                "matter_key": PATROL_MATTER,
                "description": "Broken railing by the footbridge (demo patrol)",
                "lat": str(patrol_point[0]),
                "lon": str(patrol_point[1]),
            },
        ),
    )

    lat, lon = centres[citizen_grid]
    sent = calls.answer(
        "citizen report",
        calls.public.post(
            "/citizen/reports",
            data={
                "matter_key": CITIZEN_MATTER,
                "description": "Street stall blocking the pavement (demo citizen)",
                "lat": str(lat),
                "lon": str(lon),
            },
        ),
    )
    ticket_id = int(sent["reference"])
    track = {"X-Tracking-Token": str(sent["tracking_token"])}

    confirmed = calls.answer(
        "confirm", operator.post(f"/tickets/{ticket_id}/confirm", json={})
    )
    handler = calls.login(str(confirmed["assignee_id"]))
    calls.answer("accept", handler.post(f"/tickets/{ticket_id}/accept"))
    calls.answer(
        "resolve",
        handler.post(
            f"/tickets/{ticket_id}/resolve", data={"note": "Stall moved on (demo)"}
        ),
    )
    calls.answer(
        "close",
        operator.post(f"/tickets/{ticket_id}/close", json={"note": "checked (demo)"}),
    )
    rated = calls.answer(
        "rating",
        calls.public.post(
            "/citizen/track/rating",
            headers=track,
            json={"rating": "satisfied", "comment": "quick, thank you (demo)"},
        ),
    )
    return ChannelOutcome(
        patrol_ticket=int(patrol["ticket"]["id"]),
        citizen_ticket=ticket_id,
        rating=str(rated["rating"]),
    )


def _grid_centres(collection: dict[str, Any]) -> dict[str, tuple[float, float]]:
    """Each grid's (lat, lon): the mean of its outer ring's corners."""
    centres: dict[str, tuple[float, float]] = {}
    for feature in collection["features"]:
        ring = feature["geometry"]["coordinates"][0][:-1]
        lon = sum(p[0] for p in ring) / len(ring)
        lat = sum(p[1] for p in ring) / len(ring)
        centres[str(feature["properties"]["code"])] = (lat, lon)
    return centres


class _Session:
    """HTTP clients on central's API: the public one and one per login."""

    def __init__(self, central_url: str, password: str) -> None:
        self.base = f"{central_url}/api/v1"
        self.password = password
        self.public = httpx.Client(base_url=self.base, timeout=TIMEOUT_S)
        self.clients: list[httpx.Client] = [self.public]

    def login(self, username: str) -> httpx.Client:
        answer = self.answer(
            f"login {username}",
            self.public.post(
                "/auth/token", data={"username": username, "password": self.password}
            ),
        )
        client = httpx.Client(
            base_url=self.base,
            headers={"Authorization": f"Bearer {answer['access_token']}"},
            timeout=TIMEOUT_S,
        )
        self.clients.append(client)
        return client

    @staticmethod
    def answer(step: str, response: httpx.Response) -> dict[str, Any]:
        if response.is_error:
            raise ChannelError(
                f"{step}: HTTP {response.status_code}: {response.text[:300]}"
            )
        body: dict[str, Any] = response.json()
        return body

    def __enter__(self) -> _Session:
        return self

    def __exit__(self, *exc: object) -> None:
        for client in self.clients:
            client.close()
