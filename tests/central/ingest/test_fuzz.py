"""Property: whatever arrives, every message is stored or dead-lettered, and a
good message behind bad ones is stored (SQLite and a real PostgreSQL)."""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from central.clock import ManualClock
from central.context import CentralContext
from central.db.models import EventMessageRow
from central.ingest.processor import EventProcessor, InboundMessage
from central.ingest.stats import IngestStats
from central.ingest.storer import BatchStorer
from tests.central.conftest import (
    GRID_1,
    WEDNESDAY_10_LOCAL,
    grid_centre,
    make_context,
    make_event,
)

TOPIC = "gw/v1/edge/node-01/events"

ODD_TEXT = st.one_of(
    st.text(max_size=80),
    st.text(min_size=60, max_size=3000),
    st.sampled_from(["", "\x00", "' OR 1=1 --", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "a" * 65]),
)
ODD_NUMBER = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**80), max_value=2**80),
)
ODD_TIME = st.one_of(
    st.sampled_from(
        [
            "2026-11-04T10:00:00",  # no time zone
            "2026-11-04T10:00:00+14:00",
            "1969-12-31T23:59:59Z",
            "9999-12-31T23:59:59Z",
            "2026-02-30T10:00:00Z",
            "yesterday",
        ]
    ),
    st.datetimes().map(lambda d: d.isoformat()),
)
ODD_VALUE = st.one_of(
    ODD_TEXT,
    ODD_NUMBER,
    ODD_TIME,
    st.booleans(),
    st.none(),
    st.lists(ODD_TEXT, max_size=300),
    st.dictionaries(st.text(max_size=70), ODD_NUMBER | ODD_TEXT, max_size=40),
)
FIELDS = [
    "event_id",
    "type",
    "phase",
    "node_id",
    "camera_id",
    "started_at",
    "detected_at",
    "ended_at",
    "confidence",
    "location",
    "image_box",
    "zone_id",
    "attributes",
    "media",
    "model",
]


@st.composite
def odd_bodies(draw: st.DrawFn, good: dict[str, Any]) -> dict[str, Any]:
    body = dict(good, event_id=secrets.token_hex(8))
    for key in draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=4)):
        body[key] = draw(ODD_VALUE)
    if draw(st.booleans()):
        body["attributes"] = draw(
            st.dictionaries(st.text(max_size=70), ODD_VALUE, max_size=40)
        )
    return body


@pytest.fixture
def context(
    database_url: str, demo_city: tuple[Path, Path], tmp_path: Path
) -> Iterator[CentralContext]:
    made, _ = make_context(
        database_url, demo_city, ManualClock(WEDNESDAY_10_LOCAL), tmp_path / "media"
    )
    yield made
    made.engine.dispose()


def _payload(body: dict[str, Any]) -> bytes:
    text = json.dumps(body, default=str, allow_nan=True)
    return text.encode("utf-8", errors="surrogatepass")


@pytest.mark.integration
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_every_message_is_stored_or_dead_lettered_and_good_ones_behind_bad_stored(
    context: CentralContext, data: st.DataObject
) -> None:
    good_event = make_event(*grid_centre(context, GRID_1))
    good = json.loads(good_event.to_json())
    bad = data.draw(st.lists(odd_bodies(good), min_size=1, max_size=6))
    batch = [InboundMessage(TOPIC, _payload(b), token=i) for i, b in enumerate(bad)]
    batch.append(InboundMessage(TOPIC, good_event.to_json().encode(), token=99))
    storer = BatchStorer(
        EventProcessor(context).process,
        stats=IngestStats(),
        stop=threading.Event(),
        retry_s=0.01,
    )
    result = storer.store(batch)
    assert result is not None
    assert result.accepted + result.duplicates + len(result.deadletters) == len(batch)
    for letter in result.deadletters:
        assert letter.reason.strip() and letter.topic == TOPIC
    with context.sessions() as session:
        stored = session.scalars(
            select(EventMessageRow.dedupe_key).where(
                EventMessageRow.event_id == good_event.event_id
            )
        ).all()
    assert stored == [good_event.dedupe_key]
