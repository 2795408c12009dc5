"""Import boundaries: the billing core is pure; models import nothing of the gateway but
its pure status enums; the inbox worker loads no view."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import BOUND

ROOT = Path(__file__).resolve().parent.parent


def imported_full(folder: Path) -> set[str]:
    """Every module name imported anywhere under `folder` (or in that one file), relative
    imports resolved (so `from ..database import x` inside gateway/billing counts as
    gateway.database)."""
    names = set()
    for path in [folder] if folder.is_file() else folder.rglob("*.py"):
        package = path.relative_to(ROOT).parent.parts
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
            elif isinstance(node, ast.ImportFrom):
                base = package[: len(package) - (node.level - 1)]
                names.add(".".join([*base, *([node.module] if node.module else [])]))
    return names


def imported_modules(folder: Path) -> set[str]:
    return {name.split(".")[0] for name in imported_full(folder)}


def loaded_after(statement: str) -> list[str]:
    """Modules of ours a fresh interpreter has loaded after running `statement`."""
    code = (
        f"import json, sys; {statement}; print(json.dumps(sorted(m for m in sys.modules "
        "if m.split('.')[0] in ('gateway', 'models'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=BOUND,  # killed if it hangs
    )
    return json.loads(out.stdout)


@pytest.mark.parametrize("package", ["billing", "access_rules"])
def test_pure_cores_are_pure(package):
    """Do gateway/billing and gateway/access_rules import nothing of Flask, the database
    or HTTP?"""
    forbidden = {
        "flask",
        "flask_login",
        "flask_sqlalchemy",
        "sqlalchemy",
        "requests",
        "models",
        "gateway",
        "werkzeug",
        "psycopg",
    }
    own = f"gateway.{package}"
    outside = {n for n in imported_full(ROOT / "gateway" / package) if not n.startswith(own)}
    assert {n.split(".")[0] for n in outside} & forbidden == set(), outside


def test_models_import_only_the_status_enums_of_the_gateway():
    """Do the models stay below the gateway, using only its pure status enums?"""
    ours = {n for n in imported_full(ROOT / "models") if n.split(".")[0] == "gateway"}
    assert ours == {"gateway.billing.rules.statuses"}


VIEW_PACKAGES = ("gateway.admin", "gateway.auth", "gateway.member")


@pytest.mark.parametrize(
    "module",
    ["gateway.pipeline.worker", "gateway.reconciliation.rebuild", "gateway.billing", "models"],
)
def test_worker_and_core_load_no_views(module):
    """Does importing the inbox worker (or the core, or the models) load no view module?"""
    loaded = loaded_after(f"import {module}")
    assert module in loaded
    views = [m for m in loaded if m.startswith(VIEW_PACKAGES) or m == "gateway.pipeline.endpoints"]
    assert views == []


def test_views_do_load_when_the_app_is_built():
    """Is the check above able to see views at all (they load with create_app)?"""
    loaded = loaded_after("from gateway import create_app; create_app({'TESTING': True})")
    assert "gateway.pipeline.endpoints" in loaded and "gateway.admin.routes" in loaded


def test_stand_in_is_separate():
    """Is the PayPal stand-in kept apart from the gateway and models, both ways?"""
    assert "paypal_sim" not in imported_modules(ROOT / "gateway")
    assert "paypal_sim" not in imported_modules(ROOT / "models")
    assert imported_modules(ROOT / "paypal_sim") & {"gateway", "models"} == set()


#: Libraries the app loads only when a process needs them (~25 MB together; the Activity
#: import's 100 MB budget, bench/activity_import.py): Alembic (+Mako, Pygments) for
#: `flask db` and /readyz, cryptography's X.509 for verifying a webhook, requests for
#: calling PayPal; fpdf2 (+Pillow, fontTools) for a receipt's PDF.
ON_DEMAND = ("alembic", "mako", "pygments", "cryptography", "requests", "urllib3")
PDF = ("fpdf", "PIL", "fontTools")


def loaded_libraries(statement: str) -> set[str]:
    code = f"import json, sys; {statement}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=BOUND,  # killed if it hangs
    )
    return {m.split(".")[0] for m in json.loads(out.stdout)}


def test_the_app_loads_heavy_libraries_only_on_demand():
    """Does building the app (and a request's worth of imports) leave them unloaded?"""
    loaded = loaded_libraries(
        "from gateway import create_app; create_app({'TESTING': True}); "
        "import gateway.reconciliation.importing"
    )
    assert loaded & set(ON_DEMAND + PDF) == set()


def test_on_demand_libraries_do_load_when_used():
    """Is the check above able to see them: migrations, a webhook check, a PayPal call."""
    loaded = loaded_libraries(
        "from gateway import create_app; app = create_app({'TESTING': True}); "
        "app.extensions['migrate'].directory; "
        "from gateway.channels.webhook import WebhookChannel, cert_source; "
        "app.app_context().push(); cert_source(); "
        "from gateway.paypal.api import PayPalApi; PayPalApi('http://127.0.0.1:9', 'a', 'b'); "
        "from fpdf import FPDF"
    )
    assert set(ON_DEMAND + PDF) - {"pygments"} <= loaded


def unit_of(module: str) -> str | None:
    """The part of the house a module belongs to: a package under gateway/ (its whole
    folder), a loose module of gateway/, or models; None for anything else."""
    parts = module.split(".")
    if parts[0] == "models":
        return "models"
    if parts[0] != "gateway" or len(parts) == 1:
        return None  # the factory (gateway/__init__.py) stands above everything
    return "gateway." + parts[1]


def unit_imports() -> dict[str, set[str]]:
    """Which parts import which, from every file of gateway/ and models/."""
    arrows: dict[str, set[str]] = {}
    for folder in (ROOT / "gateway", ROOT / "models"):
        for path in folder.rglob("*.py"):
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            here = unit_of(module.removesuffix(".__init__"))
            if here is None:
                continue
            package = path.relative_to(ROOT).parent.parts
            for node in ast.walk(ast.parse(path.read_text())):
                targets: list[str] = []
                if isinstance(node, ast.Import):
                    targets = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom):
                    base = (
                        ".".join(package[: len(package) - (node.level - 1)]) if node.level else ""
                    )
                    start = ".".join(p for p in (base, node.module or "") if p)
                    targets = [f"{start}.{a.name}" for a in node.names] + [start]
                for target in targets:
                    there = unit_of(target)
                    if (
                        there is not None
                        and there != here
                        and (
                            (ROOT / target.replace(".", "/")).with_suffix(".py").exists()
                            or (ROOT / target.replace(".", "/")).is_dir()
                        )
                    ):
                        arrows.setdefault(here, set()).add(there)
    return arrows


def test_the_parts_of_the_house_import_each_other_in_one_direction():
    """Is there an order of gateway's packages and loose modules (and models) in which
    every import points down: no two parts that import each other, however indirectly?"""
    arrows = unit_imports()
    assert "gateway.admin" in arrows and "gateway.billing" in arrows["models"]  # it sees them
    done: set[str] = set()

    def visit(unit: str, path: list[str]) -> None:
        if unit in path:
            raise AssertionError("parts that import each other: " + " -> ".join(path + [unit]))
        if unit in done:
            return
        for there in sorted(arrows.get(unit, ())):
            visit(there, path + [unit])
        done.add(unit)

    for unit in sorted(arrows):
        visit(unit, [])
