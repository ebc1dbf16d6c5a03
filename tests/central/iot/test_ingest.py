"""Readings → device state, events and tickets; bad readings → dead letters."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from central.clock import ManualClock
from central.context import CentralContext
from central.db.models import Device, Event, Ticket
from central.ingest.processor import EventProcessor, InboundMessage
from central.iot.ingest import ReadingProcessor
from central.notify import RecordingNotifier
from gridwatch.readings import readings_topic

Central = tuple[CentralContext, RecordingNotifier]


def device_of(context: CentralContext, device_type: str) -> Device:
    with context.sessions() as session:
        device = session.scalars(
            select(Device)
            .where(Device.device_type == device_type, Device.grid_code.is_not(None))
            .order_by(Device.id)
        ).first()
        assert device is not None, f"the demo city has no {device_type}"
        return device


def reading(
    device: Device, at: datetime, seq: int, **values: tuple[float, str]
) -> dict[str, Any]:
    return {
        "device_id": device.id,
        "device_type": device.device_type,
        "ts": at.isoformat(),
        "seq": seq,
        "values": {k: {"value": v, "unit": u} for k, (v, u) in values.items()},
    }


def message(gateway: str, *readings: dict[str, Any]) -> InboundMessage:
    body = {"schema": "gw.reading/1", "gateway_id": gateway, "readings": list(readings)}
    return InboundMessage(readings_topic("gw/v1", gateway), json.dumps(body).encode())


def tickets_of(context: CentralContext, device_id: str) -> list[Ticket]:
    with context.sessions() as session:
        ids = session.scalars(
            select(Event.ticket_id).where(Event.camera_id == device_id)
        ).all()
        return list(session.scalars(select(Ticket).where(Ticket.id.in_(ids))))


def test_water_level_given_a_sustained_rise_should_open_one_dispatched_ticket(
    central: Central, clock: ManualClock
) -> None:
    context, _ = central
    iot = ReadingProcessor(context, EventProcessor(context))
    gauge = device_of(context, "water_level")
    start = clock.now()
    levels = [2, 3, 12, 18, 22, 24, 25, 24]  # a rain event, 2 min apart
    batch = [
        message(
            gauge.gateway_id,
            reading(gauge, start + timedelta(minutes=2 * n), n, level=(v, "cm")),
        )
        for n, v in enumerate(levels)
    ]
    clock.advance(timedelta(minutes=20))
    result = iot.process(batch)
    assert result.deadletters == []
    assert result.tickets_created == 1
    again = iot.process(batch)  # redelivered: stale, nothing new
    assert again.tickets_created == 0 and again.accepted == 0
    (ticket,) = tickets_of(context, gauge.id)
    assert ticket.category_code == "0603"
    assert ticket.grid_code == gauge.grid_code
    assert ticket.assignee_id is not None
    with context.sessions() as session:
        row = session.get(Device, gauge.id)
        assert row is not None
        assert row.status == "alarm"
        assert [v for _, v in row.recent] == levels
        assert row.last_values["level"] == {"value": 24.0, "unit": "cm"}


def test_readings_given_bad_ones_should_dead_letter_each_and_apply_the_rest(
    central: Central, clock: ManualClock
) -> None:
    context, _ = central
    iot = ReadingProcessor(context, EventProcessor(context))
    alarm = device_of(context, "smoke_alarm")
    bin_ = device_of(context, "bin_fill")
    now = clock.now()
    good = reading(alarm, now, 1, alarm=(1, "state"))
    wrong_unit = reading(bin_, now, 1, fill=(0.5, "ratio"))
    out_of_range = reading(bin_, now, 2, fill=(140, "%"))
    skewed = reading(bin_, now + timedelta(hours=2), 3, fill=(10, "%"))
    unknown = reading(alarm, now, 2) | {"device_id": "nobody-1"}
    wrong_type = reading(alarm, now, 3) | {"device_type": "noise"}
    foreign = reading(bin_, now, 4, fill=(10, "%"))
    inbound = [
        message(alarm.gateway_id, good, wrong_unit, out_of_range, skewed, unknown),
        message(alarm.gateway_id, wrong_type),
        message("gw-other", foreign),
        InboundMessage(readings_topic("gw/v1", "gw-x"), b"{not json"),
        InboundMessage(readings_topic("gw/v1", "gw-x"), b"\xff\xfe"),
        message("gw-a"),
    ]
    result = iot.process(inbound)
    reasons = [letter.reason for letter in result.deadletters]
    expected = [
        "expected '%'",
        "out of range",
        "ahead of central's clock",
        "unknown device 'nobody-1'",
        "is a smoke_alarm, not a noise",
        "belongs to gateway",
        "invalid gw.reading/1 message",
        "invalid gw.reading/1 message",
        "invalid gw.reading/1 message",
    ]
    joined = "\n".join(reasons)
    for part in expected:
        assert part in joined, f"{part!r} not among {reasons}"
    assert len(reasons) == 9
    assert result.tickets_created == 1  # the fire alarm still went through
    (ticket,) = tickets_of(context, alarm.id)
    assert ticket.priority == "urgent"


def test_heartbeat_given_a_silent_device_should_open_one_maintenance_ticket(
    central: Central, clock: ManualClock
) -> None:
    context, _ = central
    iot = ReadingProcessor(context, EventProcessor(context))
    noise = device_of(context, "noise")
    first = iot.process(
        [message(noise.gateway_id, reading(noise, clock.now(), 1, laeq=(55, "dBA")))]
    )
    assert first.tickets_created == 0 and first.deadletters == []
    clock.advance(timedelta(minutes=10))
    assert iot.sweep().tickets_created == 0  # not late yet
    clock.advance(timedelta(minutes=10))
    assert iot.sweep().tickets_created == 1
    assert iot.sweep().tickets_created == 0  # already offline
    (ticket,) = tickets_of(context, noise.id)
    assert ticket.category_code == "0203"
    with context.sessions() as session:
        row = session.get(Device, noise.id)
        assert row is not None and row.status == "offline"
    back = iot.process(
        [message(noise.gateway_id, reading(noise, clock.now(), 2, laeq=(55, "dBA")))]
    )
    assert back.deadletters == [] and back.accepted == 1  # the offline episode ends
    with context.sessions() as session:
        row = session.get(Device, noise.id)
        assert row is not None and row.status == "ok"
