"""A second process serving the app (for the gate's cross-process test): python -m
tests.web.gate_server DATABASE_URL PORT. Test-only log-in route, as in tests/conftest.py."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from flask import current_app, jsonify
from flask_login import login_user
from werkzeug.serving import make_server

from gateway import create_app
from models import User, db


def main() -> None:
    url, port = sys.argv[1], int(sys.argv[2])
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret-key-0123456789",
            "WTF_CSRF_ENABLED": False,
            "SQLALCHEMY_DATABASE_URI": url,
            # The tests' content: /premium is a page for the premium role.
            "CONTENT_DIR": str(Path(__file__).resolve().parent.parent / "site_content"),
        },
        instance_path=tempfile.mkdtemp(),
    )

    def login(user_id: int):
        login_user(db.session.get(User, user_id))
        return "", 204

    def gate():
        cache = current_app.extensions["gate_cache"]
        watcher = cache.watcher if cache is not None else None
        trusted = cache is not None and watcher is not None and watcher.current(cache)
        return jsonify(
            copies=cache.size() if cache is not None else 0,
            trusted=trusted,
        )

    app.add_url_rule("/_test/login/<int:user_id>", view_func=login)
    app.add_url_rule("/_test/gate", view_func=gate)
    server = make_server("127.0.0.1", port, app, threaded=True)
    print("serving", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
