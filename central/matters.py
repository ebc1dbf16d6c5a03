"""The matter list: event type → category, department, time limit, review policy.

A versioned YAML text (`central/matters.yaml` is the shipped default; the versions
in force are stored and edited in the database, `central/matter_store.py`). Every
ticket records the matter key and version it was opened under. It also carries the words
people read for each event type (a short label for the pages, a ticket title), so
a new event type needs a matter-list entry and no code.
"""

from __future__ import annotations

from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from gridwatch.contract import EVENT_TYPE_PATTERN
from gridwatch.validation import StrictModel, describe_validation_error

# Any rule plug-in's event type, as a plain string: the contract's set is open.
EventTypeName = Annotated[str, Field(pattern=EVENT_TYPE_PATTERN)]


class MatterListError(ValueError):
    """The matter list could not be read or is invalid; the message says where."""


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


class Category(StrictModel):
    code: Annotated[str, Field(pattern=r"^\d{4}$")]
    class_: str = Field(alias="class")
    subclass: str

    @property
    def name(self) -> str:
        return f"{self.class_}/{self.subclass}"


class ReviewPolicy(StrictModel):
    mode: Literal["auto", "review"] = "auto"
    below_confidence: float = Field(default=0.0, ge=0.0, le=1.0)

    def needs_review(self, confidence: float | None) -> bool:
        """AI events go to operators first in review mode or below the threshold."""
        if self.mode == "review":
            return True
        return confidence is not None and confidence < self.below_confidence


MAX_MERGE_DISTANCE_M = 2_000.0
MAX_MERGE_WINDOW_MIN = 7 * 24 * 60.0


class MergePolicy(StrictModel):
    """When a new report or camera event joins an open ticket of its matter
    (one ticket per problem): in the same grid, within `distance_m` metres of
    the ticket and `window_min` minutes of its last observation. Either at 0
    turns merging off for the matter."""

    distance_m: float = Field(default=30.0, ge=0, le=MAX_MERGE_DISTANCE_M)
    window_min: float = Field(default=30.0, ge=0, le=MAX_MERGE_WINDOW_MIN)

    @property
    def enabled(self) -> bool:
        return self.distance_m > 0 and self.window_min > 0


EscalationSteps = Annotated[list[float], Field(min_length=1, max_length=3)]


class Defaults(StrictModel):
    merge: MergePolicy = MergePolicy()
    escalate_after_min: EscalationSteps = Field(
        default_factory=lambda: [0.0, 30.0, 90.0]
    )


def readable_event_type(event_type: str) -> str:
    """The fallback wording of an event type: `some_type` → "Some type"."""
    words = event_type.replace("_", " ").strip()
    return words[:1].upper() + words[1:] if words else event_type


class EventTypeWords(StrictModel):
    """How people read an event type; each falls back to a readable type name."""

    label: Annotated[str, Field(min_length=1, max_length=80)] | None = Field(
        default=None, description="Short name on the pages, e.g. `Crowding`."
    )
    title: Annotated[str, Field(min_length=1, max_length=200)] | None = Field(
        default=None,
        description="Opening of an AI ticket's title, e.g. `Crowd gathering`; "
        "the label when left out.",
    )


class Matter(StrictModel):
    key: Annotated[str, Field(pattern=r"^[a-z0-9_]+$")]
    event_types: dict[EventTypeName, EventTypeWords] = Field(
        default_factory=dict,
        description="AI event types of this matter with their words; a plain "
        "list of names is short for names without words.",
    )
    category: Category
    department: str
    time_limit_min: int = Field(gt=0)
    priority: Priority = Priority.NORMAL
    review: ReviewPolicy = ReviewPolicy()
    merge: MergePolicy | None = None
    escalate_after_min: EscalationSteps | None = None
    camera_check: Literal["close", "review"] | None = Field(
        default=None,
        description="After a worker resolves a camera ticket, ask the camera "
        "to look again (central/verify/): `close` closes the ticket when the "
        "camera sees the problem gone, `review` leaves that to an operator; "
        "unset: no camera check.",
    )

    @field_validator("event_types", mode="before")
    @classmethod
    def _names_without_words(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        words: dict[Any, dict[str, str]] = {}
        for name in value:
            if isinstance(name, str) and name in words:
                raise ValueError(f"event type {name!r} appears twice")
            words[name] = {}
        return words


class MatterList(StrictModel):
    # Tickets keep the version they were opened under in a 32-character column.
    version: str = Field(min_length=1, max_length=32)
    defaults: Defaults = Defaults()
    matters: list[Matter] = Field(min_length=1)
    _by_event_type: dict[str, Matter] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _unique(self) -> MatterList:
        keys: set[str] = set()
        by_event_type: dict[str, Matter] = {}
        for matter in self.matters:
            if matter.key in keys:
                raise ValueError(f"matter key {matter.key!r} appears twice")
            keys.add(matter.key)
            for event_type in matter.event_types:
                if event_type in by_event_type:
                    raise ValueError(
                        f"event type {event_type!r} is mapped by both "
                        f"{by_event_type[event_type].key!r} and {matter.key!r}"
                    )
                by_event_type[event_type] = matter
            steps = matter.escalate_after_min or []
            if steps != sorted(steps):
                raise ValueError(f"{matter.key}: escalate_after_min must ascend")
        self._by_event_type = by_event_type
        return self

    def by_key(self, key: str) -> Matter:
        for matter in self.matters:
            if matter.key == key:
                return matter
        raise KeyError(f"no matter {key!r} in matter list {self.version}")

    def for_event_type(self, event_type: str) -> Matter | None:
        """The matter of an event type (any str-like value), or None."""
        return self._by_event_type.get(str(event_type))

    def by_event_type(self) -> dict[str, Matter]:
        """Every event type the list maps, with its matter, in the list's order."""
        return dict(self._by_event_type)

    def label_of(self, event_type: str) -> str:
        """The short name of an event type on the pages."""
        words = self._words(str(event_type))
        if words and words.label:
            return words.label
        return readable_event_type(str(event_type))

    def title_of(self, event_type: str) -> str:
        """How an AI ticket's title names its event type."""
        words = self._words(str(event_type))
        if words and words.title:
            return words.title
        return self.label_of(event_type)

    def _words(self, event_type: str) -> EventTypeWords | None:
        matter = self._by_event_type.get(event_type)
        return matter.event_types[event_type] if matter else None

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
