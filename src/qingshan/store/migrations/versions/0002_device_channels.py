"""Device channels: rejected packets (HJ 212 and MQTT) and device events.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25

* ``rejected_packets``: every packet or message a device channel refused (or partly refused),
  with its raw bytes, the reason and the peer — nothing that arrives is dropped silently.
* ``device_events``: HJ 212 2021/2041/2081 … reports of registered devices.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

TIME = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rejected_packets",
        sa.Column("id", ID, nullable=False),
        sa.Column("received_at", TIME, nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("peer", sa.String(length=200), nullable=False),
        sa.Column("mn", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.CheckConstraint(
            "channel = 'hj212' OR channel = 'mqtt'", name=op.f("ck_rejected_packets_channel")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rejected_packets")),
    )
    with op.batch_alter_table("rejected_packets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rejected_packets_received_at"), ["received_at"], unique=False
        )

    op.create_table(
        "device_events",
        sa.Column("id", ID, nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("cn", sa.String(length=8), nullable=False),
        sa.Column("data_time", TIME, nullable=True),
        sa.Column("received_at", TIME, nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_device_events_device_id_devices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_events")),
    )
    with op.batch_alter_table("device_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_device_events_device_id_received_at", ["device_id", "received_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("device_events", schema=None) as batch_op:
        batch_op.drop_index("ix_device_events_device_id_received_at")
    op.drop_table("device_events")
    with op.batch_alter_table("rejected_packets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rejected_packets_received_at"))
    op.drop_table("rejected_packets")
