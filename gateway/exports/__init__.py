"""Admin CSV exports: what each table's export reads (`tables`), and the job that writes a
large one to a file (`files`). The routes are in gateway/admin/exports.py.

An export of up to EXPORT_STREAM_MAX_ROWS rows streams in the request (chunked, so a cut-off
download ends without HTTP's last chunk and the client reports an error); a larger one is
written by the `exports` job to a file the admin downloads from /admin/exports when ready.
"""
