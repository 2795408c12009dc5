"""The owner's content: Markdown pages and files in `GATEWAY_CONTENT_DIR`, served at their
own paths as the access rules say.

Pure (no Flask, no database): `pages.py` scans and renders the folder (one page's text in
`render.py`, the listing in `walk.py`). In the site: `site.py` (the library per app, the
pages' rules, what is not served), `routes.py` and `listing.py` (pages, folder indexes),
`files.py` (downloads: Range, ETag, hand-over to nginx).
"""
