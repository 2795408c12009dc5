"""App factory: config order and the secret-key guard."""

from __future__ import annotations

import pytest

from gateway import ConfigError, create_app


@pytest.fixture
def instance(tmp_path, monkeypatch):
    monkeypatch.setenv("GATEWAY_INSTANCE_PATH", str(tmp_path))
    return tmp_path


def test_refuses_default_secret_outside_debug(instance, monkeypatch):
    """Does the app refuse to start in production with the placeholder or no key?"""
    monkeypatch.delenv("GATEWAY_SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app()
    monkeypatch.setenv("GATEWAY_SECRET_KEY", "short")
    with pytest.raises(ConfigError):
        create_app()


def test_config_order(instance, monkeypatch):
    """defaults -> instance/config.py -> GATEWAY_* env -> test overrides, each winning."""
    (instance / "config.py").write_text(
        "SECRET_KEY = 'from-instance-file-0123456789'\nGRACE_DAYS = 5\nLAPSING_DAYS = 9\n"
    )
    monkeypatch.setenv("GATEWAY_LAPSING_DAYS", "11")
    app = create_app()
    assert app.config["SECRET_KEY"] == "from-instance-file-0123456789"
    assert app.config["GRACE_DAYS"] == 5  # file beats default
    assert app.config["LAPSING_DAYS"] == 11  # env beats file (JSON-parsed to int)
    assert app.config["ADMIN_PAGE_SIZE"] == 50  # default stays
    app = create_app({"TESTING": True, "LAPSING_DAYS": 2})
    assert app.config["LAPSING_DAYS"] == 2  # test override beats env


def test_default_database_is_sqlite_in_instance(instance, monkeypatch):
    """With no database configured, is SQLite in the instance folder used?"""
    monkeypatch.setenv("GATEWAY_SECRET_KEY", "x" * 32)
    monkeypatch.delenv("GATEWAY_SQLALCHEMY_DATABASE_URI", raising=False)
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{instance / 'tollgate.sqlite'}"


def test_bad_cancel_policy_is_refused(instance):
    """Is an unknown cancel policy a start-up error rather than a surprise later?"""
    with pytest.raises(ConfigError, match="CANCEL_POLICY"):
        create_app({"TESTING": True, "CANCEL_POLICY": "whenever"})


@pytest.mark.parametrize("default", ["", "public members", "Pro!"])
def test_bad_access_default_is_refused(instance, default):
    """Is a default for paths no rule names that cannot be read a start-up error, rather
    than a site that quietly opens (or closes) everything?"""
    with pytest.raises(ConfigError, match="ACCESS_DEFAULT"):
        create_app({"TESTING": True, "ACCESS_DEFAULT": default})
