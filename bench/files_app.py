"""What bench/big_file.py serves: every file of BENCH_CONTENT_DIR as a gated download."""

import os
from pathlib import Path

from flask import Flask

from gateway.content.files import send_asset

ROOT = Path(os.environ["BENCH_CONTENT_DIR"])
app = Flask(__name__)


@app.route("/<path:name>")
def download(name: str):
    return send_asset(ROOT / name, ROOT, gated=True)
