"""The access rules: first match wins, `*` is one segment, `**` any depth, hosts, the
default; and the indexed lookup always agrees with reading the rules one by one."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.access_rules.table import BadRule, Rule, RuleTable, Who

PUBLIC, MEMBERS = Who(public=True), Who(members=True)


def roles(*names: str) -> Who:
    return Who(roles=frozenset(names))


def table(*rules: tuple[str, str] | tuple[str, str, str], default: Who = PUBLIC) -> RuleTable:
    return RuleTable([Rule.parse(*r) for r in rules], default)


def test_first_match_wins():
    """Does the first rule that matches decide, whatever comes after it?"""
    t = table(("/guides/free", "public"), ("/guides/**", "premium"), ("/**", "members"))
    assert t.decide("/guides/free").who == PUBLIC
    assert t.decide("/guides/paid").who == roles("premium")
    assert t.decide("/about").who == MEMBERS
    assert t.decide("/guides/paid").rule == 1


def test_a_star_is_one_segment_and_two_stars_any_depth():
    """Does `*` stand for exactly one segment, and `**` for any number (none included)?"""
    t = table(("/guides/*", "premium"), ("/files/**", "pro"), default=MEMBERS)
    assert t.decide("/guides/a").who == roles("premium")
    assert t.decide("/guides/a/b").who == MEMBERS
    assert t.decide("/guides").who == MEMBERS
    assert t.decide("/files").who == roles("pro")
    assert t.decide("/files/a/b/c.pdf").who == roles("pro")
    assert t.decide("/filesx").who == MEMBERS


def test_stars_inside_a_segment_and_in_the_middle():
    """Do `*.pdf` and `/a/**/b` match as globs should?"""
    t = table(("/files/*.pdf", "pro"), ("/a/**/secret", "premium"))
    assert t.decide("/files/x.pdf").who == roles("pro")
    assert t.decide("/files/x.pdf.txt").who == PUBLIC
    assert t.decide("/files/sub/x.pdf").who == PUBLIC
    assert t.decide("/a/secret").who == roles("premium")
    assert t.decide("/a/b/c/secret").who == roles("premium")
    assert t.decide("/a/b/c/secret/more").who == PUBLIC


def test_patterns_are_canonical_like_paths():
    """Is a pattern read with the same case and Unicode folding as the paths it meets?"""
    t = table(("/Guides/Ünïcode/*", "premium"))
    assert t.decide("/guides/ünïcode/page").who == roles("premium")


def test_host_rules_apply_on_their_host_only():
    """Does a rule with a host apply there only, and a rule without one everywhere?"""
    t = table(("/**", "premium", "docs.example.com"), ("/private/**", "members"))
    assert t.decide("/x", host="Docs.Example.com:443").who == roles("premium")
    assert t.decide("/x", host="www.example.com").who == PUBLIC
    assert t.decide("/x").who == PUBLIC
    assert t.decide("/private/x", host="www.example.com").who == MEMBERS
    assert t.decide("/private/x", host="docs.example.com").who == roles("premium")  # first


def test_the_default_decides_what_no_rule_names():
    """Does a path no rule names get the table's default, with no rule named?"""
    decision = table(("/a", "public"), default=roles("premium")).decide("/b")
    assert decision.who == roles("premium") and decision.rule is None


@pytest.mark.parametrize(
    ("who", "anonymous", "member", "premium_member", "pro_member"),
    [
        (PUBLIC, True, True, True, True),
        (MEMBERS, False, True, True, True),
        (roles("premium"), False, False, True, False),
        (roles("premium", "pro"), False, False, True, True),
    ],
)
def test_who_admits(who, anonymous, member, premium_member, pro_member):
    """Does each kind of rule admit exactly the visitors it names?"""
    assert who.admits(False, set()) is anonymous
    assert who.admits(True, set()) is member
    assert who.admits(True, {"premium"}) is premium_member
    assert who.admits(True, {"pro"}) is pro_member


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("public", PUBLIC),
        ("members", MEMBERS),
        ("premium", roles("premium")),
        ("premium, pro", roles("premium", "pro")),
        ("Pro premium", roles("premium", "pro")),
    ],
)
def test_who_is_read_from_text(text, expected):
    """Is `who` read from a word or a list of role names?"""
    assert Who.parse(text) == expected
    assert Who.parse(str(expected)) == expected


@pytest.mark.parametrize("text", ["", "public premium", "members, pro", "no spaces!", "x" * 41])
def test_bad_who_says_what_to_write(text):
    """Is a `who` that mixes kinds or names no role refused with a clear message?"""
    with pytest.raises(BadRule):
        Who.parse(text)


@pytest.mark.parametrize(
    "pattern", ["guides/*", "/guides/a**", "/a/../b", "/./a", "/a%2e%2e", "/a\x00", ""]
)
def test_bad_patterns_are_refused(pattern):
    """Is a pattern that is not a clean absolute glob refused?"""
    with pytest.raises(BadRule):
        Rule.parse(pattern, "public")


# The reference: each rule as one regular expression over the whole path (the root as
# ""), the rules read one by one.
def reference(rules: list[Rule], default: Who, path: str) -> Who:
    target = "" if path == "/" else path
    for rule in rules:
        regex = ""
        for part in (p for p in rule.pattern.split("/") if p):
            if part == "**":
                regex += "(?:/[^/]+)*"
            elif part == "*":
                regex += "/[^/]+"
            else:
                regex += "/" + "[^/]*".join(re.escape(x) for x in part.split("*"))
        if re.fullmatch(regex, target):
            return rule.who
    return default


SEGMENTS = st.sampled_from(["a", "b", "c", "x.pdf", "y.txt"])
PATTERN_SEGMENTS = st.sampled_from(["a", "b", "c", "*", "**", "*.pdf", "x*"])
WHOS = st.sampled_from([PUBLIC, MEMBERS, roles("premium"), roles("pro")])


@settings(max_examples=300, deadline=None)
@given(
    rules=st.lists(st.tuples(st.lists(PATTERN_SEGMENTS, max_size=4), WHOS), min_size=0, max_size=8),
    paths=st.lists(st.lists(SEGMENTS, max_size=5), min_size=1, max_size=10),
)
def test_the_index_agrees_with_reading_the_rules_in_order(rules, paths):
    """For any rules and paths, does the indexed lookup find what reading the rules one
    by one finds?"""
    parsed = [Rule("/" + "/".join(segs), who) for segs, who in rules]
    t = RuleTable(parsed, MEMBERS)
    for segs in paths:
        path = "/" + "/".join(segs)
        assert t.decide(path).who == reference(parsed, MEMBERS, path), (path, parsed)
