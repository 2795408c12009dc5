"""IPN verification: post the exact received bytes back to PayPal, prefixed with the cmd."""

from __future__ import annotations

from .. import metrics

USER_AGENT = "Tollgate-IPN-Verifier/1.0"


class PostbackVerifier:
    """Asks the configured postback URL; never one chosen by the message (docs/paypal.md §1)."""

    def __init__(self, url: str, timeout: float, pool_size: int = 10) -> None:
        import requests  # ~5 MB: only in processes that verify (not in web workers)
        import requests.adapters

        self.url, self.timeout = url, timeout
        # One session shared by the worker's verify threads: keep-alive connections, as
        # many as postbacks can be in flight (urllib3 would otherwise drop the surplus).
        self.http = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=pool_size)
        self.http.mount("https://", adapter)
        self.http.mount("http://", adapter)

    @metrics.timed_postback
    def verify(self, raw: bytes) -> str:
        """VERIFIED, INVALID, or a short description of whatever else happened."""
        import requests  # loaded by __init__ already

        try:
            response = self.http.post(
                self.url,
                data=b"cmd=_notify-validate&" + raw,
                timeout=self.timeout,
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "User-Agent": USER_AGENT,
                },
            )
        except requests.Timeout:
            return f"no answer within {self.timeout:g} s"
        except requests.RequestException as e:
            return f"connection failed: {type(e).__name__}"
        text = response.content[:200].decode("latin-1").strip()
        if response.status_code == 200 and text in ("VERIFIED", "INVALID"):
            return text
        return f"HTTP {response.status_code}: {text[:120]!r}"
