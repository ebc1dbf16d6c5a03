"""iot devices

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07

The city's IoT sensors (docs/iot.md): one `devices` row per sensor, with its
type, gateway, place and grid, and what central knows of it now: status, last
reading, the rules' memory and the recent values the devices view draws.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "devices",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("device_type", sa.String(length=32), nullable=False),
        sa.Column("gateway_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("grid_code", sa.String(length=15), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_values", sa.JSON(), nullable=False),
        sa.Column("rule_state", sa.JSON(), nullable=False),
        sa.Column("recent", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_devices")),
    )
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_devices_device_type"), ["device_type"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_devices_gateway_id"), ["gateway_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_devices_grid_code"), ["grid_code"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_devices_grid_code"))
        batch_op.drop_index(batch_op.f("ix_devices_gateway_id"))
        batch_op.drop_index(batch_op.f("ix_devices_device_type"))
    op.drop_table("devices")
