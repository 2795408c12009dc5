"""Write instance/config.py with a fresh SECRET_KEY, once: `python -m gateway.ops.init_instance`.

A plain module rather than a `flask` command, because the app refuses to load without
a key — the very thing this writes.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def ensure_secret_key(instance_path: Path) -> bool:
    """Append a SECRET_KEY to instance/config.py unless one is there; True if written."""
    path = instance_path / "config.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and "SECRET_KEY" in path.read_text():
        return False
    with path.open("a") as fh:
        fh.write(f"SECRET_KEY = {secrets.token_hex(32)!r}\n")
    path.chmod(0o600)
    return True


def main() -> int:
    instance = Path(os.environ.get("GATEWAY_INSTANCE_PATH") or ROOT / "instance")
    written = ensure_secret_key(instance)
    print(f"{'wrote a new' if written else 'kept the'} SECRET_KEY in {instance / 'config.py'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
