"""The timeline's states in words: each state, with or without access, never "none"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.billing.rules.reasons import STATE_WORDS, state_text
from gateway.billing.rules.statuses import SubscriptionState as State

NOW = datetime(2026, 1, 15, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    "state,until,words",
    [
        (State.PENDING, None, "waiting for its first payment, no access yet"),
        (State.ACTIVE, NOW + timedelta(days=31), "active, access until 15 Feb 2026"),
        (
            State.CANCELLED,
            NOW + timedelta(days=1),
            "cancelled (no more renewals), access until 16 Jan 2026",
        ),
        (State.ENDED, NOW - timedelta(days=1), "ended at PayPal, access ended 14 Jan 2026"),
        (State.REFUNDED, None, "refunded, no access"),
    ],
)
def test_states_read_in_words(state, until, words):
    """Does each state read as words with the site's day, and no access as words too?"""
    assert state_text(state, until, NOW) == words


def test_every_state_has_words():
    """Is every renewal state worded (a new one cannot fall through to its raw value)?"""
    assert set(STATE_WORDS) == set(State)
    assert all("none" not in state_text(s, None, NOW) for s in State)
