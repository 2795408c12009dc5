"""Import boundaries: the billing core is pure; models never import the gateway."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(folder: Path) -> set[str]:
    names = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def test_billing_core_is_pure():
    """Does gateway/billing import nothing of Flask, the database or HTTP?"""
    forbidden = {"flask", "flask_login", "flask_sqlalchemy", "sqlalchemy", "requests",
                 "models", "gateway", "werkzeug", "psycopg"}
    assert imported_modules(ROOT / "gateway" / "billing") & forbidden == set()


def test_models_do_not_import_gateway():
    """Do the models stay below the gateway package?"""
    assert "gateway" not in imported_modules(ROOT / "models")


def test_stand_in_is_separate():
    """Is the PayPal stand-in kept apart from the gateway and models, both ways?"""
    assert "paypal_sim" not in imported_modules(ROOT / "gateway")
    assert "paypal_sim" not in imported_modules(ROOT / "models")
    assert imported_modules(ROOT / "paypal_sim") & {"gateway", "models"} == set()
