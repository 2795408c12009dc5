"""The REST client over real HTTP: token cache, retries with backoff, PayPal's error bodies."""

from __future__ import annotations

from collections import deque

import pytest
from flask import Flask, jsonify, request

from gateway.paypal.api import ApiError, PayPalApi
from tests.servers import serve


class FakePayPal:
    """Scripted answers for /v1/billing/subscriptions/<id>; real OAuth-shaped tokens."""

    url: str  # set once served

    def __init__(self) -> None:
        self.app = Flask("fake-paypal")
        self.answers: deque[tuple[int, dict, dict]] = deque()
        self.calls: list[tuple[str, str, dict]] = []
        self.tokens = 0
        self.lifetime = 3600

        @self.app.post("/v1/oauth2/token")
        def token():
            assert request.authorization is not None and request.authorization.username == "id"
            self.tokens += 1
            return jsonify(access_token=f"T{self.tokens}", expires_in=self.lifetime)

        @self.app.route("/v1/billing/subscriptions/<sub_id>", methods=["GET", "POST"])
        @self.app.route("/v1/billing/subscriptions/<sub_id>/<action>", methods=["POST"])
        def sub(sub_id, action=None):
            self.calls.append(
                (request.method, request.headers["Authorization"], dict(request.headers))
            )
            status, body, headers = (
                self.answers.popleft() if self.answers else (200, {"id": sub_id}, {})
            )
            return jsonify(body), status, headers


@pytest.fixture
def fake():
    paypal = FakePayPal()
    with serve(paypal.app) as url:
        paypal.url = url
        yield paypal


@pytest.fixture
def api(fake):
    slept: list[float] = []
    now = [0.0]
    client = PayPalApi(
        fake.url, "id", "secret", timeout=2, retries=3, sleep=slept.append, monotonic=lambda: now[0]
    )
    client.slept, client.now = slept, now  # type: ignore[attr-defined]
    return client


def test_token_cached_until_it_expires(api, fake):
    for _ in range(5):
        api.get_subscription("I-1")
    assert fake.tokens == 1
    api.now[0] = fake.lifetime - 30  # inside the renewal margin
    api.get_subscription("I-1")
    assert fake.tokens == 2 and fake.calls[-1][1] == "Bearer T2"


def test_5xx_and_429_are_retried_with_backoff(api, fake):
    fake.answers.extend(
        [
            (503, {"name": "SERVICE_UNAVAILABLE"}, {}),
            (429, {"name": "RATE_LIMIT_REACHED"}, {"Retry-After": "3"}),
            (500, {"name": "INTERNAL_SERVER_ERROR"}, {}),
        ]
    )
    assert api.get_subscription("I-2") == {"id": "I-2"}
    assert len(fake.calls) == 4
    assert api.slept == [0.5, 3.0, 2.0]  # doubling, but Retry-After when PayPal sends one


def test_retries_run_out_with_paypals_error(api, fake):
    fake.answers.extend([(500, {"name": "INTERNAL_SERVER_ERROR", "debug_id": "abc123"}, {})] * 4)
    with pytest.raises(ApiError) as e:
        api.get_subscription("I-3")
    assert e.value.retryable and e.value.status == 500
    assert "INTERNAL_SERVER_ERROR" in e.value.for_admin() and "abc123" in e.value.for_admin()


def test_4xx_is_not_retried_and_its_details_are_kept(api, fake):
    fake.answers.append(
        (
            422,
            {
                "name": "UNPROCESSABLE_ENTITY",
                "message": "The requested action could not be performed.",
                "debug_id": "f00",
                "details": [
                    {"issue": "SUBSCRIPTION_STATUS_INVALID", "description": "Invalid status"}
                ],
            },
            {},
        )
    )
    with pytest.raises(ApiError) as e:
        api.cancel_subscription("I-4", "moving", request_id="r-1")
    assert len(fake.calls) == 1 and not e.value.retryable
    text = e.value.for_admin()
    assert "HTTP 422" in text and "SUBSCRIPTION_STATUS_INVALID" in text and "f00" in text
    assert fake.calls[0][2]["Paypal-Request-Id"] == "r-1"


def test_a_post_without_request_id_is_not_retried(api, fake):
    """Retrying a POST PayPal may have performed could do it twice."""
    fake.answers.append((503, {}, {}))
    with pytest.raises(ApiError):
        api.call("POST", "/v1/billing/subscriptions/I-5")
    assert len(fake.calls) == 1


def test_a_revoked_token_is_renewed_once(api, fake):
    fake.answers.append((401, {"error": "invalid_token"}, {}))
    assert api.get_subscription("I-6") == {"id": "I-6"}
    assert fake.tokens == 2


def test_no_answer_is_retryable(fake):
    dead = PayPalApi(
        "http://127.0.0.1:9", "id", "secret", timeout=0.5, retries=1, sleep=lambda s: None
    )
    with pytest.raises(ApiError) as e:
        dead.get_subscription("I-7")
    assert e.value.retryable and e.value.status is None


@pytest.mark.parametrize("bad", ["../oauth2/token", "I-1?x=1", "I 1", "", "I-" + "9" * 80])
def test_ids_never_reach_a_url_unchecked(api, fake, bad):
    with pytest.raises(ApiError):
        api.get_subscription(bad)
    assert fake.calls == []
