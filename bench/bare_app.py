"""The baseline: a bare Flask route, served with the same gunicorn settings as the site."""

from flask import Flask

app = Flask(__name__)


@app.route("/", methods=["GET", "POST"])
def bare() -> tuple[str, int]:
    return "", 200
