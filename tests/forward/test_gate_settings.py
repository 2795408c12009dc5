"""The gate's settings are read once, at start: one that cannot be used stops the app
with a ConfigError naming it, rather than a gate that quietly opens or breaks."""

from __future__ import annotations

import pytest

from gateway import ConfigError, create_app


@pytest.fixture(autouse=True)
def instance(tmp_path, monkeypatch):
    monkeypatch.setenv("GATEWAY_INSTANCE_PATH", str(tmp_path))


def headers(user="X-U", email="X-E", roles="X-R", **more):
    return {"user": user, "email": email, "roles": roles} | more


BAD_SETTINGS = {
    # A GATEWAY_* variable that is not JSON arrives as a string: a list of characters.
    "GATE_PROXIES": ["127.0.0.1", ["127.0.0.1", "nginx"], ["10.0.0.0/33"], ["127.0.0.1/8,::1"]],
    "ALLOWED_RETURN_HOSTS": [
        "intranet",
        ["docs.example.com", "https://x"],
        ["*"],
        ["*."],
        [""],
        ["x/y"],
    ],
    "GATE_CORS_ORIGINS": [
        "https://app.example.com",
        ["app.example.com"],
        ["https://app.example.com/x"],
        ["ftp://a"],
        ["*"],
    ],
    "GATE_HEADERS": [
        {"user": "X-U", "email": "X-E"},  # a key missing
        headers(extra="X-X"),
        ["user", "email", "roles"],
        headers(user="Remote-User"),  # not X-
        headers(user="X-U: 1"),
        headers(user="X-Tollgate User"),
        headers(user="X-U\r\nSet-Cookie"),  # a header of its own on the answer
        headers(user="X-"),
        headers(email="x-u"),  # two names for one header: one value would be lost
    ],
}


@pytest.mark.parametrize(
    "name,value",
    [
        pytest.param(name, value, id=f"{name}-{i}")
        for name, values in BAD_SETTINGS.items()
        for i, value in enumerate(values)
    ],
)
def test_a_bad_gate_setting_stops_the_start(name, value):
    with pytest.raises(ConfigError, match=f"GATEWAY_{name}"):
        create_app({"TESTING": True, name: value})


def test_good_gate_settings_start():
    app = create_app(
        {
            "TESTING": True,
            "GATE_PROXIES": ["10.0.0.0/8", " fd00::1 "],
            "ALLOWED_RETURN_HOSTS": ["Docs.Example.com.", "*.example.org", "shop.test:8443"],
            "GATE_CORS_ORIGINS": ["https://App.Example.com/", "http://localhost:3000"],
            "GATE_HEADERS": headers(user="X-Remote-User", roles="x-groups"),
        }
    )
    assert app.extensions["return_hosts"] == ["docs.example.com", "*.example.org", "shop.test:8443"]
    assert app.extensions["cors_origins"] == {"https://app.example.com", "http://localhost:3000"}
    assert len(app.extensions["gate_proxies"]) == 2


def test_a_list_from_the_environment_is_json(monkeypatch):
    monkeypatch.setenv("GATEWAY_ALLOWED_RETURN_HOSTS", "intranet")  # not JSON: a string
    with pytest.raises(ConfigError, match="GATEWAY_ALLOWED_RETURN_HOSTS is a list"):
        create_app({"TESTING": True})
    monkeypatch.setenv("GATEWAY_ALLOWED_RETURN_HOSTS", '["intranet", "*.example.org"]')
    app = create_app({"TESTING": True})
    assert app.extensions["return_hosts"] == ["intranet", "*.example.org"]
