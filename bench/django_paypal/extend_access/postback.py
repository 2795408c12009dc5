"""Point django-paypal 2.1's IPN postback at the benchmark's stand-in.

django-paypal has no setting for it: PayPalIPN.get_endpoint() returns
SANDBOX_POSTBACK_ENDPOINT when the message has test_ipn=1 and POSTBACK_ENDPOINT otherwise
(PAYPAL_TEST is not consulted), two constants that paypal/standard/models.py imports from
paypal/standard/conf.py. get_endpoint() reads them as module globals at call time, so
replacing them in paypal.standard.models is enough. Nothing else is changed: the
postback is still django-paypal's own requests.post(), without a timeout, inside the request.
"""

from django.conf import settings


def point_at_stand_in() -> None:
    import paypal.standard.models as standard

    url = settings.PAYPAL_BENCH_POSTBACK_URL
    standard.POSTBACK_ENDPOINT = url
    standard.SANDBOX_POSTBACK_ENDPOINT = url
