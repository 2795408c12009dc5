"""Access rules, pure: an ordered list of `pattern -> who may see it`, first match wins.

A pattern is a canonical path (paths.py) in which a segment may be `*` or hold `*`s (one
segment: `/guides/*`, `/files/*.pdf`) or be `**` (any number of segments, none
included: `/files/**` also covers `/files`). A rule may name a host, for sites behind the
gateway; a rule without one applies to every host. A path no rule names gets the table's
default.

Rules are kept in a tree of segments, so finding the first match costs about the path's
depth, not the number of rules: a literal segment is one dictionary lookup, and only
the wildcard branches of the tree are tried.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field

from .paths import BadPath, canonical_host, canonical_text

PUBLIC, MEMBERS = "public", "members"
ROLE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


class BadRule(ValueError):
    """A rule that cannot be read: the message says what to write instead."""


@dataclass(frozen=True)
class Who:
    """Who may see a path: everyone, any logged-in account, or holders of any of `roles`."""

    public: bool = False
    members: bool = False
    roles: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, text: str | Iterable[str]) -> Who:
        """`public`, `members`, or role names (a list, or separated by spaces or commas)."""
        words = text.replace(",", " ").split() if isinstance(text, str) else list(text)
        words = [w.strip().lower() for w in words if w.strip()]
        if words == [PUBLIC]:
            return cls(public=True)
        if words == [MEMBERS]:
            return cls(members=True)
        if not words or PUBLIC in words or MEMBERS in words:
            raise BadRule("who: `public`, `members`, or one or more role names")
        for word in words:
            if not ROLE_NAME.match(word):
                raise BadRule(f"{word!r} is not a role name (a-z, 0-9, - and _)")
        return cls(roles=frozenset(words))

    def admits(self, authenticated: bool, roles: Collection[str]) -> bool:
        if self.public:
            return True
        if not authenticated:
            return False
        return self.members or not self.roles.isdisjoint(roles)

    def __str__(self) -> str:
        if self.public:
            return PUBLIC
        if self.members:
            return MEMBERS
        return " ".join(sorted(self.roles))


@dataclass(frozen=True)
class Rule:
    pattern: str
    who: Who
    host: str | None = None

    @classmethod
    def parse(cls, pattern: str, who: str | Iterable[str], host: str | None = None) -> Rule:
        return cls(
            canonical_pattern(pattern), Who.parse(who), canonical_host(host) if host else None
        )


def canonical_pattern(pattern: str) -> str:
    """The pattern in canonical form, or BadRule saying what is wrong with it."""
    text = pattern.strip()
    if not text.startswith("/"):
        raise BadRule(f"{pattern!r}: a pattern starts with /")
    if any(part in (".", "..") for part in text.split("/")):
        raise BadRule(f"{pattern!r}: no . or .. segments in a pattern")
    for part in text.split("/"):
        if "**" in part and part != "**":
            raise BadRule(f"{pattern!r}: ** stands alone as a whole segment")
    try:
        return canonical_text(text)
    except BadPath as e:
        raise BadRule(f"{pattern!r}: {e}") from None


@dataclass
class _Node:
    literal: dict[str, _Node] = field(default_factory=dict)
    globs: dict[str, tuple[re.Pattern[str], _Node]] = field(default_factory=dict)
    deep: _Node | None = None
    #: The first rule (smallest index) whose pattern ends here.
    first: int | None = None

    def add(self, segments: Sequence[str], index: int) -> None:
        node = self
        for seg in segments:
            if seg == "**":
                node.deep = node.deep or _Node()
                node = node.deep
            elif "*" in seg:
                if seg not in node.globs:
                    regex = re.compile(
                        ".+" if seg == "*" else ".*".join(map(re.escape, seg.split("*")))
                    )
                    node.globs[seg] = (regex, _Node())
                node = node.globs[seg][1]
            else:
                node = node.literal.setdefault(seg, _Node())
        if node.first is None:
            node.first = index

    def first_match(self, segments: Sequence[str]) -> int | None:
        seen: dict[tuple[int, int], int | None] = {}

        def walk(node: _Node, i: int) -> int | None:
            key = (id(node), i)
            if key in seen:
                return seen[key]
            found = node.first if i == len(segments) else None
            candidates: list[int | None] = [found]
            if node.deep is not None:
                candidates += [walk(node.deep, k) for k in range(i, len(segments) + 1)]
            if i < len(segments):
                seg = segments[i]
                child = node.literal.get(seg)
                if child is not None:
                    candidates.append(walk(child, i + 1))
                for regex, glob_child in node.globs.values():
                    if regex.fullmatch(seg):
                        candidates.append(walk(glob_child, i + 1))
            best = min((c for c in candidates if c is not None), default=None)
            seen[key] = best
            return best

        return walk(self, 0)


@dataclass(frozen=True)
class Decision:
    who: Who
    #: The index of the rule that decided, or None: no rule named the path (the default).
    rule: int | None


class RuleTable:
    """The rules in order, indexed for lookups; immutable once built."""

    def __init__(self, rules: Sequence[Rule], default: Who) -> None:
        self.rules = tuple(rules)
        self.default = default
        self._any_host = _Node()
        self._by_host: dict[str, _Node] = {}
        for index, rule in enumerate(self.rules):
            root = self._by_host.setdefault(rule.host, _Node()) if rule.host else self._any_host
            root.add(_segments(rule.pattern), index)

    def decide(self, path: str, host: str | None = None) -> Decision:
        """Who may see `path` (canonical: paths.canonical_path) on `host`."""
        segments = _segments(path)
        found = [self._any_host.first_match(segments)]
        if host is not None and self._by_host:
            on_host = self._by_host.get(canonical_host(host))
            if on_host is not None:
                found.append(on_host.first_match(segments))
        first = min((i for i in found if i is not None), default=None)
        if first is None:
            return Decision(self.default, None)
        return Decision(self.rules[first].who, first)


def _segments(path: str) -> list[str]:
    return [s for s in path.split("/") if s]
