"""Default settings. Override in instance/config.py or with GATEWAY_* environment variables."""

from __future__ import annotations

#: The placeholder the app refuses to run with outside debug/testing.
INSECURE_SECRET_KEY = "dev-insecure-change-me"


class DefaultConfig:
    SECRET_KEY = INSECURE_SECRET_KEY
    #: Empty means SQLite in the instance folder (filled in by the factory).
    SQLALCHEMY_DATABASE_URI = ""
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    #: A direct PostgreSQL URL for the gate's LISTEN (gateway/fastpath/member_copy.py):
    #: LISTEN needs a session of its own, and through a transaction pooler it hears nothing.
    #: Empty: the database URL.
    DATABASE_LISTEN_URL = ""
    #: What the database URL reaches: "" (PostgreSQL itself, or a pooler in session mode) or
    #: "transaction" (PgBouncer's pool_mode = transaction: each transaction may run on
    #: another server connection, so psycopg prepares no statement). docs/operations.md.
    DATABASE_POOLER = ""

    MAX_CONTENT_LENGTH = 1024 * 1024  # no form or PayPal message comes near 1 MiB
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    #: None: Secure outside debug/testing (set false only for a plain-http demo).
    SESSION_COOKIE_SECURE: bool | None = None
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE: bool | None = None
    #: Behind a reverse proxy: how many of each X-Forwarded-* to trust, e.g.
    #: {"x_for": 1, "x_proto": 1}. Empty: trust none (anyone can send those headers).
    PROXY_FIX: dict[str, int] = {}
    WTF_CSRF_TIME_LIMIT = None  # tokens live as long as the session

    # Access policy (docs/architecture.md, "How access is decided").
    GRACE_DAYS = 3
    CANCEL_POLICY = "end_of_period"  # or "immediate"
    LAPSING_DAYS = 7  # admin "lapsing" view horizon

    # Failed-login throttling: per account and per client address, in a sliding window.
    # Log-in throttling: attempts per window before increasing delays (never a lock).
    LOGIN_MAX_FAILURES_PER_ACCOUNT = 5  # one account, from one address
    LOGIN_MAX_FAILURES_PER_ADDRESS = 20  # one address, over all accounts
    LOGIN_MAX_FAILURES_PER_ACCOUNT_ALL_ADDRESSES = 50  # one account, from everywhere
    LOGIN_WINDOW_MINUTES = 15
    LOGIN_MAX_DELAY_MINUTES = 15

    ADMIN_PAGE_SIZE = 50
    #: Admin tables count matching rows exactly up to this many (reading at most that many
    #: plus one: cheap whatever the filter); beyond it they say "more than 1,000".
    ADMIN_EXACT_COUNT_UP_TO = 1_000
    #: Below this many rows (subscriptions + payments + facts, by their highest ids) the
    #: dashboard counts in the request; above it, it shows the job's latest count.
    DASHBOARD_LIVE_ROWS = 20_000
    #: "Count again" waits for the count when the last one took less than this (ms), and
    #: runs it on a thread otherwise, so that no request outlives a server's time limit.
    DASHBOARD_REFRESH_INLINE_MS = 10_000
    #: Exports of up to this many rows stream in the request (seconds even under load, far
    #: inside a server's time limit); larger ones are written to a file by the `exports` job.
    EXPORT_STREAM_MAX_ROWS = 50_000
    #: Hours a finished export file is kept before the `exports` job deletes it.
    EXPORT_KEEP_HOURS = 24
    #: Where export files are written; empty: the instance folder's `exports/`.
    EXPORT_DIR = ""
    #: Seconds an export's lease lasts without news from its writer (renewed every
    #: 1,000 rows); a runner killed midway is noticed after this and the export retried.
    EXPORT_LEASE_SECONDS = 120
    #: Runs an export may start; a runner that dies on the last one leaves it `failed`.
    EXPORT_ATTEMPTS = 3
    #: Seconds a process may answer from its copy of a member (the gate without a query;
    #: changes reach every process at once anyway: gateway/fastpath/member_copy.py). 0: always read.
    GATE_CACHE_SECONDS = 30
    # Content and access rules (docs/content.md). Paths no rule names get ACCESS_DEFAULT
    # (`public`, `members` or role names) until an admin stores another on the rules page.
    ACCESS_DEFAULT = "members"
    #: Seconds a process keeps its copy of the rules before asking whether they changed
    #: (a change is seen at once by the process that made it).
    RULES_CHECK_SECONDS = 1.0
    #: The owner's pages and files; relative paths are under the instance folder.
    CONTENT_DIR = "content"
    #: Raw HTML inside Markdown pages (still sanitised: no scripts, no handlers).
    CONTENT_ALLOW_HTML = False
    #: Seconds between checks of the content folder for changed files.
    CONTENT_CHECK_SECONDS = 2.0
    # The gate for other sites behind nginx, Caddy or Traefik (docs/proxies.md).
    #: Who may ask `/gate/check` about a request (their X-Forwarded-Uri / -Method and
    #: X-Original-URI / -Method are read): addresses or networks of the proxies. Anyone
    #: else is refused. A Unix socket counts as local.
    GATE_PROXIES: list[str] = ["127.0.0.0/8", "::1"]
    #: Hosts, besides this site's own, a visitor may be sent back to after the log-in,
    #: the paywall or PayPal: "docs.example.com", "*.example.com", "host:port".
    ALLOWED_RETURN_HOSTS: list[str] = []
    #: Origins whose scripts may read `/gate/me` with the visitor's cookie.
    GATE_CORS_ORIGINS: list[str] = []
    #: The headers a 200 from `/gate/check` hands the proxy for the upstream.
    GATE_HEADERS: dict[str, str] = {
        "user": "X-Tollgate-User",
        "email": "X-Tollgate-Email",
        "roles": "X-Tollgate-Roles",
    }
    # (Sites on several subdomains: SESSION_COOKIE_DOMAIN = ".example.com", Flask's own.)
    #: Speed tricks switched off, by name (gateway/fastpath/__init__.py lists them).
    FASTPATH_OFF: tuple[str, ...] = ()

    # PayPal. MODE picks default endpoints: "sim" (the local stand-in), "sandbox", "live".
    # Any *_URL set explicitly wins over the mode's default.
    PAYPAL_MODE = "sim"
    PAYPAL_SIM_URL = "http://127.0.0.1:5001"
    PAYPAL_WEBSCR_URL = ""  # where subscribe buttons post
    PAYPAL_IPN_POSTBACK_URL = ""  # where IPNs are verified
    PAYPAL_BUSINESS = "merchant@example.com"  # our account's e-mail (button `business`)
    PAYPAL_RECEIVER_ID = ""  # our 13-character merchant id, if known
    #: Earlier or secondary addresses and merchant ids that are also ours (JSON lists).
    PAYPAL_RECEIVER_EMAILS: list[str] = []
    PAYPAL_RECEIVER_IDS: list[str] = []
    PAYPAL_TIMEOUT = 10  # seconds for any call to PayPal
    # REST: Subscriptions API and webhooks. Empty credentials in sim mode: the stand-in's.
    PAYPAL_API_URL = ""  # default by mode: api-m.paypal.com / api-m.sandbox.paypal.com
    PAYPAL_CLIENT_ID = ""
    PAYPAL_CLIENT_SECRET = ""
    PAYPAL_API_RETRIES = 3  # further tries of a call on 5xx / 429 / no answer, with backoff
    #: The id PayPal gave our webhook (developer dashboard); signatures are checked with it.
    PAYPAL_WEBHOOK_ID = ""
    #: "offline" (signature and certificate chain checked here), "api" (PayPal's verify
    #: call), or "auto": offline against the stand-in, or when PAYPAL_WEBHOOK_CA_FILE
    #: names PayPal's issuing CAs or PAYPAL_WEBHOOK_CERT_DIR pinned certificates; else api
    #: (PayPal may serve its leaf certificate alone).
    PAYPAL_WEBHOOK_VERIFY = "auto"
    #: PEM file of the CA certificates webhook certificates must chain to; empty: certifi.
    PAYPAL_WEBHOOK_CA_FILE = ""
    #: A folder of pinned webhook certificates (CERT-....pem, named by the certificate URL's
    #: last segment; relative: under the instance folder), read instead of fetching them;
    #: `flask paypal fetch-webhook-certs` fills it. Set, "auto" verifies offline.
    PAYPAL_WEBHOOK_CERT_DIR = ""
    #: A webhook is refused when its PAYPAL-TRANSMISSION-TIME (at which its certificate is
    #: judged) is further than this from its receipt: PayPal's retries span 3 days.
    PAYPAL_WEBHOOK_MAX_SKEW_HOURS = 72
    #: Ask PayPal about a subscription whose renewal is this overdue with nothing heard.
    PAYPAL_ASK_AFTER_HOURS = 6
    # Classic API (NVP) signature credentials: with all three, Standard subscriptions are
    # cancelled from the site (ManageRecurringPaymentsProfileStatus); empty: the member
    # cancels at PayPal. The URL defaults by mode (api-3t.paypal.com/nvp, the stand-in's /nvp).
    PAYPAL_NVP_URL = ""
    PAYPAL_NVP_USER = ""
    PAYPAL_NVP_PASSWORD = ""
    PAYPAL_NVP_SIGNATURE = ""
    #: Members may pause (suspend) and resume their REST subscriptions from the site.
    MEMBER_PAUSE = False
    #: Public base URL PayPal calls back (notify_url, return); empty = from the request.
    PUBLIC_URL = ""

    # A flood of forged messages (gateway/flood/; docs/security.md, "A flood of forged
    # messages"). PayPal's POSTs are never limited; anyone else's are, per sender and all
    # together, across all web processes: each process allows its share.
    #: Where PayPal posts from (CIDR list); None: PayPal's published ranges
    #: (gateway/flood/sources.py), plus this machine in sim mode (the stand-in).
    INTAKE_PAYPAL_NETWORKS: list[str] | None = None
    #: Our reverse proxies: with PROXY_FIX's x_for, their X-Forwarded-For names the sender
    #: of a PayPal POST; anyone else's is ignored (and one of these naming no one is never
    #: limited: it could be forwarding PayPal).
    TRUSTED_PROXIES: list[str] = ["127.0.0.0/8", "::1"]
    #: POSTs a minute one sender outside PayPal's ranges may make, and at once; 0: no limit.
    INTAKE_SOURCE_PER_MINUTE = 60
    INTAKE_SOURCE_BURST = 60
    #: The same for all such senders together (a flood from many addresses).
    INTAKE_OTHERS_PER_MINUTE = 600
    INTAKE_OTHERS_BURST = 600
    #: One sender is an IPv4 address, or an IPv6 /64 (what one customer line gets).
    INTAKE_SOURCE_PREFIX_IPV4 = 32
    INTAKE_SOURCE_PREFIX_IPV6 = 64
    #: Web processes (gunicorn -w): each allows 1/this of the figures above.
    INTAKE_WEB_PROCESSES = 4
    #: Messages PayPal did not verify (INVALID, or flagged without a verification) keep
    #: their body and headers this long, then only a digest, size, sender and times.
    INBOX_JUNK_KEEP_HOURS = 72
    #: Those compact records are deleted after this many days; 0: kept for ever.
    INBOX_JUNK_FORGET_DAYS = 90
    #: /admin/status warns when the last hour brought more refused POSTs plus INVALID
    #: messages than this.
    STATUS_JUNK_PER_HOUR = 100

    # The IPN inbox.
    INBOX_BATCH_SIZE = 100  # messages a worker claims at once
    INBOX_VERIFY_CONCURRENCY = 100  # postbacks in flight per worker: a whole batch at once
    IPN_MAX_ATTEMPTS = 8  # postback/processing tries before a flag
    IPN_LEASE_SECONDS = 300  # a claimed message is retried after this if its worker died
    #: A refund or reversal still waiting for its payment this long after it arrived is
    #: flagged for an admin to match to a payment or dismiss (gateway/pipeline/waiting.py).
    DEFERRED_FLAG_AFTER_HOURS = 24
    CHECKOUT_HOLD_MINUTES = 30
    # Passes (docs/passes.md): "auto" sells them through Orders v2 when the REST API is
    # configured, else with a Standard Buy Now button; "orders" or "standard" forces one.
    PASS_CHECKOUT = "auto"
    PASSWORD_HASH_METHOD = "scrypt"
    NOTICE_DAYS = 3  # "your access ends soon" this many days before; "ended" within as long after
    TRIAL_NOTICE_DAYS = 3  # "your free trial ends" (a paid renewal follows) this many days before
    RESET_LINK_MINUTES = 60  # a password-reset link works once, within this time

    # Outgoing mail (empty MAIL_SERVER: mails stay in the admin's outbox page).
    MAIL_SERVER = ""
    MAIL_PORT = 25
    MAIL_USE_TLS = False  # STARTTLS
    MAIL_USE_SSL = False  # SMTPS
    MAIL_USERNAME = ""
    MAIL_PASSWORD = ""
    MAIL_FROM = "Tollgate <no-reply@localhost>"
    MAIL_TIMEOUT = 10

    # Receipts (gateway/receipts/): who sells, as the member's receipt and its PDF say.
    RECEIPT_SELLER_NAME = ""
    RECEIPT_SELLER_ADDRESS = ""  # one string with newlines, or a list of lines
    RECEIPT_SELLER_TAX_ID = ""  # VAT or other tax number, printed when set
    RECEIPT_NUMBER_PREFIX = "TG"  # numbers read TG-2026-000123: a series per prefix and year

    # Protected downloads from the content folder (gateway/content/files.py;
    # docs/content-files.md). Who sends a file's bytes: "" the app streams it itself;
    # "x-accel-redirect": nginx, from an `internal` location at CONTENT_ACCEL_PREFIX
    # aliased to the content folder; "x-sendfile": Apache mod_xsendfile or Lighttpd, from
    # the file's absolute path.
    CONTENT_SENDFILE = ""
    #: The nginx location X-Accel-Redirect points into (ends with "/", like the alias).
    CONTENT_ACCEL_PREFIX = "/_tollgate_protected/"

    # Health and monitoring (/admin/status warnings, /metrics; docs/operations.md).
    STATUS_JOB_LATE_FACTOR = 3  # a job is overdue after this many intervals without a run
    STATUS_QUIET_HOURS = 24  # warn when no PayPal message (IPN or webhook) came for this long
    STATUS_BACKLOG_MINUTES = 10  # warn when the oldest unprocessed message waited this long
    #: Warn when PayPal disowned (INVALID) more messages than this in the last hour, and
    #: more than twice its hourly average over the day before (gateway/ops/invalid_answers.py).
    STATUS_INVALID_PER_HOUR = 20
    #: Bearer token for /metrics; empty: /metrics answers 404 (off).
    METRICS_TOKEN = ""

    # Reconciliation with PayPal's reports (gateway/reconciliation; docs/operations.md).
    #: Transaction Search lists a payment up to ~3 hours late: only windows that ended at
    #: least this long ago are compared.
    RECONCILE_LAG_HOURS = 3
    #: How far back each run of the daily `reconcile` job looks (overlapping runs flag a
    #: difference once); `flask paypal reconcile --days N` looks elsewhere.
    RECONCILE_DAYS = 35
    RECONCILE_PAGE_SIZE = 500  # Transaction Search rows per page (PayPal allows 1-500)
    #: Renewing REST subscriptions asked about per run, a different slice each day.
    RECONCILE_SUBSCRIPTION_BATCH = 200
    #: Largest Activity CSV (or ZIP, and its content) an admin may upload; bigger files go
    #: through `flask paypal import-activity`, which has no limit.
    RECONCILE_UPLOAD_MAX_MB = 32
