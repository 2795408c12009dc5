"""What a site built on django-paypal adds: a valid_ipn_received handler that extends access."""
