"""Admin forms; every manual change needs a reason for the audit log."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    IntegerField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)

from ..records.audit import REASON, ReasonForm

UNITS = [
    SelectChoice("D", "day(s)"),
    SelectChoice("W", "week(s)"),
    SelectChoice("M", "month(s)"),
    SelectChoice("Y", "year(s)"),
]


class MatchForm(ReasonForm):
    """Match a refund waiting for a payment that never came to one of ours."""

    txn_id = StringField(
        "Our payment's transaction id", validators=[DataRequired(), Length(max=64)]
    )


class UntilForm(ReasonForm):
    until = DateField("Access until the end of (UTC)", validators=[DataRequired()])


class RevokeForm(ReasonForm):
    """The reason stays internal; the member reads only the optional message."""

    reason = TextAreaField(
        "Internal reason (admins and the audit log only; never shown to the member)",
        validators=REASON,
    )
    member_note = TextAreaField(
        "Message to the member (optional; shown on their account page and in the mail "
        "telling them access ended; left empty, they read a neutral sentence)",
        validators=[Optional(), Length(max=500)],
    )


class GrantForm(UntilForm):
    plan = SelectField("Plan", coerce=int, validators=[DataRequired()])


class PlanForm(FlaskForm):
    code = StringField(
        "Code",
        validators=[
            DataRequired(),
            Length(max=40),
            Regexp(r"^[a-z0-9][a-z0-9_-]*$", message="Lower-case letters, digits, - and _ only."),
        ],
    )
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    #: Choices are the roles not retired (plans.py), plus those the plan already grants.
    roles = SelectMultipleField(
        "Roles granted (what it opens)",
        coerce=int,
        validators=[DataRequired(message="A plan grants at least one role.")],
    )
    price = DecimalField("Price", places=2, validators=[InputRequired(), NumberRange(min=0)])
    currency = StringField(
        "Currency",
        default="USD",
        validators=[
            DataRequired(),
            Regexp(r"^[A-Z]{3}$", message="Three capital letters, e.g. USD."),
        ],
    )
    period_count = IntegerField(
        "Every", default=1, validators=[InputRequired(), NumberRange(min=1, max=365)]
    )
    period_unit = SelectField("Period", choices=UNITS, default="M")
    trial_count = IntegerField(
        "Free trial length", validators=[Optional(), NumberRange(min=1, max=365)]
    )
    trial_unit = SelectField("Trial unit", choices=[SelectChoice("", "—")] + UNITS, default="")
    paypal_plan_id = StringField("PayPal plan id (REST)", validators=[Optional(), Length(max=64)])
    seat_limit = IntegerField("Seat limit", validators=[Optional(), NumberRange(min=1)])
    identifiers = TextAreaField(
        "Other PayPal identifiers, one per line: item: NUMBER, button: HOSTED-BUTTON-ID, "
        "rest: P-PLAN-ID, profile: DESCRIPTION, name: ITEM NAME",
        validators=[Optional(), Length(max=5000)],
    )
    active = BooleanField("Offered to members", default=True)

    def validate_trial_unit(self, field) -> None:
        if bool(self.trial_count.data) != bool(field.data):
            raise ValidationError("Give both a trial length and its unit, or neither.")


class AssignForm(ReasonForm):
    """A subscription's missing plan and/or member (either may be left as it is)."""

    plan = SelectField("Plan", coerce=int, default=0)
    email = StringField("Member e-mail", validators=[Optional(), Length(max=254)])
