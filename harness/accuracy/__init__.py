"""Accuracy harness: scenario clips replayed through the real pipeline, scored."""

from harness.accuracy.match import (
    CountCheck,
    EventMatch,
    EventMatching,
    Miss,
    ObservedEvent,
    OccupancySample,
    TypeTally,
    check_counts,
    count_bias,
    count_mae,
    match_events,
)
from harness.accuracy.scenario import (
    ExpectedCount,
    ExpectedEvent,
    LoadedScenario,
    Scenario,
    ScenarioError,
    load_scenario,
    load_scenarios,
)

__all__ = [
    "CountCheck",
    "EventMatch",
    "EventMatching",
    "ExpectedCount",
    "ExpectedEvent",
    "LoadedScenario",
    "Miss",
    "ObservedEvent",
    "OccupancySample",
    "Scenario",
    "ScenarioError",
    "TypeTally",
    "check_counts",
    "count_bias",
    "count_mae",
    "load_scenario",
    "load_scenarios",
    "match_events",
]
