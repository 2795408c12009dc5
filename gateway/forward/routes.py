"""The gate for other sites: forward auth for nginx, Caddy and Traefik, the paywall a
locked-out member is sent to, and `/gate/me` for JavaScript front-ends.

`GET /gate/check` answers the proxy in front of the owner's site about the request it is
holding (access_rules.forwarded): 200 with the member's identity headers, 401 when nobody is
logged in (`X-Tollgate-Login`: the log-in URL that comes back to the original one), 403
when the member holds no role that opens it (`X-Tollgate-Paywall`). With `?redirect=1`
(Caddy and Traefik hand the answer to the browser as it is) a page view gets the 302 to
either instead. The check renders nothing and, for a member the process has seen, reads
nothing from the database: the member copy, the session's roles and this process's rule
table answer it (docs/proxies.md).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, Response, abort, current_app, g, redirect, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user
from werkzeug.wrappers import Response as WerkzeugResponse

from models import Plan

from ..access import SESSION_KEPT, TOKEN_REQUEST, current_roles
from ..access_rules import forwarded as original
from ..access_rules import returns
from ..access_rules.paths import BadPath, canonical_host, canonical_path
from ..billing.rules.roles import active_roles, has_role
from ..clock import now
from ..content.site import plans_opening
from ..extensions import csrf
from ..fastpath.member_copy import COPY_SUFFICES
from ..mail import link
from ..member.routes import plan_cards, plans_on_offer
from ..rulebook import gate
from .cors import answer_json, preflight

bp = Blueprint("gate", __name__, url_prefix="/gate")

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
NO_STORE = "no-store"


def _plain(status: int, reason: str, headers: dict[str, str] | None = None) -> Response:
    """A forward-auth refusal: the reason for whoever reads the proxy's log."""
    response = Response(reason + "\n", status, headers, mimetype="text/plain")
    response.headers["Cache-Control"] = NO_STORE
    return response


@bp.route("/check", methods=METHODS)
@csrf.exempt
def check() -> ResponseReturnValue:
    setattr(g, SESSION_KEPT, True)  # the answer goes to a proxy: no cookie to keep
    if not original.trusted(original.peer(request.environ), current_app.extensions["gate_proxies"]):
        return _plain(403, "Forward auth answers only the proxies named in GATE_PROXIES.")
    try:
        asked = original.read(request.headers.get, request.scheme, request.host, request.method)
        path = canonical_path(asked.target, raw=True)
    except (original.Unreadable, BadPath) as e:
        current_app.logger.warning("forward auth refused a request: %s", e)
        return _plain(400, f"Refused: {e}")
    if request.environ.get(TOKEN_REQUEST) and asked.method not in original.READ_ONLY:
        return _plain(403, "Access tokens only read (GET and HEAD).")
    verdict = gate.verdict(path, canonical_host(asked.host))
    user = current_user._get_current_object()
    if verdict.allowed:
        response: WerkzeugResponse = Response(status=200)
        # Always all three, empty for nobody: a proxy that copies a header the answer
        # lacks may send its own placeholder text on (Caddy 2.6 does).
        names = current_app.config["GATE_HEADERS"]
        if not user.is_authenticated:
            for name in names.values():
                response.headers[name] = ""
        else:
            held, at = current_roles(), now()
            response.headers[names["user"]] = str(user.id)
            response.headers[names["email"]] = user.email
            response.headers[names["roles"]] = ",".join(active_roles(held, at))
    elif not user.is_authenticated:
        response = _refusal(401, "X-Tollgate-Login", link("auth.login", next=asked.url), asked)
    else:
        response = _refusal(403, "X-Tollgate-Paywall", link("gate.paywall", url=asked.url), asked)
    response.headers["Cache-Control"] = NO_STORE
    return response


setattr(check, COPY_SUFFICES, True)  # reads the member's id, e-mail and roles: the copy's


def _refusal(status: int, header: str, url: str, asked: original.Original) -> WerkzeugResponse:
    """401/403 with where to go, or (`?redirect=1`, a page view) the 302 to it."""
    response: WerkzeugResponse
    if request.args.get("redirect") == "1" and asked.method in original.READ_ONLY:
        response = redirect(url, 302)
    else:
        response = Response(status=status)
    response.headers[header] = url
    return response


@bp.route("/paywall")
def paywall() -> ResponseReturnValue:
    """What opens a URL of the owner's site, with the plans' subscribe buttons; the
    member comes back to the URL once PayPal confirmed."""
    target = returns.allowed(
        request.args.get("url"), request.host, current_app.extensions["return_hosts"]
    )
    if target is None:
        abort(400, description="That is not an address of a site this gateway protects.")
    verdict = _verdict_at(target)
    if verdict is None:
        abort(400, description="That address has no single meaning; it cannot be opened.")
    if verdict.allowed and current_user.is_authenticated:
        return redirect(target, 303)
    plans = plans_opening(verdict.who)
    return render_template(
        "forward/paywall.html",
        target=target,
        verdict=verdict,
        login=link("auth.login", next=target),
        return_to=target,
        login_next=target,
        **plan_cards(plans),
    )


@bp.route("/me", methods=["GET", "OPTIONS"])
@csrf.exempt
def me() -> ResponseReturnValue:
    """The visitor, for a script on one of the owner's sites (CORS: GATE_CORS_ORIGINS)."""
    if request.method == "OPTIONS":
        return preflight()
    setattr(g, SESSION_KEPT, True)  # a script's read: it writes nothing into the session
    user = current_user._get_current_object()
    at = now()
    held = current_roles()
    body: dict[str, object] = {"logged_in": bool(user.is_authenticated)}
    if user.is_authenticated:
        body["user"] = {"id": user.id, "email": user.email}
        body["roles"] = [
            {"name": name, "access_until": until.isoformat(), "active": has_role(held, name, at)}
            for name, until in sorted(held.items())
        ]
    body["plans"] = [
        _offer(plan, request.args.get("url")) for plan in _plans_for(request.args.get("url"))
    ]
    return answer_json(body)


def _plans_for(url: str | None) -> list[Plan]:
    """The plans that open `url` (one of the owner's pages), else every plan on offer."""
    if not url:
        return plans_on_offer()
    verdict = _verdict_at(url)
    return plans_opening(verdict.who) if verdict is not None else []


def _verdict_at(url: str) -> gate.Verdict | None:
    """The visitor's verdict on an address of the owner's site (a path: this host), or
    None for one whose path has no single meaning."""
    parts = urlsplit(url)
    try:
        path = canonical_path(parts.path or "/", raw=True)
    except BadPath:
        return None
    return gate.verdict(path, canonical_host(parts.netloc or request.host))


def _offer(plan: Plan, url: str | None) -> dict[str, object]:
    return {
        "code": plan.code,
        "name": plan.name,
        "price": str(plan.price),
        "currency": plan.currency,
        "every": plan.period_label,
        "roles": plan.role_names,
        "subscribe": link("gate.paywall", url=url) if url else link("member.plans"),
    }
