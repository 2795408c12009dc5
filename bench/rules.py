"""Access rules: a lookup among 1,000 rules against the same lookup among 10, in-process,
in the same run. The rules are what a site owner writes: sections by prefix
(`/section-N/**`), single pages, file globs (`/files/N/*.pdf`), a few per host.

Target: a path's decision costs at most 2x as much with 1,000 rules as with 10 (the
lookup follows the path through a tree of segments; it does not read the rules one by
one). Exits 1 when missed.
Usage: python bench/rules.py [--lookups N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from gateway.access_rules.paths import canonical_path
from gateway.access_rules.table import Rule, RuleTable, Who

TARGET = 2.0


def rules(n: int) -> RuleTable:
    made = []
    for i in range(n):
        kind = i % 4
        if kind == 0:
            made.append(Rule.parse(f"/section-{i}/**", "premium"))
        elif kind == 1:
            made.append(Rule.parse(f"/pages/page-{i}", "members"))
        elif kind == 2:
            made.append(Rule.parse(f"/files/{i}/*.pdf", "pro"))
        else:
            made.append(Rule.parse(f"/docs/{i}/**", "premium", host=f"site{i % 7}.example.com"))
    made.append(Rule.parse("/**", "public"))
    return RuleTable(made, Who(members=True))


def per_lookup(table: RuleTable, paths: list[str], hosts: list[str], n: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        table.decide(canonical_path(paths[i % len(paths)], raw=True), hosts[i % len(hosts)])
    return (time.perf_counter() - start) / n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lookups", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    paths = [
        "/section-8/chapter/1",
        "/pages/page-5",
        "/files/6/report.pdf",
        "/docs/3/api/v1",
        "/blog/2026/12/a-post",
        "/Public/../section-4/x",
    ]
    hosts = ["site3.example.com", "www.example.com"]
    small, large = rules(10), rules(1000)
    ratios = []
    for _ in range(args.rounds):
        a = per_lookup(small, paths, hosts, args.lookups)
        b = per_lookup(large, paths, hosts, args.lookups)
        ratios.append(b / a)
        print(f"10 rules {a * 1e6:6.2f} us, 1,000 rules {b * 1e6:6.2f} us: {b / a:.2f}x")
    ratio = statistics.median(ratios)
    verdict = "met" if ratio <= TARGET else "MISSED"
    print(f"target: 1,000 rules <= {TARGET:g}x the time of 10 (median {ratio:.2f}x): {verdict}")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
