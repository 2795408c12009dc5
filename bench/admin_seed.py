"""The admin benchmark's data: a shop of the given size seeded in bulk SQL (generate_series),
shaped like a real one so each admin view has the rows it has in life.

Subscriptions mix their states as a shop several years old does: most active, some lapsing
within the week, a few in grace, many expired (ended, revoked, cancelled and run out),
some pending with no dates at all. Members share e-mail prefixes (a handful of first
names lead most addresses), so a one- or two-letter search matches a large share of them.
Messages come in every type and status PayPal's channels produce; flags are mostly resolved.
A member with 100 subscriptions and about 500 payments is seeded for the account page.
"""

from __future__ import annotations

import time

import sqlalchemy as sa

PLANS = 12
HUNDRED = "hundred@bench.example"

#: First names lead addresses: a few very common (so `j` or `ma` match a large share).
NAMES = (
    "'john','james','jane','julia','maria','mark','mary','michael','anna','alex','adam',"
    "'david','sarah','sam','peter','paul','laura','lisa','tom','emma','chris','kate'"
)
#: IPN txn_types and webhook event types, weighted by repetition like a real inbox.
TYPES = (
    "'subscr_payment','subscr_payment','subscr_payment','subscr_payment','subscr_payment',"
    "'subscr_payment','subscr_signup','subscr_cancel','subscr_eot','subscr_failed',"
    "'web_accept','recurring_payment_suspended','new_case','adjustment',"
    "'PAYMENT.SALE.COMPLETED','PAYMENT.SALE.COMPLETED','BILLING.SUBSCRIPTION.ACTIVATED',"
    "'BILLING.SUBSCRIPTION.CANCELLED','PAYMENT.SALE.REFUNDED','BILLING.SUBSCRIPTION.SUSPENDED'"
)


def steps(subs: int, pays: int, users: int, notes: int, flags: int) -> list[str]:
    """The INSERTs, in order (ids are 1..N in each table, which later steps rely on)."""
    day = "interval '1 day'"
    today = "date_trunc('day', now())"
    return [
        f"""INSERT INTO plans (code, name, price, currency, period_count, period_unit,
            active, created_at)
            SELECT 'plan-' || g, 'Plan ' || g, 5.00 + g, 'USD', 1,
                   (ARRAY['M','Y'])[1 + g % 2], g % 6 <> 0, now()
            FROM generate_series(1, {PLANS}) g""",
        f"""INSERT INTO users (email, password_hash, is_admin, access_version, session_token,
            created_at)
            SELECT (ARRAY[{NAMES}])[1 + least((g * 7) % 97, (g * 13) % 89) % 22]
                   || '.' || substr(md5(g::text), 1, 5) || g
                   || (ARRAY['@example.com','@mail.test','@corp.example'])[1 + g % 3],
                   'x', false, 1, md5('t' || g), now() - (g % 1500) * {day}
            FROM generate_series(1::bigint, {users}) g""",
        # By g % 100: 0-54 active (access ahead, up to a year; ~1% within the lapsing
        # week), 55-69 cancelled (half still with access), 70-71 suspended (one in
        # seven in grace: 0.3% of all),
        # 72-89 ended, 90-94 pending (no dates), 95-96 revoked, 97-99 refunded.
        f"""INSERT INTO subscriptions (user_id, plan_id, paypal_id, state, started_at,
            paid_through, grace_until, access_until, cancelled_at, ended_at, created_at,
            updated_at)
            SELECT CASE WHEN g % 50 = 7 THEN NULL ELSE 1 + (g * 7919) % {users} END,
                   CASE WHEN g % 100 = 3 THEN NULL ELSE 1 + g % {PLANS} END,
                   'I-' || upper(substr(md5('p' || g), 1, 10)) || g,
                   CASE WHEN k < 55 THEN 'active' WHEN k < 70 THEN 'cancelled'
                        WHEN k < 72 THEN 'suspended' WHEN k < 90 THEN 'ended'
                        WHEN k < 95 THEN 'pending' WHEN k < 97 THEN 'revoked'
                        ELSE 'refunded' END,
                   CASE WHEN k BETWEEN 90 AND 94 THEN NULL
                        ELSE now() - (400 + (g * 31) % 1500) * {day} END,
                   CASE WHEN k BETWEEN 90 AND 94 THEN NULL
                        WHEN k BETWEEN 70 AND 71 THEN {today} - (1 + g % 9) * {day}
                        ELSE {today} + d * {day} END,
                   CASE WHEN k BETWEEN 70 AND 71 AND g % 7 = 0
                        THEN {today} + (1 + g % 5) * {day} END,
                   CASE WHEN k BETWEEN 90 AND 94 THEN NULL
                        WHEN k BETWEEN 70 AND 71 AND g % 7 = 0
                        THEN {today} + (1 + g % 5) * {day}
                        WHEN k BETWEEN 70 AND 71 THEN {today} - (1 + g % 9) * {day}
                        ELSE {today} + d * {day} END,
                   CASE WHEN k BETWEEN 55 AND 69 THEN now() - (g % 300) * {day} END,
                   CASE WHEN k BETWEEN 72 AND 89 THEN {today} + d * {day} END,
                   now() - (g % 1500) * {day}, now()
            FROM (SELECT g, g % 100 AS k,
                         CASE WHEN g % 100 < 55 THEN 1 + (g * 13) % 365
                              WHEN g % 100 < 62 THEN 1 + (g * 13) % 30
                              WHEN g % 100 < 70 THEN -1 - (g * 13) % 700
                              ELSE -1 - (g * 13) % 1400 END AS d
                  FROM generate_series(1::bigint, {subs}) g) s""",
        f"""INSERT INTO payments (subscription_id, txn_id, status, amount, currency, fee,
            paid_at, period_start, period_end, created_at)
            SELECT 1 + (g * 104729) % {subs}, upper(substr(md5('t' || g), 1, 9)) || g,
                   (ARRAY['Completed','Completed','Completed','Completed','Completed',
                          'Completed','Completed','Completed','Refunded','Pending',
                          'Completed','Partially_Refunded','Reversed','Completed'])
                   [1 + g % 14],
                   9.00, 'USD', 0.56,
                   now() - ((g * 37) % 2000000) * interval '30 seconds',
                   now() - interval '10 days', now() + interval '20 days', now()
            FROM generate_series(1::bigint, {pays}) g""",
        # Messages: each names a subscription (its PayPal id too), most are processed.
        f"""INSERT INTO notifications (channel, received_at, body, headers, status, attempts,
            next_attempt_at, processed_at, outcome, txn_type, txn_id, payment_status,
            subscr_id, subscription_id, event_id)
            SELECT CASE WHEN t > 13 THEN 'webhook' ELSE 'ipn' END,
                   now() - ({notes} - g) * interval '1 minute',
                   convert_to('txn_type=' || (ARRAY[{TYPES}])[1 + t] || '&subscr_id=I-' || s,
                              'UTF8'),
                   '{{}}',
                   CASE WHEN g % 1000 = 999 THEN 'retry'  -- a backlog is rare: 0.1%
                        ELSE (ARRAY['processed','processed','processed','processed',
                                    'processed','processed','processed','processed',
                                    'processed','processed','processed','processed',
                                    'processed','processed','processed','processed',
                                    'processed','flagged','invalid','processed'])[1 + g % 20]
                   END,
                   1, now(), now(),
                   (ARRAY['payment recorded', 'signup recorded', 'duplicate: already applied',
                          'refund recorded', 'ignored: not a subscription message',
                          'amount does not match the plan price',
                          'cancellation recorded, access until paid-through'])[1 + g % 7]
                   || ' (subscription ' || s || ')',
                   (ARRAY[{TYPES}])[1 + t],
                   CASE WHEN t < 6 OR t > 13 THEN 'N' || upper(substr(md5('n' || g), 1, 9)) || g
                   END,
                   CASE WHEN t < 6 THEN 'Completed' END,
                   'I-' || upper(substr(md5('p' || s), 1, 10)) || s,
                   s,
                   CASE WHEN t > 13 THEN 'WH-' || md5('e' || g) END
            FROM (SELECT g, (g * 7) % 20 AS t, 1 + (g * 7727) % {subs} AS s
                  FROM generate_series(1::bigint, {notes}) g) n""",
        f"""INSERT INTO flags (kind, message, created_at, notification_id, subscription_id,
            resolved_at, resolution)
            SELECT (ARRAY['amount_mismatch','unknown_plan','no_member','late_refund'])
                   [1 + g % 4],
                   'Flag ' || g || ': the message needs a decision',
                   now() - g * interval '1 hour', 1 + (g * 131) % {notes},
                   1 + (g * 977) % {subs},
                   CASE WHEN g % 10 <> 0 THEN now() - g * interval '30 minutes' END,
                   CASE WHEN g % 10 <> 0 THEN 'handled' END
            FROM generate_series(1::bigint, {flags}) g""",
        # The member of the account page: 100 subscriptions, about 5 payments each.
        f"""INSERT INTO users (email, password_hash, is_admin, access_version, session_token,
            created_at) VALUES ('{HUNDRED}', 'x', false, 1, md5('hundred'), now())""",
        f"""INSERT INTO subscriptions (user_id, plan_id, paypal_id, state, started_at,
            paid_through, access_until, created_at, updated_at)
            SELECT (SELECT id FROM users WHERE email = '{HUNDRED}'), 1 + g % {PLANS},
                   'I-HUNDRED' || g, CASE WHEN g % 2 = 0 THEN 'active' ELSE 'ended' END,
                   now() - 400 * {day}, {today} + (g - 55) * {day}, {today} + (g - 50) * {day},
                   now(), now()
            FROM generate_series(1, 100) g""",
        """INSERT INTO payments (subscription_id, txn_id, status, amount, currency, fee,
            paid_at, period_start, period_end, created_at)
            SELECT s.id, 'HUNDRED' || s.id || '-' || g, 'Completed', 9.00, 'USD', 0.56,
                   now() - g * interval '30 days', now() - g * interval '30 days',
                   now() - (g - 1) * interval '30 days', now()
            FROM subscriptions s, generate_series(1, 5) g
            WHERE s.paypal_id LIKE 'I-HUNDRED%' AND (s.id + g) % 51 <> 0""",
    ]


def seed(url: str, subs: int, pays: int, notes: int, flags: int) -> None:
    """Bulk-insert the shop (the schema is already migrated), then VACUUM ANALYZE."""
    users = max(1, subs // 2)
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        for sql in steps(subs, pays, users, notes, flags):
            started = time.perf_counter()
            conn.execute(sa.text(sql))
            print(f"  seeded: {sql.split()[2]:<14} {time.perf_counter() - started:6.1f} s")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))
    engine.dispose()
