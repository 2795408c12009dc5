"""PayPal's REST API as the gateway calls it: OAuth token cached until it expires, every
call time-limited, 5xx/429 and network failures retried with backoff, PayPal's error
bodies kept for admins.

Only workers, jobs and the member's own checkout requests call this; PayPal's
server-to-server endpoints never do (they only store what they receive).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from flask import current_app

from .urls import api_base, api_credentials

if TYPE_CHECKING:
    # requests (~5 MB) is imported by the first client made, not by every process that
    # imports this module only for ApiError (a CSV import, a web worker).
    import requests

USER_AGENT = "Tollgate/1.0"
#: A token is renewed this long before PayPal says it expires (clock skew, slow calls).
TOKEN_MARGIN = 60.0
#: Longest wait between retries, whatever Retry-After asks for.
MAX_BACKOFF = 8.0


class ApiError(Exception):
    """PayPal refused the call (4xx), or kept failing (5xx, 429, network) after retries."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        name: str = "",
        debug_id: str = "",
        details: str = "",
        retryable: bool = False,
    ) -> None:
        super().__init__(message)
        self.status, self.name, self.debug_id = status, name, debug_id
        self.details, self.retryable = details, retryable
        #: PayPal's Retry-After on a 429/503, in seconds, if it sent one.
        self.retry_after = ""

    def for_admin(self) -> str:
        """One line with everything PayPal said, for a flag or an admin page."""
        parts = [f"HTTP {self.status}" if self.status else "no answer", self.name, str(self)]
        if self.details:
            parts.append(self.details)
        if self.debug_id:
            parts.append(f"debug_id {self.debug_id}")
        return ": ".join(p for p in parts if p)[:1000]

    @property
    def not_found(self) -> bool:
        return self.status == 404


def _error_from(response: requests.Response) -> ApiError:
    """PayPal's error body: {name, message, debug_id, details[{issue, description, field}]}
    or OAuth's {error, error_description}; anything else is quoted."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        text = response.text[:200]
        return ApiError(
            text or response.reason or "",
            status=response.status_code,
            retryable=_retryable(response.status_code),
        )
    found = body.get("details")
    details: list[Any] = found if isinstance(found, list) else []
    described = "; ".join(
        " ".join(str(d.get(k, "")) for k in ("field", "issue", "description")).strip()
        for d in details
        if isinstance(d, dict)
    )
    return ApiError(
        str(body.get("message") or body.get("error_description") or "")[:300],
        status=response.status_code,
        name=str(body.get("name") or body.get("error") or "")[:80],
        debug_id=str(body.get("debug_id") or "")[:40],
        details=described[:500],
        retryable=_retryable(response.status_code),
    )


def _retryable(status: int) -> bool:
    return status == 429 or status >= 500


class PayPalApi:
    """One client per process (thread-safe); tests pass their own `sleep`."""

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        timeout: float = 10.0,
        retries: int = 3,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.client_id, self.client_secret = client_id, client_secret
        self.timeout, self.retries = timeout, retries
        self._sleep, self._monotonic = sleep, monotonic
        if session is None:
            import requests

            session = requests.Session()
        self.http = session
        self._token: tuple[str, float] | None = None
        self._token_lock = threading.Lock()
        #: How many tokens were fetched (tests: one per lifetime, not one per call).
        self.tokens_fetched = 0

    @property
    def configured(self) -> bool:
        return bool(self.base_url and self.client_id and self.client_secret)

    # --- OAuth -------------------------------------------------------------------
    def token(self, *, renew: bool = False) -> str:
        with self._token_lock:
            now = self._monotonic()
            if not renew and self._token is not None and self._token[1] > now:
                return self._token[0]
            response = self._send(
                "POST",
                "/v1/oauth2/token",
                data={"grant_type": "client_credentials"},
                auth=(self.client_id, self.client_secret),
            )
            body = response.json() if response.content else {}
            value = body.get("access_token") if isinstance(body, dict) else None
            if not isinstance(value, str) or not value:
                raise ApiError("the OAuth answer holds no access_token", status=200)
            lifetime = float(body.get("expires_in") or 0)
            self._token = (value, now + max(lifetime - TOKEN_MARGIN, 0.0))
            self.tokens_fetched += 1
            return value

    # --- calls -------------------------------------------------------------------
    def call(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        request_id: str | None = None,
    ) -> dict[str, Any]:
        """The JSON answer ({} for 204). Raises ApiError. A POST is retried only with a
        `request_id` (PayPal-Request-Id makes the retry the same operation) or when it is
        read-only by nature (verify-webhook-signature)."""
        headers = {"Content-Type": "application/json", "Prefer": "return=representation"}
        if request_id:
            headers["PayPal-Request-Id"] = request_id
        for renewal in (False, True):
            headers["Authorization"] = f"Bearer {self.token(renew=renewal)}"
            response = self._send(
                method,
                path,
                json=json,
                params=params,
                headers=headers,
                retry=method == "GET" or bool(request_id) or path.endswith("signature"),
            )
            if response.status_code == 401 and not renewal:
                continue  # the token expired early or was revoked: one fresh token
            if response.status_code >= 400:
                raise _error_from(response)
            if not response.content:
                return {}
            try:
                body = response.json()
            except ValueError:
                raise ApiError(
                    f"not JSON: {response.text[:120]!r}", status=response.status_code
                ) from None
            return body if isinstance(body, dict) else {"items": body}
        raise ApiError("PayPal refused two fresh access tokens", status=401)

    def _send(
        self, method: str, path: str, *, retry: bool = True, **kwargs: Any
    ) -> requests.Response:
        """One HTTP exchange, retried on 5xx/429/network failure with exponential backoff."""
        import requests  # loaded by __init__ already

        attempts = self.retries + 1 if retry else 1
        headers = {"User-Agent": USER_AGENT, **kwargs.pop("headers", {})}
        last: ApiError | None = None
        for attempt in range(attempts):
            if attempt:
                self._sleep(self._backoff(attempt, last))
            try:
                response = self.http.request(
                    method,
                    self.base_url + path,
                    timeout=self.timeout,
                    headers=headers,
                    **kwargs,
                )
            except requests.Timeout:
                last = ApiError(f"no answer within {self.timeout:g} s", retryable=True)
                continue
            except requests.RequestException as e:
                last = ApiError(f"connection failed: {type(e).__name__}", retryable=True)
                continue
            if not _retryable(response.status_code):
                return response
            last = _error_from(response)
            last.retry_after = response.headers.get("Retry-After", "")
        assert last is not None  # the loop ran at least once and did not return
        raise last

    def _backoff(self, attempt: int, last: ApiError | None) -> float:
        if last is not None and last.retry_after.isdigit():
            return min(float(last.retry_after), MAX_BACKOFF)
        return min(0.5 * 2 ** (attempt - 1), MAX_BACKOFF)

    # --- the Subscriptions API ----------------------------------------------------
    def create_subscription(
        self, plan_id: str, custom_id: str, return_url: str, cancel_url: str, request_id: str
    ) -> dict[str, Any]:
        return self.call(
            "POST",
            "/v1/billing/subscriptions",
            json={
                "plan_id": plan_id,
                "custom_id": custom_id,
                "application_context": {
                    "return_url": return_url,
                    "cancel_url": cancel_url,
                    "user_action": "SUBSCRIBE_NOW",
                    "shipping_preference": "NO_SHIPPING",
                },
            },
            request_id=request_id,
        )

    def get_subscription(self, subscription_id: str) -> dict[str, Any]:
        return self.call("GET", f"/v1/billing/subscriptions/{_safe_id(subscription_id)}")

    def transactions(self, subscription_id: str, start: datetime, end: datetime) -> list[Any]:
        body = self.call(
            "GET",
            f"/v1/billing/subscriptions/{_safe_id(subscription_id)}/transactions",
            params={"start_time": _rfc3339(start), "end_time": _rfc3339(end)},
        )
        items = body.get("transactions")
        return items if isinstance(items, list) else []

    def cancel_subscription(self, subscription_id: str, reason: str, request_id: str) -> None:
        self.call(
            "POST",
            f"/v1/billing/subscriptions/{_safe_id(subscription_id)}/cancel",
            json={"reason": reason[:128]},
            request_id=request_id,
        )

    def set_status(self, subscription_id: str, action: str, reason: str, request_id: str) -> None:
        """`suspend` or `activate` (a paused subscription resumes billing)."""
        assert action in ("suspend", "activate")
        self.call(
            "POST",
            f"/v1/billing/subscriptions/{_safe_id(subscription_id)}/{action}",
            json={"reason": reason[:128]},
            request_id=request_id,
        )

    def revise_subscription(
        self, subscription_id: str, plan_id: str, return_url: str, cancel_url: str
    ) -> dict[str, Any]:
        """Move the subscription to another plan; the answer may hold an `approve` link
        the buyer must follow before PayPal makes the change."""
        return self.call(
            "POST",
            f"/v1/billing/subscriptions/{_safe_id(subscription_id)}/revise",
            json={
                "plan_id": plan_id,
                "application_context": {
                    "return_url": return_url,
                    "cancel_url": cancel_url,
                    "user_action": "CONTINUE",
                    "shipping_preference": "NO_SHIPPING",
                },
            },
        )

    def refund_sale(
        self, sale_id: str, amount: Decimal, currency: str, request_id: str
    ) -> dict[str, Any]:
        """Refund (part of) a sale. The same request id returns the same refund, so this
        is safe to send again after a timeout or a crash."""
        return self.call(
            "POST",
            f"/v1/payments/sale/{_safe_id(sale_id)}/refund",
            json={"amount": {"total": f"{amount:.2f}", "currency": currency}},
            request_id=request_id,
        )

    def post_json(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.call("POST", path, json=body)


def _safe_id(value: str) -> str:
    """PayPal ids are short and alphanumeric with dashes; anything else never reaches a URL."""
    if not value or len(value) > 64 or not all(c.isalnum() or c in "-_" for c in value):
        raise ApiError(f"not a PayPal id: {value[:70]!r}")
    return value


def _rfc3339(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def api_client() -> PayPalApi:
    """The app's API client (tests may put their own in app.extensions["paypal_api"])."""
    app = current_app
    if "paypal_api" not in app.extensions:
        client_id, secret = api_credentials(app.config)
        app.extensions["paypal_api"] = PayPalApi(
            api_base(app.config),
            client_id,
            secret,
            timeout=float(app.config["PAYPAL_TIMEOUT"]),
            retries=int(app.config["PAYPAL_API_RETRIES"]),
        )
    client: PayPalApi = app.extensions["paypal_api"]
    return client
