"""The matter list: event type → category, department, time limit, review policy.

A versioned YAML file (`central/matters.yaml` is the shipped default). Every ticket
records the matter key and version it was opened under.
"""

from __future__ import annotations

from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gridwatch.contract import EventType
from gridwatch.validation import describe_validation_error


class MatterListError(ValueError):
    """The matter list could not be read or is invalid; the message says where."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


PRIORITY_RANK = {
    Priority.LOW: 0,
    Priority.NORMAL: 1,
    Priority.HIGH: 2,
    Priority.URGENT: 3,
}


class Category(Strict):
    code: Annotated[str, Field(pattern=r"^\d{4}$")]
    class_: str = Field(alias="class")
    subclass: str

    @property
    def name(self) -> str:
        return f"{self.class_}/{self.subclass}"


class ReviewPolicy(Strict):
    mode: Literal["auto", "review"] = "auto"
    below_confidence: float = Field(default=0.0, ge=0.0, le=1.0)

    def needs_review(self, confidence: float | None) -> bool:
        """AI events go to operators first in review mode or below the threshold."""
        if self.mode == "review":
            return True
        return confidence is not None and confidence < self.below_confidence


class MergePolicy(Strict):
    distance_m: float = Field(default=30.0, ge=0)
    window_min: float = Field(default=30.0, ge=0)


EscalationSteps = Annotated[list[float], Field(min_length=1, max_length=3)]


class Defaults(Strict):
    merge: MergePolicy = MergePolicy()
    escalate_after_min: EscalationSteps = Field(
        default_factory=lambda: [0.0, 30.0, 90.0]
    )


class Matter(Strict):
    key: Annotated[str, Field(pattern=r"^[a-z0-9_]+$")]
    event_types: list[EventType] = Field(default_factory=list)
    category: Category
    department: str
    time_limit_min: int = Field(gt=0)
    priority: Priority = Priority.NORMAL
    review: ReviewPolicy = ReviewPolicy()
    merge: MergePolicy | None = None
    escalate_after_min: EscalationSteps | None = None


class MatterList(Strict):
    version: str = Field(min_length=1)
    defaults: Defaults = Defaults()
    matters: list[Matter] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> MatterList:
        keys: set[str] = set()
        types: dict[EventType, str] = {}
        for matter in self.matters:
            if matter.key in keys:
                raise ValueError(f"matter key {matter.key!r} appears twice")
            keys.add(matter.key)
            for event_type in matter.event_types:
                if event_type in types:
                    raise ValueError(
                        f"event type {event_type.value!r} is mapped by both "
                        f"{types[event_type]!r} and {matter.key!r}"
                    )
                types[event_type] = matter.key
            steps = matter.escalate_after_min or []
            if steps != sorted(steps):
                raise ValueError(f"{matter.key}: escalate_after_min must ascend")
        return self

    def by_key(self, key: str) -> Matter:
        for matter in self.matters:
            if matter.key == key:
                return matter
        raise KeyError(f"no matter {key!r} in matter list {self.version}")

    def for_event_type(self, event_type: str) -> Matter | None:
        for matter in self.matters:
            if event_type in matter.event_types:
                return matter
        return None

    def merge_policy(self, matter: Matter) -> MergePolicy:
        return matter.merge or self.defaults.merge

    def escalation_steps(self, matter: Matter) -> list[float]:
        return list(matter.escalate_after_min or self.defaults.escalate_after_min)


def parse_matter_list(text: str, *, source: str = "matter list") -> MatterList:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise MatterListError(f"{source}: not valid YAML: {exc}") from exc
    try:
        return MatterList.model_validate(data)
    except ValidationError as exc:
        problems = describe_validation_error(exc)
        raise MatterListError(f"{source}: {problems}") from exc


def load_matter_list(path: Path | None = None) -> MatterList:
    """The matter list at `path`, or the shipped default."""
    if path is None:
        text = resources.files("central").joinpath("matters.yaml").read_text("utf-8")
        return parse_matter_list(text, source="central/matters.yaml")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MatterListError(f"cannot read matter list {path}: {exc}") from exc
    return parse_matter_list(text, source=str(path))
