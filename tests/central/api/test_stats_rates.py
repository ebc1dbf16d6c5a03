"""三率 through the statistics API: a patrol case handled on the spot and a
citizen's rated report show in the evaluation, as JSON and as CSV."""

from __future__ import annotations

import csv
import io

from central.citizens.reports import Rating, ReportDesk, ReportIn
from central.db.models import Ticket
from tests.central.api.conftest import GRID_1_POINT, Api, tiny_jpeg

EVALUATION = "/api/v1/stats/evaluation?period=day&by=worker"


def handle_on_patrol(api: Api) -> int:
    response = api.post(
        "worker1",
        "/api/v1/patrol/reports",
        data={
            "client_key": "rates-key-0001",
            "matter_key": "littering",
            "lat": str(GRID_1_POINT[0]),
            "lon": str(GRID_1_POINT[1]),
            "handling": "self",
            "resolution_note": "swept",
        },
        files={"after_photo": ("after.jpg", tiny_jpeg(), "image/jpeg")},
    )
    assert response.status_code == 201, response.text
    ticket_id: int = response.json()["ticket"]["id"]
    return ticket_id


def rated_citizen_report(api: Api, rating: Rating) -> None:
    desk = ReportDesk(api.context)
    ticket, token = desk.submit(
        ReportIn(
            matter_key="littering",
            description="bags",
            lat=GRID_1_POINT[0],
            lon=GRID_1_POINT[1],
        )
    )
    assert token is not None
    with api.context.sessions.begin() as session:
        row = session.get_one(Ticket, ticket.id)
        row.state, row.assignee_id = "closed", "w1"
        row.closed_at = api.clock.now()
    desk.rate(token, rating, "")


def test_evaluation_given_patrol_and_ratings_should_show_the_three_rates(
    api: Api,
) -> None:
    handle_on_patrol(api)
    rated_citizen_report(api, Rating.BASICALLY_SATISFIED)
    rated_citizen_report(api, Rating.DISSATISFIED)
    response = api.get("operator", EVALUATION)
    assert response.status_code == 200, response.text
    w1 = next(r for r in response.json()["rows"] if r["key"] == "w1")
    assert (w1["response_due"], w1["responded_on_time"]) == (1, 1)
    assert (w1["resolution_due"], w1["resolved_on_time"]) == (1, 1)
    assert w1["response_rate"] == 1.0
    assert w1["resolution_rate"] == 1.0
    assert (w1["rated"], w1["satisfied"]) == (2, 1)
    assert w1["satisfaction_rate"] == 0.5

    exported = api.get("operator", f"{EVALUATION}&format=csv")
    assert exported.status_code == 200
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    w1_csv = next(r for r in rows if r["key"] == "w1")
    assert w1_csv["response_rate"] == "1"
    assert w1_csv["satisfaction_rate"] == "0.5"


def test_scores_should_weigh_the_three_rates_into_a_graded_score(api: Api) -> None:
    handle_on_patrol(api)
    rated_citizen_report(api, Rating.BASICALLY_SATISFIED)
    rated_citizen_report(api, Rating.DISSATISFIED)
    scores = "/api/v1/stats/scores?period=day&by=worker"
    assert api.get("worker1", scores).status_code == 403
    response = api.get("operator", scores)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["weights"] == {
        "response": 0.3,
        "resolution": 0.4,
        "satisfaction": 0.3,
    }
    assert report["grades"] == {"a": 90.0, "b": 75.0, "c": 60.0}
    w1 = next(r for r in report["rows"] if r["key"] == "w1")
    # 100 × (0.3 × 1.0 + 0.4 × 1.0 + 0.3 × 0.5)
    assert (w1["score"], w1["grade"]) == (85.0, "B")
    scored = [r["score"] for r in report["rows"] if r["score"] is not None]
    assert scored == sorted(scored, reverse=True)

    exported = api.get("operator", f"{scores}&format=csv")
    assert exported.status_code == 200
    w1_csv = next(
        r for r in csv.DictReader(io.StringIO(exported.text)) if r["key"] == "w1"
    )
    assert (w1_csv["score"], w1_csv["grade"]) == ("85", "B")
