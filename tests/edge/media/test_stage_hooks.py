"""Where media hooks into the pipeline: every analysed frame reaches the frame
sink, every built event passes the media hook, and neither can cost an event."""

from __future__ import annotations

import queue
import threading
import time

import numpy as np

from edge.ingest.base import RateMeter
from edge.metrics import NodeMetrics
from edge.pipeline.analysis import AnalysisOutput, AnalysisStage
from edge.pipeline.event_stage import EventStage
from edge.pipeline.runner import DetectedFrame
from edge.types import Detections, Frame
from gridwatch.contract import (
    EventMessage,
    EventPhase,
)
from tests.edge.publish.factories import NullPublisher, event_message


class StoringPublisher(NullPublisher):
    def __init__(self) -> None:
        self.stored: list[EventMessage] = []

    def publish_event(self, event: EventMessage) -> bool:
        self.stored.append(event)
        return True


class Hook:
    """Tags ends with a confidence change; fails on ids starting with 'bad'."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def on_event(self, event: EventMessage) -> EventMessage:
        self.seen.append(f"{event.event_id}:{event.phase}")
        if event.event_id.startswith("bad"):
            raise RuntimeError("clip request failed")
        if event.phase is EventPhase.END:
            return event.model_copy(update={"confidence": 0.5})
        return event


def test_event_stage_given_media_hook_should_pass_every_event_and_survive_it() -> None:
    publisher = StoringPublisher()
    hook = Hook()
    stage = EventStage(
        publisher=publisher, node_id="n", metrics=NodeMetrics(), media=hook
    )
    stage.start()
    stage.submit(lambda: event_message("good-0001"))
    stage.submit(lambda: event_message("bad-00001"))
    stage.submit(lambda: event_message("good-0001", EventPhase.END))
    stage.stop()
    assert hook.seen == ["good-0001:start", "bad-00001:start", "good-0001:end"]
    assert [(e.event_id, e.confidence) for e in publisher.stored] == [
        ("good-0001", 0.9),
        ("bad-00001", 0.9),
        ("good-0001", 0.5),
    ]
    assert stage.failed == 0


class OneFrameAnalyser:
    def analyse(self, frame: Frame, detections: Detections) -> AnalysisOutput:
        return AnalysisOutput()

    def close(self, timestamp: float) -> list[EventMessage]:
        return []


def test_analysis_stage_given_frame_sink_should_get_every_frame_even_if_it_fails() -> (
    None
):
    sunk: list[int] = []

    def sink(frame: Frame) -> None:
        sunk.append(frame.index)
        if frame.index == 1:
            raise ValueError("ring full of surprises")

    inbox: queue.Queue[DetectedFrame] = queue.Queue()
    stop = threading.Event()
    stage = AnalysisStage(
        analysers={"c": OneFrameAnalyser()},
        inbox=inbox,
        events=EventStage(
            publisher=StoringPublisher(), node_id="n", metrics=NodeMetrics()
        ),
        node_id="n",
        metrics=NodeMetrics(),
        fps_analysed={"c": RateMeter()},
        stop=stop,
        frame_sink=sink,
    )
    stage.start()
    for index in range(3):
        image = np.zeros((4, 4, 3), dtype=np.uint8)
        inbox.put(
            DetectedFrame(Frame("c", index, time.time(), image), Detections.empty())
        )
    deadline = time.monotonic() + 5
    while stage.frames_analysed("c") < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    stage.join()
    assert sunk == [0, 1, 2]
    assert stage.frames_analysed("c") == 3
