"""Activity CSV uploads of several MB pass every hook that reads the body (CSRF, the NUL
check) under their own limit, while other routes stay at 1 MiB."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from models import JobRun

HEADER = "Date,Time,TimeZone,Type,Status,Currency,Gross,Transaction ID,Balance Impact,Note\r\n"


def post(browser, fields: dict):
    """POST multipart, built in memory: the test client would spool a big body to a
    temporary file it never closes."""
    boundary, body = encode_multipart(fields)
    return browser.post(
        "/admin/reconciliation/import",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )


def activity_csv(size: int) -> bytes:
    """A valid Activity Download of about `size` bytes: memo rows (no money moved), padded."""
    row = f"01/05/2026,10:00:00,PDT,Hold,Completed,USD,0.00,,Memo,{'x' * 1000}\r\n"
    return (HEADER + row * (size // len(row) + 1)).encode()


@pytest.mark.parametrize("megabytes", [1.5, 5, 20])
def test_uploads_up_to_the_limit_are_imported(admin, login_as, app, db, megabytes):
    """Is a 1.5, 5 or 20 MB Activity CSV accepted although MAX_CONTENT_LENGTH is 1 MiB?"""
    app.config["WTF_CSRF_ENABLED"] = True  # its hook reads the form too
    browser = login_as(admin, browser=app.test_client())
    page = browser.get("/admin/reconciliation").data.decode()
    token = page.split('name="csrf_token" type="hidden" value="', 1)[1].split('"', 1)[0]
    body = activity_csv(int(megabytes * 2**20))
    assert len(body) > app.config["MAX_CONTENT_LENGTH"]
    answer = post(browser, {"file": FileStorage(io.BytesIO(body), "big.csv"), "csrf_token": token})
    assert answer.status_code == 200, answer.data[:2000]
    assert b"Imported big.csv" in answer.data
    assert db.session.scalar(select(JobRun).where(JobRun.job == "import-activity")) is not None


def test_an_upload_over_the_limit_is_refused_clearly(admin, login_as, app, db):
    """Is a 33 MB upload refused with a 413 that says the limit and the way out?"""
    browser = login_as(admin, browser=app.test_client())
    answer = post(browser, {"file": FileStorage(io.BytesIO(activity_csv(33 * 2**20)), "huge.csv")})
    assert answer.status_code == 413
    assert b"Files up to 32 MB" in answer.data and b"import-activity" in answer.data
    assert db.session.scalar(select(JobRun)) is None


def test_only_admins_and_only_the_upload_get_the_big_limit(
    admin, member, login_as, app, client, db
):
    """Do other routes, and members or visitors on the upload route, stay at 1 MiB?"""
    browser = login_as(admin, browser=app.test_client())
    boundary, body = encode_multipart({"file": FileStorage(io.BytesIO(b"x" * 2 * 2**20), "a.csv")})
    kind = f"multipart/form-data; boundary={boundary}"
    assert (
        browser.post("/admin/reconciliation/run", data=body, content_type=kind).status_code == 413
    )
    for who in (client, login_as(member, browser=app.test_client())):
        assert (
            post(who, {"file": FileStorage(io.BytesIO(b"x" * 2 * 2**20), "a.csv")}).status_code
            == 413
        )
