"""Stepping the inbox worker in a test: one batch of what is due, on the test's clock.

Production drains the inbox (`worker.drain`, the scheduler's job); a test steps it one
batch at a time to look between batches, so this lives with the tests.
"""

from __future__ import annotations

from flask import current_app

from gateway.clock import now
from gateway.pipeline.claims import claim
from gateway.pipeline.worker import process_batch


def process_due(limit: int | None = None) -> int:
    """Claim and process what is due now; returns how many messages were handled."""
    size = limit or int(current_app.config["INBOX_BATCH_SIZE"])
    ids = claim(now(), size)
    if ids:
        process_batch(ids)
    return len(ids)
