"""A rule plug-in module's source, written to a folder on `sys.path` by tests."""

from __future__ import annotations

import textwrap
from pathlib import Path

# A plug-in as a city would write it: one module, importing only `edge.rules`.
STAMP_PLUGIN = '''
"""A rule that raises `stamp` once per episode while anything is in its zone."""

from __future__ import annotations

from typing import Literal

from edge.rules import (
    Episode,
    Involved,
    Rule,
    RuleConfigBase,
    RuleScope,
    RuleSignal,
    ZoneObservation,
    expect_config,
)


class StampRuleConfig(RuleConfigBase):
    type: Literal["stamp_test"] = "stamp_test"
    labels: list[str] = ["person"]


class StampRule(Rule):
    type_key = "stamp_test"
    config_class = StampRuleConfig
    event_type = "stamp"

    def __init__(self, config: StampRuleConfig, *, scope: RuleScope) -> None:
        super().__init__(scope)
        self._labels = config.labels
        self._episode = Episode(
            scope=scope, event_type=self.event_type, rule_type=self.type_key,
            cooldown_s=0.0,
        )

    @classmethod
    def from_config(cls, config: RuleConfigBase, *, scope: RuleScope) -> StampRule:
        return cls(expect_config(config, StampRuleConfig), scope=scope)

    def update(self, obs: ZoneObservation) -> list[RuleSignal]:
        mask = obs.mask_for(self._labels)
        if mask.any() and self._episode.can_start(obs.timestamp):
            involved = Involved.from_observation(obs, mask)
            return [self._episode.start(obs.timestamp, involved, {})]
        return []
'''


def write_module(folder: Path, name: str, source: str) -> str:
    """Write `source` as module `name` in `folder`; returns the name."""
    (folder / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    return name
