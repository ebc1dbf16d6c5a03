"""Rule config bases: the one every rule's config extends, and those rules share.

Each rule's own config class lives in its rule module, beside the rule.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from gridwatch.validation import StrictModel


class RuleConfigBase(StrictModel):
    """Base of every rule's config.

    A subclass narrows `type` to a `Literal` with the rule's `type_key` as its
    default, e.g. `type: Literal["crowding"] = "crowding"`: the zone's `rules`
    list picks the config class by it.
    """

    type: str


class DwellRuleConfig(RuleConfigBase):
    """Shared by the rules that fire when a tracked object stays in a zone."""

    labels: list[str] = Field(default_factory=lambda: ["person"], min_length=1)
    min_s: float = Field(
        default=1.0, ge=0, description="Inside the zone at least this long."
    )
    clear_s: float = Field(default=3.0, ge=0)
    cooldown_s: float = Field(default=30.0, ge=0)


class StaticObjectRuleConfig(RuleConfigBase):
    """Shared by the rules that fire on an object left on the ground by a person.

    An object is a new static change of the picture (a background model on a
    small grey frame) or a stationary detection, separated from every person,
    on the ground of the zone. Its owner is the person nearest to it when it
    appeared; the rule fires once the object has stayed `static_s` and its owner
    has been farther than `owner_away_frac` (or out of view) for `owner_away_s`.
    """

    labels: list[str] = Field(
        min_length=1,
        description="Detector labels that make a static object this rule's kind.",
    )
    unknown_objects: bool = Field(
        description="Static objects the detector gives no label count as this "
        "rule's kind (between min_area_frac and max_area_frac)."
    )
    exclude_labels: list[str] = Field(
        description="Detector labels that make a static object not this rule's "
        "kind (the other rule's); any other label counts as no label."
    )
    person_labels: list[str] = Field(
        default_factory=lambda: ["person"],
        min_length=1,
        description="Labels of people: possible owners, never objects.",
    )
    static_s: float = Field(
        default=5.0, ge=0, description="The object stays unmoved at least this long."
    )
    owner_away_s: float = Field(
        default=10.0,
        ge=0,
        description="Its owner stays away (or out of view) at least this long.",
    )
    owner_away_frac: float = Field(
        default=0.15,
        gt=0,
        le=1,
        description="Away means farther than this fraction of the frame diagonal "
        "from the object (gap between the boxes).",
    )
    owner_near_frac: float = Field(
        default=0.1,
        ge=0,
        le=1,
        description="A person this near (fraction of the frame diagonal) when the "
        "object appeared can be its owner; the nearest one is.",
    )
    require_owner: bool = Field(
        default=True,
        description="Objects that appear with nobody near (thrown, or a person "
        "the detector missed) never fire.",
    )
    min_area_frac: float = Field(
        default=0.0003, gt=0, le=1, description="Smallest object, fraction of frame."
    )
    max_area_frac: float = Field(
        default=0.02, gt=0, le=1, description="Largest object, fraction of frame."
    )
    warmup_s: float = Field(
        default=2.0,
        ge=0,
        description="The first seconds learn the empty scene: what is there then "
        "never fires.",
    )
    clear_s: float = Field(
        default=2.0,
        ge=0,
        description="An object unseen (and not hidden by a person) this long is "
        "gone: its event ends.",
    )
    background_s: float = Field(
        default=120.0,
        gt=0,
        description="A change that is no object (a moved bench, a new poster) is "
        "learned into the background over about this long.",
    )
    max_object_s: float = Field(
        default=1800.0,
        gt=0,
        description="An object left this long becomes background (its event ends).",
    )

    @model_validator(mode="after")
    def verify_area_bounds(self) -> StaticObjectRuleConfig:
        if self.min_area_frac >= self.max_area_frac:
            raise ValueError(
                f"min_area_frac ({self.min_area_frac}) must be below "
                f"max_area_frac ({self.max_area_frac})"
            )
        for name, other in (
            ("person_labels", self.person_labels),
            ("exclude_labels", self.exclude_labels),
        ):
            overlap = sorted(set(self.labels) & set(other))
            if overlap:
                raise ValueError(f"labels {overlap} are {name} too")
        return self
