"""Why a message has no effect yet: flagged for an admin, or waiting for another message.
Raised while applying (apply, purchases, first_row) and handled by the worker."""

from __future__ import annotations


class Flagged(Exception):
    """A check failed: no effect, and a flag for an admin (and, where there is one, a word
    for the member whose checkout it was)."""

    def __init__(self, kind: str, message: str, member_message: str = "") -> None:
        super().__init__(message)
        self.kind, self.member_message = kind, member_message


class Deferred(Exception):
    """Not yet applicable (a refund whose payment we have not seen); try again later."""

    def __init__(self, message: str, waiting_for: str) -> None:
        super().__init__(message)
        self.waiting_for = waiting_for
