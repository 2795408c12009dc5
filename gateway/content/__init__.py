"""The content folder: Markdown pages and files the site owner puts in
`GATEWAY_CONTENT_DIR`, scanned and rendered without Flask or the database (`pages.py`;
one page's text in `render.py`, the folder's listing in `walk.py`)."""
