"""Protected downloads from the owner's content folder: the answer once a route has let
the visitor in.

Werkzeug's `send_file` does the HTTP: the file streamed in blocks (never read whole),
ETag and Last-Modified, If-None-Match / If-Modified-Since → 304, `Range` → 206 or 416,
`Accept-Ranges: bytes`, and the `filename*=` form of a non-ASCII name. Called here
directly rather than through `flask.send_file`, whose X-Sendfile switch is the app-wide
`USE_X_SENDFILE` (Flask's static files too); ours is `CONTENT_SENDFILE`, downloads only.

Behind a front server (`CONTENT_SENDFILE`) the app answers headers only and the server
sends the bytes:

- `"x-accel-redirect"` (nginx): `X-Accel-Redirect: <CONTENT_ACCEL_PREFIX><path under the
  root>`, percent-encoded (nginx decodes the header's URI since 1.5.9; a raw `%` or `?`
  would be misread) into an `internal` location. Of the app's headers nginx keeps only
  Content-Type, Content-Disposition, Cache-Control, Expires, Accept-Ranges and Set-Cookie
  (the `redirect` flag in ngx_http_upstream.c's `ngx_http_upstream_headers_in`); it drops
  Vary, X-Content-Type-Options and every other header, and makes its own ETag and
  Last-Modified from the file, against which it answers If-None-Match, If-Modified-Since
  and Range (206, 416, multipart) itself. So the app neither evaluates them nor sends an
  ETag here, and the nginx location adds nosniff and Vary (docs/content-files.md).
- `"x-sendfile"` (Apache mod_xsendfile, Lighttpd): `X-Sendfile: <absolute path>`. The app
  still answers 304 (Werkzeug then drops the header); Range is left to the server, which
  applies it to the file it sends, since a 206 with no body would be taken as the whole.
"""

from __future__ import annotations

import mimetypes
import os
import stat
from pathlib import Path
from urllib.parse import quote

from flask import current_app, request
from werkzeug.exceptions import NotFound
from werkzeug.utils import send_file
from werkzeug.wrappers import Response

SENDFILE_MODES = ("", "x-accel-redirect", "x-sendfile")
#: Seconds a shared cache may keep a public file.
PUBLIC_MAX_AGE = 3600

# Types the system table (/etc/mime.types) may lack or name otherwise; a table of ours
# rather than mimetypes.add_type, which changes the whole process and is undone by init().
_TYPES = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".webm": "video/webm",
    ".mp3": "audio/mpeg",
    ".m4a": "audio/mp4",
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".opus": "audio/ogg",
    ".flac": "audio/flac",
    ".wav": "audio/wav",
    ".pdf": "application/pdf",
    ".epub": "application/epub+zip",
    ".zip": "application/zip",
    ".webp": "image/webp",
    ".avif": "image/avif",
}
# A compressed file is sent as itself: "x.tar.gz" must not go out as a tar with
# Content-Encoding: gzip, which a browser would unpack and Range would cut wrongly.
_COMPRESSED = {"gzip": "application/gzip", "bzip2": "application/x-bzip2", "xz": "application/x-xz"}


def content_type(name: str) -> str:
    """The Content-Type a file of this name is sent with."""
    known = _TYPES.get(os.path.splitext(name)[1].lower())
    if known:
        return known
    guessed, encoding = mimetypes.guess_type(name)
    if encoding is not None:
        return _COMPRESSED.get(encoding, "application/octet-stream")
    return guessed or "application/octet-stream"


def shown_inline(mimetype: str) -> bool:
    """What a browser plays or shows itself opens in the page; the rest is saved. SVG is
    saved too: as a page of this site its scripts would run here."""
    major = mimetype.partition("/")[0]
    return mimetype == "application/pdf" or (
        major in ("image", "audio", "video") and mimetype != "image/svg+xml"
    )


def send_asset(
    source: Path, root: Path, *, gated: bool, download_name: str | None = None
) -> Response:
    """Answer a GET or HEAD for the file `source` in the content folder `root`.

    404 for anything that is not a regular, visible, non-Markdown file inside `root`
    once symlinks are followed: the scanner and the rules decided before, this checks
    again. `gated` files may be kept by the visitor's browser only (revalidated each
    time); public ones by any cache for PUBLIC_MAX_AGE seconds.
    """
    mode = current_app.config.get("CONTENT_SENDFILE", "")
    if mode not in SENDFILE_MODES:
        raise ValueError(f"CONTENT_SENDFILE must be one of {SENDFILE_MODES}, not {mode!r}")
    path, relative = _checked(source, root)
    mimetype = content_type(source.name)

    environ = request.environ
    ranged = environ.get("HTTP_RANGE")
    if ranged is not None and (mode or _ignored_range(ranged)):
        environ = {k: v for k, v in environ.items() if k != "HTTP_RANGE"}
    elif ranged is not None:
        # Werkzeug seeks to a range's start only in its own FileWrapper; the server's
        # (gunicorn's: sendfile, but no seek) would be read and thrown away up to it, a
        # whole 1 GiB file for its last MiB (bench/big_file.py).
        environ = {k: v for k, v in environ.items() if k != "wsgi.file_wrapper"}
    response = send_file(
        path,
        environ,
        mimetype=mimetype,
        as_attachment=not shown_inline(mimetype),
        download_name=download_name or source.name,
        conditional=mode != "x-accel-redirect",  # nginx answers them from its own ETag
        etag=mode != "x-accel-redirect",
        max_age=None if gated else PUBLIC_MAX_AGE,  # None: "no-cache", made private below
        use_x_sendfile=bool(mode),
        response_class=current_app.response_class,
    )
    if mode == "x-accel-redirect":
        del response.headers["X-Sendfile"]
        prefix = current_app.config.get("CONTENT_ACCEL_PREFIX", "/_tollgate_protected/")
        response.headers["X-Accel-Redirect"] = prefix + quote(os.fsencode(relative), safe="/")
        response.content_length = 0  # the body is nginx's; no server may wait for one
    elif mode == "x-sendfile" and "X-Sendfile" in response.headers:
        # WSGI headers are Latin-1 strings: this puts the path's own bytes on the wire.
        response.headers["X-Sendfile"] = os.fsencode(path).decode("latin-1")

    if gated:
        response.cache_control.private = True
        response.vary.update(("Cookie", "Authorization"))
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _checked(source: Path, root: Path) -> tuple[str, str]:
    """The file's real path and its path under the real root; NotFound if refused."""
    try:
        real_root = root.resolve(strict=True)
        real = source.resolve(strict=True)
        st = real.stat()
    except (OSError, RuntimeError):  # missing, unreadable, or a symlink loop (RuntimeError)
        raise NotFound()
    if real == real_root or not real.is_relative_to(real_root) or not stat.S_ISREG(st.st_mode):
        raise NotFound()
    relative = real.relative_to(real_root)
    for name in (source.name, *relative.parts):
        if _refused_name(name):
            raise NotFound()
    return str(real), relative.as_posix()


def _refused_name(name: str) -> bool:
    """Hidden files and folders, Markdown sources (they are pages, never downloads), and
    names no header could carry."""
    return (
        name.startswith(".")
        or name.lower().endswith(".md")
        or any(ord(c) < 0x20 or ord(c) == 0x7F for c in name)
    )


def _ignored_range(value: str) -> bool:
    """Ranges answered with the whole file (RFC 9110 allows a server to ignore Range):
    another unit, which must be ignored, and several ranges at once, which Werkzeug
    answers 416 although they may be satisfiable."""
    return "," in value or not value.strip().lower().startswith("bytes=")
