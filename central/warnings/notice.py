"""What staff consoles hear of a warning (the `warning` event of the staff SSE
stream), and the API's view of one."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from central.db.models import HotspotWarning

WARNING_SCHEMA: Literal["gw.warning/1"] = "gw.warning/1"


class WarningPublic(BaseModel):
    """A hotspot warning: a grid × category rising above its own baseline."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    grid_code: str
    category_code: str = Field(description="Matter-list category (GB/T 30428 style).")
    category_name: str
    state: Literal["open", "acknowledged", "resolved"]
    window_days: int = Field(description="The recent window that rose (days).")
    observed: int = Field(description="Tickets in that window.")
    expected: float = Field(description="Tickets the series' baseline expects there.")
    p_value: float = Field(
        description="Chance of at least `observed` tickets if nothing had changed."
    )
    opened_at: datetime
    updated_at: datetime
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    resolved_at: datetime | None = None


class WarningsPublic(BaseModel):
    data: list[WarningPublic]
    count: int = Field(description="Warnings matching the filter (all pages).")


class WarningNotice(BaseModel):
    """A warning opened, acknowledged or resolved (SSE `event: warning`)."""

    schema_: Literal["gw.warning/1"] = Field(default=WARNING_SCHEMA, alias="schema")
    warning: WarningPublic

    model_config = ConfigDict(populate_by_name=True)

    @classmethod
    def from_row(cls, row: HotspotWarning) -> WarningNotice:
        return cls(warning=WarningPublic.model_validate(row))

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True)
