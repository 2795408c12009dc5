"""Entry point: `flask --app app run`, `gunicorn app:app`."""

from gateway import create_app

app = create_app()
