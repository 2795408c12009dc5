"""CLI commands: init-instance, seed-demo, create-admin."""

from __future__ import annotations

from sqlalchemy import func, select

from models import Plan, User


def test_init_instance_writes_secret_once(tmp_path):
    """Does init_instance write a secret key once and leave it alone after?"""
    from gateway.ops.init_instance import ensure_secret_key

    assert ensure_secret_key(tmp_path) is True
    first = (tmp_path / "config.py").read_text()
    assert first.startswith("SECRET_KEY = ") and len(first) > 70
    assert ensure_secret_key(tmp_path) is False
    assert (tmp_path / "config.py").read_text() == first


def test_seed_demo_is_idempotent_and_prints_password(app, runner, db):
    """Does seed-demo create the plans and an admin, print the password, and not repeat?"""
    result = runner.invoke(args=["seed-demo", "--if-new"])
    assert result.exit_code == 0
    password = result.output.strip().split(" / ")[1]
    admin = db.session.scalar(select(User).where(User.email == "admin@example.com"))
    assert admin.is_admin and admin.check_password(password)
    assert db.session.scalar(select(func.count()).select_from(Plan)) == 3
    again = runner.invoke(args=["seed-demo", "--if-new"])
    assert again.output.strip() == result.output.strip()  # same credentials shown again
    assert db.session.scalar(select(func.count()).select_from(Plan)) == 3


def test_create_admin(runner, db, make_user):
    """Does create-admin create an admin, or promote an existing member?"""
    r = runner.invoke(args=["create-admin", "Boss@Example.com", "--password", "a long password"])
    assert r.exit_code == 0 and "created admin boss@example.com" in r.output
    member = make_user("m@example.com")
    r = runner.invoke(args=["create-admin", "m@example.com", "--password", "a long password"])
    assert r.exit_code == 0 and "promoted" in r.output
    db.session.expire_all()
    assert db.session.get(User, member.id).is_admin


def test_create_admin_rejects_bad_input(runner):
    """Are a bad e-mail and a short password refused with a message?"""
    r = runner.invoke(args=["create-admin", "nope", "--password", "a long password"])
    assert r.exit_code != 0 and "not an e-mail address" in r.output
    r = runner.invoke(args=["create-admin", "a@example.com", "--password", "short"])
    assert r.exit_code != 0 and "at least 10 characters" in r.output
