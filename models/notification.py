"""The raw inbox: every message PayPal sent, stored byte for byte before we answer."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.billing.rules.statuses import OPEN_NOTIFICATION, Channel, NotificationStatus

from .base import Model
from .types import StatusColumn, UTCDateTime

#: The statuses a worker may claim, as SQL (the open index's condition).
OPEN_SQL = "status IN ({})".format(", ".join(f"'{s.value}'" for s in OPEN_NOTIFICATION))
#: Messages PayPal did not verify, ended, still whole: what the retention job compacts
#: (gateway/flood/retention.py) once they are old enough.
UNVERIFIED_SQL = "status IN ('invalid', 'flagged') AND verified_at IS NULL AND compacted_at IS NULL"
COMPACTED_SQL = "compacted_at IS NOT NULL"


class Notification(Model):
    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_due", "status", "next_attempt_at"),
        # The messages a worker may claim, in id order: small however many were processed
        # (gateway/pipeline/claims.py writes the same condition as literals).
        Index(
            "ix_notifications_open",
            "id",
            postgresql_where=text(OPEN_SQL),
            sqlite_where=text(OPEN_SQL),
        ),
        Index("ix_notifications_subscr", "subscr_id"),
        Index("ix_notifications_txn", "txn_id"),
        Index("ix_notifications_waiting", "waiting_for"),
        Index("ix_notifications_event", "channel", "event_id"),
        Index(
            "ix_notifications_unverified",
            "received_at",
            postgresql_where=text(UNVERIFIED_SQL),
            sqlite_where=text(UNVERIFIED_SQL),
        ),
        Index(
            "ix_notifications_compacted",
            "received_at",
            postgresql_where=text(COMPACTED_SQL),
            sqlite_where=text(COMPACTED_SQL),
        ),
        # INVALID answers by when they came (the status page's and /metrics' rise in them):
        # partial, so the inbox's common rows never enter it.
        Index(
            "ix_notifications_invalid",
            "processed_at",
            postgresql_where=text("status = 'invalid'"),
            sqlite_where=text("status = 'invalid'"),
        ),
        # The admin messages list (gateway/admin/messages.py): a subscription's messages,
        # the type filter in id order (and its list of types, by a skip scan), id prefixes.
        Index("ix_notifications_subscription", "subscription_id"),
        Index("ix_notifications_type_id", "txn_type", "id", postgresql_include=["status"]),
        Index(
            "ix_notifications_txn_id_pattern",
            "txn_id",
            postgresql_ops={"txn_id": "varchar_pattern_ops"},
        ),
        Index(
            "ix_notifications_subscr_id_pattern",
            "subscr_id",
            postgresql_ops={"subscr_id": "varchar_pattern_ops"},
        ),
        # Words inside the outcome (ILIKE '%…%'): a pg_trgm GIN index on PostgreSQL; on
        # SQLite (small shops) a plain index the LIKE does not use, kept so both match.
        Index(
            "ix_notifications_outcome_trgm",
            "outcome",
            postgresql_using="gin",
            postgresql_ops={"outcome": "gin_trgm_ops"},
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[Channel] = mapped_column(StatusColumn(Channel, "channel_known", 10))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    body: Mapped[bytes] = mapped_column(LargeBinary)
    headers: Mapped[dict[str, str]] = mapped_column(JSON)
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[NotificationStatus] = mapped_column(
        StatusColumn(NotificationStatus, "status_known", 12), default=NotificationStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    lease_owner: Mapped[str | None] = mapped_column(String(40))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: PayPal's answer to our postback (VERIFIED / INVALID / the start of anything else).
    verification: Mapped[str | None] = mapped_column(String(200))
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    # Parsed for filtering; the body stays the record.
    txn_type: Mapped[str | None] = mapped_column(String(64))
    txn_id: Mapped[str | None] = mapped_column(String(64))
    payment_status: Mapped[str | None] = mapped_column(String(32))
    subscr_id: Mapped[str | None] = mapped_column(String(64))
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("subscriptions.id"))
    #: The sender's own id for the message (a webhook event's `id`): repeats are found by it.
    event_id: Mapped[str | None] = mapped_column(String(128))
    #: A refund that arrived before its payment waits for that txn id.
    waiting_for: Mapped[str | None] = mapped_column(String(64))
    # An unverified message past INBOX_JUNK_KEEP_HOURS keeps only these of its body (and
    # no headers): gateway/flood/retention.py. Verified messages are never compacted.
    compacted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Hex SHA-256 of the body that was dropped.
    body_sha256: Mapped[str | None] = mapped_column(String(64))
    body_size: Mapped[int | None] = mapped_column(Integer)
    #: The payment an admin matched a refund or reversal to, whose own parent never came
    #: (gateway/pipeline/waiting.py): applied as if the message named it.
    matched_txn_id: Mapped[str | None] = mapped_column(String(64))
