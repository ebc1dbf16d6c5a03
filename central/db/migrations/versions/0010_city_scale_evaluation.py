"""city-scale evaluation

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07

Indexes for a city-year of cases (`gridwatch bench city`, docs/benchmarks.md):

- `ix_ticket_history_rework` (ticket_id, action) of the resolve / return /
  reopen rows only: the evaluation's rework counts join it by ticket without
  reading the other history rows (about four in five);
- `ix_tickets_state_created` (state, created_at): the ticket list filtered by
  state, newest first, and the review queue;
- `ix_tickets_created_id` (created_at, id): the ticket ids of a time range
  without reading the table (the evaluation bounds its joins by them), and
  the list's `created_at DESC, id DESC` order;
- `ix_events_detected_at`: the daily chart's events by detection time;
- PostgreSQL only, `ix_tickets_grid_code_prefix` (grid_code
  varchar_pattern_ops, created_at): the list's grid-prefix filter
  (`LIKE '440106001%'`) under a non-C collation, where the plain index on
  grid_code cannot serve LIKE.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REWORK = "action IN ('resolve', 'return', 'reopen')"


def upgrade() -> None:
    op.create_index(
        "ix_ticket_history_rework",
        "ticket_history",
        ["ticket_id", "action"],
        unique=False,
        sqlite_where=sa.text(_REWORK),
        postgresql_where=sa.text(_REWORK),
    )
    op.create_index(
        "ix_tickets_state_created", "tickets", ["state", "created_at"], unique=False
    )
    op.create_index(
        "ix_tickets_created_id", "tickets", ["created_at", "id"], unique=False
    )
    op.create_index("ix_events_detected_at", "events", ["detected_at"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.create_index(
            "ix_tickets_grid_code_prefix",
            "tickets",
            ["grid_code", "created_at"],
            unique=False,
            postgresql_ops={"grid_code": "varchar_pattern_ops"},
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_tickets_grid_code_prefix", table_name="tickets")
    op.drop_index("ix_events_detected_at", table_name="events")
    op.drop_index("ix_tickets_created_id", table_name="tickets")
    op.drop_index("ix_tickets_state_created", table_name="tickets")
    op.drop_index("ix_ticket_history_rework", table_name="ticket_history")
