"""A flood of forged messages at PayPal's public endpoints, bounded (docs/security.md,
"A flood of forged messages").

- `sources.py`: who sent a POST (through the proxies we trust) and whether it is PayPal;
- `limiter.py`: per-source and overall token buckets, per process;
- `guard.py`: the two together, as the endpoints ask them (429 / 503 with Retry-After);
- `refusals.py`: refusals counted into the database, at most once a minute a process;
- `retention.py`: the job that keeps unverified messages in compact form;
- `junk.py`: the status page's and the metrics' view of junk arriving.
"""
