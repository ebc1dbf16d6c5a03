"""one ticket per problem

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07

A camera event, a patrol report and citizen reports of the same matter near the
same place within the matter's merge window share one ticket
(`central.tickets.merging`). Reports therefore no longer own their ticket alone:
`citizen_reports.ticket_id` and `patrol_reports.ticket_id` lose their unique
index (a plain one stays). `ticket_merges` keeps each report that joined a
ticket (what it said, where, how far) so that an operator can split a wrong
merge. Tickets get an index on (state, matter_key, grid_code), the lookup of the
open ticket of a matter in a grid.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REPORT_TABLES = ("citizen_reports", "patrol_reports")


def upgrade() -> None:
    for table in _REPORT_TABLES:
        _reindex_ticket_id(table, unique=False)
    op.create_index(
        "ix_tickets_open_matter_grid",
        "tickets",
        ["state", "matter_key", "grid_code"],
        unique=False,
    )
    op.create_table(
        "ticket_merges",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("grid_code", sa.String(length=15), nullable=True),
        sa.Column("distance_m", sa.Float(), nullable=False),
        sa.Column("photo_sha256", sa.String(length=64), nullable=True),
        sa.Column("citizen_report_id", sa.Integer(), nullable=True),
        sa.Column("patrol_report_id", sa.Integer(), nullable=True),
        sa.Column("merged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("split_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("split_by", sa.String(length=100), nullable=True),
        sa.Column("split_ticket_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_ticket_merges_ticket_id_tickets"),
        ),
        sa.ForeignKeyConstraint(
            ["citizen_report_id"],
            ["citizen_reports.id"],
            name=op.f("fk_ticket_merges_citizen_report_id_citizen_reports"),
        ),
        sa.ForeignKeyConstraint(
            ["patrol_report_id"],
            ["patrol_reports.id"],
            name=op.f("fk_ticket_merges_patrol_report_id_patrol_reports"),
        ),
        sa.ForeignKeyConstraint(
            ["split_ticket_id"],
            ["tickets.id"],
            name=op.f("fk_ticket_merges_split_ticket_id_tickets"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_merges")),
    )
    op.create_index(op.f("ix_ticket_merges_ticket_id"), "ticket_merges", ["ticket_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_ticket_merges_ticket_id"), table_name="ticket_merges")
    op.drop_table("ticket_merges")
    op.drop_index("ix_tickets_open_matter_grid", table_name="tickets")
    # Fails while two reports share a ticket: split those first.
    for table in _REPORT_TABLES:
        _reindex_ticket_id(table, unique=True)


def _reindex_ticket_id(table: str, *, unique: bool) -> None:
    name = op.f(f"ix_{table}_ticket_id")
    op.drop_index(name, table_name=table)
    op.create_index(name, table, ["ticket_id"], unique=unique)
