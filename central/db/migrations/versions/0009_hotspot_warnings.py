"""hotspot warnings

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07

Hotspot early warnings (网格热点问题智能分析预警, `central/warnings/`): one row
per grid × category found rising above its own baseline, open → acknowledged →
resolved. A partial unique index keeps at most one warning per grid and
category that is not resolved, whichever replica's job finds it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ACTIVE = "state != 'resolved'"


def upgrade() -> None:
    op.create_table(
        "hotspot_warnings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("grid_code", sa.String(length=15), nullable=False),
        sa.Column("category_code", sa.String(length=8), nullable=False),
        sa.Column("category_name", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("window_days", sa.Integer(), nullable=False),
        sa.Column("observed", sa.Integer(), nullable=False),
        sa.Column("expected", sa.Float(), nullable=False),
        sa.Column("p_value", sa.Float(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=100), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hotspot_warnings")),
    )
    with op.batch_alter_table("hotspot_warnings", schema=None) as batch_op:
        for column in ("grid_code", "state", "opened_at", "updated_at"):
            batch_op.create_index(
                batch_op.f(f"ix_hotspot_warnings_{column}"), [column], unique=False
            )
        batch_op.create_index(
            "uq_hotspot_warnings_active",
            ["grid_code", "category_code"],
            unique=True,
            sqlite_where=sa.text(_ACTIVE),
            postgresql_where=sa.text(_ACTIVE),
        )


def downgrade() -> None:
    with op.batch_alter_table("hotspot_warnings", schema=None) as batch_op:
        batch_op.drop_index("uq_hotspot_warnings_active")
        for column in ("updated_at", "opened_at", "state", "grid_code"):
            batch_op.drop_index(batch_op.f(f"ix_hotspot_warnings_{column}"))
    op.drop_table("hotspot_warnings")
