"""A minimal Django site that receives PayPal IPN with django-paypal 2.1.

Configured by bench/side_by_side.py through the environment:
DP_DB_NAME, DP_DB_HOST, DP_DB_PORT, DP_DB_USER, DP_DB_PASSWORD (PostgreSQL via psycopg 3),
DP_POSTBACK_URL (where django-paypal posts IPNs back; see extend_access/postback.py).
"""

import os

SECRET_KEY = "bench-only-not-a-secret-0123456789abcdef"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "paypal.standard.ipn",
    "extend_access.apps.ExtendAccessConfig",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]
ROOT_URLCONF = "dp_site.urls"
WSGI_APPLICATION = "dp_site.wsgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ.get("DP_DB_NAME", "django_paypal_bench"),
        "HOST": os.environ.get("DP_DB_HOST", "127.0.0.1"),
        "PORT": os.environ.get("DP_DB_PORT", "5432"),
        "USER": os.environ.get("DP_DB_USER", "postgres"),
        "PASSWORD": os.environ.get("DP_DB_PASSWORD", ""),
        # Persistent connections: a kindness to django-paypal (Django's default, 0,
        # opens a connection per request). Tollgate keeps a SQLAlchemy pool.
        "CONN_MAX_AGE": 60,
    }
}
# django-paypal 2.1 ships AutoField ids and no AppConfig: keep the project default to match.
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
USE_TZ = True
TIME_ZONE = "UTC"

# django-paypal reads PAYPAL_TEST for buttons, PDT and Payments Pro; its IPN postback
# URL comes from the message's own `test_ipn` (sandbox when 1, live otherwise), both
# constants in paypal/standard/conf.py. extend_access/postback.py points both at the stand-in.
PAYPAL_TEST = True
PAYPAL_BENCH_POSTBACK_URL = os.environ.get(
    "DP_POSTBACK_URL", "http://127.0.0.1:8999/cgi-bin/webscr"
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
