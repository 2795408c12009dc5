"""IPN verification: post the exact received bytes back to PayPal, prefixed with the cmd."""

from __future__ import annotations

from .. import metrics

USER_AGENT = "Tollgate-IPN-Verifier/1.0"
HEADERS = {"Content-Type": "application/x-www-form-urlencoded", "User-Agent": USER_AGENT}


class PostbackVerifier:
    """Asks the configured postback URL; never one chosen by the message (docs/paypal.md §1).

    urllib3 itself rather than requests on top of it: a worker sends hundreds of postbacks
    a second, and requests' session layer cost 0.6 ms of CPU per postback against 0.25 ms
    (figures in bench/README.md). Nothing requests adds is wanted here: no cookies, no
    redirects (a postback answer is VERIFIED or INVALID at the URL we chose, or nothing).
    """

    def __init__(self, url: str, timeout: float, pool_size: int = 10) -> None:
        import certifi  # the CA bundle requests would use (PayPal's chain is in it)
        import urllib3  # ~2 MB: only in processes that verify (not in web workers)

        self.url = url
        self.timeout = urllib3.Timeout(connect=timeout, read=timeout)
        # One pool shared by the worker's verify threads: keep-alive connections, as many
        # as postbacks can be in flight (a surplus connection is closed after its use).
        self.http = urllib3.PoolManager(
            maxsize=pool_size, retries=False, ca_certs=certifi.where(), cert_reqs="CERT_REQUIRED"
        )

    @metrics.timed_postback
    def verify(self, raw: bytes) -> str:
        """VERIFIED, INVALID, or a short description of whatever else happened."""
        import urllib3  # loaded by __init__ already

        try:
            response = self.http.request(
                "POST",
                self.url,
                body=b"cmd=_notify-validate&" + raw,
                headers=HEADERS,
                timeout=self.timeout,
                redirect=False,
            )
        except urllib3.exceptions.NewConnectionError as e:  # a subclass of the timeout
            return f"connection failed: {type(e).__name__}"
        except urllib3.exceptions.TimeoutError:
            return f"no answer within {self.timeout.read_timeout:g} s"
        except urllib3.exceptions.HTTPError as e:
            return f"connection failed: {type(e).__name__}"
        text = response.data[:200].decode("latin-1").strip()
        if response.status == 200 and text in ("VERIFIED", "INVALID"):
            return text
        return f"HTTP {response.status}: {text[:120]!r}"
