"""The channel seam: what each channel supplies, and the registry that finds it."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from flask import current_app

from ..billing.rules.interpretation import Interpretation
from ..billing.rules.statuses import Channel

#: The stored verification of a message proven to be PayPal's (whatever the channel).
VERIFIED = "VERIFIED"


@dataclass(frozen=True)
class Received:
    """A stored notification as a channel sees it: the bytes and headers as received."""

    id: int
    channel: Channel
    body: bytes
    headers: Mapping[str, str]
    received_at: datetime


class Outcome(enum.Enum):
    VERIFIED = "verified"  # genuinely from PayPal: apply it
    INVALID = "invalid"  # PayPal disowns it (or the signature is wrong): final, no effect
    RETRY = "retry"  # could not tell now (PayPal down, odd answer): ask again later


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    #: What is stored as the message's verification ("VERIFIED", "INVALID", or what happened).
    detail: str
    #: A rejection an admin must see (a bad signature: an attack or a wrong webhook id).
    #: Invalid IPNs are common junk and stay in the log without a flag.
    flag: bool = False

    @classmethod
    def verified(cls, detail: str = "VERIFIED") -> Verdict:
        return cls(Outcome.VERIFIED, detail)

    @classmethod
    def invalid(cls, detail: str = "INVALID", flag: bool = False) -> Verdict:
        return cls(Outcome.INVALID, detail, flag)

    @classmethod
    def retry(cls, detail: str) -> Verdict:
        return cls(Outcome.RETRY, detail)


#: What verifying a message of each channel is, for the admin's log and flags: an IPN is
#: posted back to PayPal; a webhook's signature is checked (here, or by PayPal's verify API).
VERIFY_STEP = {
    Channel.IPN: "postback",
    Channel.WEBHOOK: "signature",
    Channel.API: "api",
    Channel.CSV: "csv",
}


def verify_step(channel: Channel) -> str:
    """The name of `channel`'s verification ("postback", "signature"...)."""
    return VERIFY_STEP.get(channel, "verification")


class ChannelAdapter(Protocol):
    """One way PayPal's word reaches us."""

    def verify(self, received: Received) -> Verdict:
        """Prove the message is PayPal's. May call PayPal; no database transaction is open."""
        ...

    def interpret(self, received: Received) -> Interpretation:
        """Pure: bytes -> channel-neutral interpretation. Never raises on bad input."""
        ...


class UnknownChannel(LookupError):
    """A stored notification names a channel this app has no adapter for."""


def adapter_for(channel: Channel) -> ChannelAdapter:
    adapters: dict[Channel, ChannelAdapter] = current_app.extensions["channels"]
    try:
        return adapters[channel]
    except KeyError:
        raise UnknownChannel(f"no adapter for channel {channel.value!r}") from None
