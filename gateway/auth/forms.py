"""Account forms (Flask-WTF: CSRF on every one)."""

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


PASSWORD_RULES = [DataRequired(), Length(min=10, max=200, message="Use 10 to 200 characters.")]


class LoginForm(FlaskForm):
    email = EmailField("E-mail", filters=[_strip], validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])


class RegisterForm(FlaskForm):
    email = EmailField(
        "E-mail",
        filters=[_strip],
        validators=[DataRequired(), Length(max=254), Email(check_deliverability=False)],
    )
    password = PasswordField("Password", validators=PASSWORD_RULES)
    confirm = PasswordField(
        "Repeat password", validators=[DataRequired(), EqualTo("password", "Passwords differ.")]
    )


class EmailChangeForm(FlaskForm):
    email = EmailField(
        "New e-mail",
        filters=[_strip],
        validators=[DataRequired(), Length(max=254), Email(check_deliverability=False)],
    )
    current = PasswordField("Current password", validators=[DataRequired(), Length(max=200)])


class ResetRequestForm(FlaskForm):
    email = EmailField("E-mail", filters=[_strip], validators=[DataRequired(), Length(max=254)])


class ResetForm(FlaskForm):
    password = PasswordField("New password", validators=PASSWORD_RULES)
    confirm = PasswordField(
        "Repeat new password", validators=[DataRequired(), EqualTo("password", "Passwords differ.")]
    )


class ChangePasswordForm(FlaskForm):
    current = PasswordField("Current password", validators=[DataRequired(), Length(max=200)])
    password = PasswordField("New password", validators=PASSWORD_RULES)
    confirm = PasswordField(
        "Repeat new password", validators=[DataRequired(), EqualTo("password", "Passwords differ.")]
    )


class EmptyForm(FlaskForm):
    """Just the CSRF token (log out, and other one-button actions)."""

    dummy = StringField()
