"""Per-scenario results and the run's summary, as the JSON `--json` prints."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.accuracy.match import (
    COUNT_MAX_GAP_S,
    CountCheck,
    EventMatching,
    Miss,
    ObservedEvent,
    TypeTally,
    check_counts,
    count_bias,
    count_bias_by_label,
    count_mae,
    count_mae_by_label,
    match_events,
    merge_tallies,
    tally,
    total,
)
from harness.accuracy.privacy import PrivacyTally, SnapshotFaceCheck
from harness.accuracy.replay import ScenarioRun
from harness.accuracy.scenario import LoadedScenario


@dataclass(frozen=True, slots=True)
class ScenarioResult:
    """One scenario's outcome: an error, or its run, matching and count checks.

    Attributes:
        name: Scenario name (path under the scenarios folder, no suffix).
        path: Scenario file.
        clip: Clip name as the scenario gives it.
        composited: The scenario's note on composited parts.
        error: Why the scenario did not run (bad file, replay failure).
        run: What the pipeline published.
        matching: Expected versus raised events.
        counts: Expected versus reported counts.
        warnings: Things worth a look that did not stop the scenario.
        privacy: Faces found in the published snapshots; None when unchecked.
    """

    name: str
    path: Path
    clip: str = ""
    composited: str | None = None
    error: str | None = None
    run: ScenarioRun | None = None
    matching: EventMatching = field(default_factory=EventMatching)
    counts: tuple[CountCheck, ...] = ()
    warnings: tuple[str, ...] = ()
    privacy: PrivacyTally | None = None

    @property
    def is_ok(self) -> bool:
        return self.error is None

    @property
    def tallies(self) -> dict[str, TypeTally]:
        return tally(self.matching) if self.is_ok else {}

    @property
    def expected_events(self) -> int:
        m = self.matching
        return len(m.matches) + len(m.misses)

    def to_dict(self) -> dict[str, Any]:
        """The scenario's row of `scenarios` in the JSON."""
        row: dict[str, Any] = {
            "name": self.name,
            "file": str(self.path),
            "clip": self.clip,
            "status": "ok" if self.is_ok else "error",
        }
        if self.composited:
            row["composited"] = self.composited
        if not self.is_ok:
            row["error"] = self.error
            return row
        run = self.run
        timing = run.timing if run is not None else None
        row.update(
            expected=self.expected_events,
            events=len(run.events) if run is not None else 0,
            matched=len(self.matching.matches),
            false_alarms=len(self.matching.false_alarms),
            misses=len(self.matching.misses),
            by_type={k: v.to_dict() for k, v in self.tallies.items()},
            counts=[c.to_dict() for c in self.counts],
            count_mae=_round(count_mae(self.counts)),
            count_bias=_round(count_bias(self.counts)),
            seconds=_round(timing.seconds if timing else None, 2),
            clip_s=_round(timing.clip_s if timing else None, 2),
            start_s=_round(timing.start_s if timing else None, 2),
            drain_s=_round(timing.drain_s if timing else None, 2),
            realtime_factor=_round(timing.realtime_factor if timing else None, 2),
            fps_analysed=_round(run.fps_analysed if run else None, 2),
            replays=run.replays if run else 0,
            faces_in_snapshots=self.privacy.faces if self.privacy else None,
            warnings=list(self.warnings),
        )
        return row


def evaluate(
    scenario: LoadedScenario,
    run: ScenarioRun,
    face_check: SnapshotFaceCheck | None = None,
) -> ScenarioResult:
    """Match a run against its scenario's truth; with `face_check`, also look
    for faces in every snapshot the node published."""
    truth = scenario.scenario.expected
    counts = check_counts(truth.counts, run.occupancy, max_gap_s=COUNT_MAX_GAP_S)
    warnings = list(run.problems)
    warnings += [
        f"count at t={c.expected.t} s: no occupancy message within {COUNT_MAX_GAP_S} s"
        for c in counts
        if c.observed is None
    ]
    return ScenarioResult(
        name=scenario.name,
        path=scenario.path,
        clip=scenario.scenario.clip,
        composited=scenario.scenario.composited,
        run=run,
        matching=match_events(truth.events, run.events),
        counts=tuple(counts),
        warnings=tuple(warnings),
        privacy=face_check.tally(run.snapshots) if face_check is not None else None,
    )


def failed(
    name: str, path: Path, error: str, scenario: LoadedScenario | None = None
) -> ScenarioResult:
    """An error row: the scenario could not be loaded or replayed."""
    return ScenarioResult(
        name=name,
        path=path,
        clip=scenario.scenario.clip if scenario else "",
        composited=scenario.scenario.composited if scenario else None,
        error=error,
    )


@dataclass(frozen=True, slots=True)
class EvalSummary:
    """Everything one `gridwatch eval` run found.

    Attributes:
        results: One per scenario, in run order (errors included).
        speed: Replay rate.
        seconds: Wall time of the whole run.
        startup_s: Wall time to start broker, simulator and model.
    """

    results: tuple[ScenarioResult, ...]
    speed: float = 1.0
    seconds: float = 0.0
    startup_s: float = 0.0

    @property
    def by_type(self) -> dict[str, TypeTally]:
        return merge_tallies(r.tallies for r in self.results)

    @property
    def count_checks(self) -> list[CountCheck]:
        return [c for r in self.results for c in r.counts]

    @property
    def privacy(self) -> PrivacyTally | None:
        """Faces in published snapshots over every checked scenario; None when
        no scenario was checked."""
        checked = [r.privacy for r in self.results if r.privacy is not None]
        return sum(checked, PrivacyTally()) if checked else None

    @property
    def errors(self) -> list[ScenarioResult]:
        return [r for r in self.results if not r.is_ok]

    def misses(self) -> list[tuple[str, Miss]]:
        return [(r.name, m) for r in self.results for m in r.matching.misses]

    def false_alarms(self) -> list[tuple[str, ObservedEvent]]:
        return [(r.name, e) for r in self.results for e in r.matching.false_alarms]

    def f1_below(self, floor: float) -> list[str]:
        """Event types whose F1 is below `floor` (types with no F1 are skipped)."""
        return [
            kind
            for kind, item in self.by_type.items()
            if item.f1 is not None and item.f1 < floor
        ]

    def to_dict(self, images: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The JSON `--json` prints.

        Args:
            images: Item key (see `miss_key`, `false_alarm_key`) -> image path
                written by the report, added to the misses and false alarms.
        """
        images = images or {}
        checks = self.count_checks
        measured = [c for c in checks if c.observed is not None]
        return {
            "scenarios": [r.to_dict() for r in self.results],
            "by_type": {k: v.to_dict() for k, v in self.by_type.items()},
            "overall": total(self.by_type).to_dict(),
            "count_mae": _round(count_mae(checks)),
            "count_mae_by_label": {
                label: _round(mae) for label, mae in count_mae_by_label(checks).items()
            },
            "count_bias": _round(count_bias(checks)),
            "count_bias_by_label": {
                label: _round(bias)
                for label, bias in count_bias_by_label(checks).items()
            },
            "counts_checked": len(measured),
            "counts_within_tolerance": sum(c.is_within_tolerance for c in checks),
            "misses": [
                miss_dict(name, miss, images.get(miss_key(name, miss)))
                for name, miss in self.misses()
            ],
            "false_alarms": [
                false_alarm_dict(name, event, images.get(false_alarm_key(name, event)))
                for name, event in self.false_alarms()
            ],
            "errors": [
                {"scenario": r.name, "file": str(r.path), "error": r.error}
                for r in self.errors
            ],
            "privacy": self.privacy.to_dict() if self.privacy else None,
            "speed": self.speed,
            "seconds": _round(self.seconds, 2),
            "startup_s": _round(self.startup_s, 2),
        }


def miss_key(scenario: str, miss: Miss) -> str:
    return f"{scenario}#miss-{miss.expected_index}"


def false_alarm_key(scenario: str, event: ObservedEvent) -> str:
    return f"{scenario}#fa-{event.event_id}"


def miss_dict(scenario: str, miss: Miss, image: str | None) -> dict[str, Any]:
    expected = miss.expected
    row: dict[str, Any] = {
        "scenario": scenario,
        "type": str(expected.type),
        "window": list(expected.window),
        "region": list(expected.region) if expected.region else None,
        "reason": miss.reason,
        "nearest_s": _round(miss.nearest.t_s if miss.nearest else None),
    }
    if expected.note:
        row["note"] = expected.note
    if image:
        row["image"] = image
    return row


def false_alarm_dict(
    scenario: str, event: ObservedEvent, image: str | None
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "scenario": scenario,
        "type": event.type,
        "t_s": _round(event.t_s),
        "event_id": event.event_id,
        "zone_id": event.zone_id,
        "confidence": _round(event.confidence),
        "image_box": [round(v, 3) for v in event.image_box]
        if event.image_box
        else None,
    }
    if image:
        row["image"] = image
    return row


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)
