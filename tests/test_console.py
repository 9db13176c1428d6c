"""The browser console (edge.console) through Starlette's test client: every route and role,
every plate view one audit row written first, CSRF refused, logins rate limited.

`make_unit` builds a unit folder (config, allow-list, reads with crops, a hotlist, accounts);
the real-browser test and scripts/console_screenshots.py use it too.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")

from starlette.testclient import TestClient

from edge.audit.log import AuditLog, verify
from edge.config import load_config
from edge.console.accounts import Accounts, LoginLimiter, check_password, hash_password
from edge.console.app import create_app
from edge.console.server import accounts_path, check_bind, console_for
from edge.errors import InputError
from edge.runtime.store import ReadStore
from edge.runtime.types import Box, HotlistHit, VehicleRead

PASSWORD = "correct horse battery"
ROLES = ("admin", "operator", "auditor", "viewer")
EDGE_TOML = """[store]
data_dir = "store"

[sharing]
agencies_file = "agencies.toml"
data_dir = "share"
unit_id = "unit-1"
operator_agency = "CA0010900"
query_policy = "query-policy.toml"
"""
AGENCY = """[[agency]]
id = "{id}"
name = "{name}"
ori = "{ori}"
kind = "city_police"
state = "CA"
purpose = "stolen vehicles and AMBER alerts"
broker = "mqtt://127.0.0.1:{port}"
receives = ["hits", "heartbeat"]
expires = 2099-12-31
"""
PLATES = ("7ABC123", "8XYZ456", "5DEF789", "6GHJ012", "7ABC128")


def _crop(plate: str):
    import cv2
    import numpy as np

    image = np.full((60, 200, 3), 235, np.uint8)
    cv2.rectangle(image, (2, 2), (197, 57), (40, 40, 40), 2)
    cv2.putText(image, plate, (12, 44), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (20, 20, 120), 3)
    return image


def make_unit(folder: Path, reads: int = len(PLATES)) -> Path:
    """A unit folder with everything the console reads; returns its edge.toml."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "edge.toml").write_text(EDGE_TOML)
    (folder / "query-policy.toml").write_text('# The published policy.\nversion = "2026-11-01"\n')
    (folder / "agencies.toml").write_text(
        "# The allow-list of this test unit.\ndemo = true\n\n"
        + AGENCY.format(id="oakland-pd", name="Oakland Police Department", ori="CA0010900", port=1)
        + "\n"
        + AGENCY.format(id="chp", name="California Highway Patrol", ori="CA0349400", port=2)
    )
    store = ReadStore(folder / "store")
    listed = (
        store.db["hotlist"]
        .insert(
            {
                "plate": "7ABC123",
                "region": "CA",
                "reason": "stolen",
                "source": "NCIC",
                "loaded_at": datetime.now(timezone.utc).isoformat(),
                "file": "wanted.csv",
            }
        )
        .last_pk
    )
    now = datetime.now(timezone.utc)
    for index in range(reads):
        plate = PLATES[index % len(PLATES)]
        read = VehicleRead(
            plate,
            "CA",
            0.91 - index % 5 * 0.04,
            now - timedelta(minutes=3 * index),
            "cam-1",
            Box(100, 200, 180, 60),
            6,
            char_confidences=(0.99, 0.97, 0.95, 0.9, 0.96, 0.98, 0.93),
        )
        hits = [HotlistHit(listed, "7ABC123", "CA", "stolen", "NCIC", 0)] if index == 0 else []
        store.add_read(read, _crop(plate) if index < 20 else None, hits)
    store.close()
    accounts = Accounts(folder / "store" / "console.sqlite")
    for role in ROLES:
        accounts.add_user(role, role, PASSWORD)
    accounts.close()
    # The unit has run: the audit log exists.
    log = AuditLog(folder / "share" / "audit.sqlite")
    log.close()
    return folder / "edge.toml"


@pytest.fixture
def unit(tmp_path):
    return make_unit(tmp_path / "unit")


@pytest.fixture
def app(unit):
    return create_app(console_for(load_config(unit), tls=False))


def audit_rows(unit: Path, event: str | None = None) -> list[dict]:
    conn = __import__("sqlite3").connect(unit.parent / "share" / "audit.sqlite")
    conn.row_factory = __import__("sqlite3").Row
    rows = [dict(r) for r in conn.execute("SELECT * FROM audit ORDER BY seq")]
    conn.close()
    return [r for r in rows if event is None or r["event"] == event]


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def login(app, role: str, password: str = PASSWORD) -> TestClient:
    client = TestClient(app, base_url="http://127.0.0.1")
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"user": role, "password": password, "csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return client


def token(client: TestClient, path: str = "/health") -> str:
    return csrf_of(client.get(path).text)


# --- accounts ----------------------------------------------------------------------------------


def test_passwords_are_scrypt_hashes_with_a_salt_of_their_own():
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first.startswith("scrypt$16384$8$1$") and first != second
    assert check_password(PASSWORD, first) and not check_password("wrong password", first)


def test_accounts_refuse_unknown_roles_short_passwords_and_duplicates(tmp_path):
    accounts = Accounts(tmp_path / "console.sqlite")
    with pytest.raises(InputError, match="role"):
        accounts.add_user("ann", "root", PASSWORD)
    with pytest.raises(InputError, match="at least"):
        accounts.add_user("ann", "viewer", "short")
    accounts.add_user("ann", "viewer", PASSWORD)
    with pytest.raises(InputError, match="exists"):
        accounts.add_user("ann", "admin", PASSWORD)
    assert (tmp_path / "console.sqlite").stat().st_mode & 0o777 == 0o600


def test_sessions_expire(tmp_path):
    accounts = Accounts(tmp_path / "console.sqlite", session_seconds=-1)
    accounts.add_user("ann", "viewer", PASSWORD)
    cookie, _ = accounts.open_session("ann")
    assert accounts.session(cookie) is None


def test_users_add_from_the_cli_with_a_password_file(unit, tmp_path):
    from edge.cli import main

    secret = tmp_path / "pw"
    secret.write_text("another long password\n")
    assert (
        main(
            [
                "console",
                "users",
                "add",
                "bob",
                "--role",
                "auditor",
                "--config",
                str(unit),
                "--password-file",
                str(secret),
            ]
        )
        == 0
    )
    accounts = Accounts(accounts_path(load_config(unit)))
    assert accounts.authenticate("bob", "another long password") == "auditor"


def test_removing_a_user_ends_their_sessions(app, unit, capsys):
    from edge.cli import main

    client = login(app, "viewer")
    assert client.get("/health").status_code == 200
    assert main(["console", "users", "remove", "viewer", "--config", str(unit)]) == 0
    assert client.get("/health", follow_redirects=False).status_code == 303
    assert main(["console", "users", "list", "--config", str(unit)]) == 0
    assert "viewer" not in capsys.readouterr().out.split("removed")[1]


def test_serve_refuses_a_bind_beyond_loopback_without_tls(unit, capsys):
    from edge.cli import main

    assert main(["console", "serve", "--host", "0.0.0.0", "--config", str(unit)]) == 2
    assert "without TLS" in capsys.readouterr().err


# --- binding -----------------------------------------------------------------------------------


def test_a_bind_beyond_loopback_is_refused_without_tls(tmp_path):
    check_bind("127.0.0.1", None, None)
    check_bind("::1", None, None)
    with pytest.raises(InputError, match="without TLS"):
        check_bind("0.0.0.0", None, None)
    with pytest.raises(InputError, match="both"):
        check_bind("0.0.0.0", tmp_path / "cert.pem", None)
    (tmp_path / "cert.pem").write_text("x")
    (tmp_path / "key.pem").write_text("x")
    check_bind("0.0.0.0", tmp_path / "cert.pem", tmp_path / "key.pem")


# --- who sees what -----------------------------------------------------------------------------

PAGES = ("/health", "/reads", "/search", "/hits", "/hotlists", "/allowlist", "/audit", "/sharing")
ALLOWED = {
    "admin": set(PAGES),
    "operator": {"/health", "/reads", "/search", "/hits", "/hotlists"},
    "viewer": {"/health", "/reads", "/search", "/hits", "/hotlists"},
    "auditor": {"/health", "/reads", "/search", "/hits", "/hotlists", "/audit", "/sharing"},
}


def test_an_unauthenticated_visitor_sees_only_the_transparency_page(app):
    client = TestClient(app, base_url="http://127.0.0.1")
    public = client.get("/transparency")
    assert public.status_code == 200 and "Oakland Police Department" in public.text
    assert "7ABC123" not in public.text  # no plates on the public page
    for path in PAGES:
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/login", path
    for path in ("/reads", "/search", "/holds", "/hotlists/import", "/allowlist/edit"):
        assert client.post(path, data={}, follow_redirects=False).status_code == 303, path
    assert client.get("/", follow_redirects=False).headers["location"] == "/transparency"
    assert client.get("/static/console.css").status_code == 200  # the style sheet, no data


@pytest.mark.parametrize("role", ROLES)
def test_each_role_opens_its_pages_and_no_other(app, role):
    client = login(app, role)
    for path in PAGES:
        status = client.get(path).status_code
        assert status == (200 if path in ALLOWED[role] else 403), (role, path, status)


def test_a_viewer_cannot_edit(app, unit):
    client = login(app, "viewer")
    csrf = token(client)
    allowlist = (unit.parent / "agencies.toml").read_text()
    assert client.post("/hotlists/1/expire", data={"csrf": csrf}).status_code == 403
    assert (
        client.post(
            "/hotlists/import", data={"csrf": csrf}, files={"csv": ("w.csv", b"plate\n1ABC234\n")}
        ).status_code
        == 403
    )
    assert (
        client.post(
            "/holds", data={"csrf": csrf, "read_id": "1", "case": "1", "reason": "x"}
        ).status_code
        == 403
    )
    assert (
        client.post(
            "/allowlist/edit",
            data={"csrf": csrf, "action": "remove", "agency_id": "chp", "confirm": "yes"},
        ).status_code
        == 403
    )
    assert (unit.parent / "agencies.toml").read_text() == allowlist
    assert not audit_rows(unit, "hotlist_change") and not audit_rows(unit, "legal_hold")


POST_ROUTES = {
    "/hotlists/1/expire": {"admin", "operator"},
    "/holds": {"admin", "operator"},
    "/allowlist/edit": {"admin"},
    "/audit/verify": {"admin", "auditor"},
    "/audit/export": {"admin", "auditor"},
}


@pytest.mark.parametrize("role", ROLES)
def test_each_role_may_post_only_to_its_forms(app, role):
    client = login(app, role)
    csrf = token(client)
    for path, roles in POST_ROUTES.items():
        status = client.post(path, data={"csrf": csrf}).status_code
        assert (status != 403) == (role in roles), (role, path, status)


# --- logins ------------------------------------------------------------------------------------


def test_login_failure_and_logout_are_audited(app, unit):
    client = TestClient(app, base_url="http://127.0.0.1")
    csrf = csrf_of(client.get("/login").text)
    bad = client.post("/login", data={"user": "viewer", "password": "nope nope nope", "csrf": csrf})
    assert bad.status_code == 401
    client = login(app, "viewer")
    response = client.post("/logout", data={"csrf": token(client)}, follow_redirects=False)
    assert response.status_code == 303
    assert client.get("/health", follow_redirects=False).status_code == 303  # session gone
    events = [(r["event"], r["username"]) for r in audit_rows(unit) if "console" in r["event"]]
    assert events == [
        ("console_login_failed", "viewer"),
        ("console_login", "viewer"),
        ("console_logout", "viewer"),
    ]


def test_session_cookie_is_httponly_and_samesite(app):
    client = TestClient(app, base_url="http://127.0.0.1")
    csrf = csrf_of(client.get("/login").text)
    response = client.post(
        "/login",
        data={"user": "admin", "password": PASSWORD, "csrf": csrf},
        follow_redirects=False,
    )
    cookie = next(
        v
        for k, v in response.headers.multi_items()
        if k == "set-cookie" and v.startswith("alpr_session=")
    ).lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "secure" not in cookie


def test_session_cookie_is_secure_under_tls(unit):
    app = create_app(console_for(load_config(unit), tls=True))
    client = TestClient(app, base_url="https://127.0.0.1")
    csrf = csrf_of(client.get("/login").text)
    response = client.post(
        "/login",
        data={"user": "admin", "password": PASSWORD, "csrf": csrf},
        follow_redirects=False,
    )
    assert "secure" in response.headers["set-cookie"].lower()


def test_logins_past_the_limit_are_refused_without_checking_the_password(app, unit):
    client = TestClient(app, base_url="http://127.0.0.1")
    csrf = csrf_of(client.get("/login").text)
    attempts = [
        client.post("/login", data={"user": "admin", "password": "wrong wrong", "csrf": csrf})
        for _ in range(6)
    ]
    assert [r.status_code for r in attempts] == [401] * 5 + [429]
    # Even the right password is refused now, for that name.
    right = client.post("/login", data={"user": "admin", "password": PASSWORD, "csrf": csrf})
    assert right.status_code == 429 and "Retry-After" in right.headers
    failed = audit_rows(unit, "console_login_failed")
    assert [r["reason"] for r in failed].count("wrong user name or password") == 5
    # The refusals past the limit are one row per window, with the count of the others.
    (refused,) = [r for r in failed if r["reason"].startswith("too many")]
    assert json.loads(refused["details"])["refused_since_last_row"] == 0


def test_refusals_are_audited_once_per_window_with_the_count_of_the_rest():
    limiter = LoginLimiter(attempts=1, window_s=60)
    assert limiter.refusal_to_record("ann", "10.0.0.1", now=0) == 0
    assert limiter.refusal_to_record("ann", "10.0.0.1", now=1) is None
    assert limiter.refusal_to_record("ann", "10.0.0.1", now=2) is None
    assert limiter.refusal_to_record("bob", "10.0.0.1", now=2) == 0
    assert limiter.refusal_to_record("ann", "10.0.0.1", now=61) == 2


def test_the_limit_counts_per_client_address_too():
    limiter = LoginLimiter(attempts=3, window_s=60)
    for name in ("a", "b", "c"):
        limiter.failed(name, "10.0.0.9", now=0)
    assert limiter.blocked("d", "10.0.0.9", now=1)
    assert not limiter.blocked("d", "10.0.0.8", now=1)
    assert not limiter.blocked("d", "10.0.0.9", now=61)  # the window has passed


def test_login_without_the_form_token_is_refused(app):
    client = TestClient(app, base_url="http://127.0.0.1")
    client.get("/login")
    response = client.post("/login", data={"user": "admin", "password": PASSWORD})
    assert response.status_code == 403 and "CSRF" in response.text


@pytest.mark.parametrize(
    "path, data",
    [
        ("/reads", {"purpose": "patrol check"}),
        ("/search", {"purpose": "stolen car", "case": "24-1", "plate": "7ABC*"}),
        ("/hotlists/1/expire", {}),
        ("/allowlist/edit", {"action": "remove", "agency_id": "chp", "confirm": "yes"}),
        ("/audit/verify", {}),
        ("/logout", {}),
    ],
)
def test_every_form_without_its_csrf_token_is_refused(app, unit, path, data):
    client = login(app, "admin")
    before = len(audit_rows(unit))
    for csrf in (None, "forged"):
        sent = data if csrf is None else {**data, "csrf": csrf}
        response = client.post(path, data=sent)
        assert response.status_code == 403 and "CSRF" in response.text
    assert len(audit_rows(unit)) == before  # nothing done, nothing shown


# --- plate views -------------------------------------------------------------------------------


def test_recent_reads_ask_for_a_purpose_before_showing_any_plate(app, unit):
    client = login(app, "viewer")
    form = client.get("/reads")
    assert "Purpose" in form.text and not any(p in form.text for p in PLATES)
    refused = client.post("/reads", data={"csrf": token(client)})
    assert refused.status_code == 400 and not any(p in refused.text for p in PLATES)
    assert not audit_rows(unit, "search")


@pytest.mark.parametrize("role", ROLES)
def test_every_plate_view_leaves_exactly_one_audit_row(app, unit, role):
    client = login(app, role)
    csrf = token(client)
    views = [
        ("/reads", {"purpose": "shift review", "limit": "3"}),
        ("/search", {"purpose": "stolen vehicle", "case": "24-0012", "plate": "7ABC12*"}),
        ("/hits", {"purpose": "review hotlist hits"}),
    ]
    for number, (path, data) in enumerate(views, start=1):
        page = client.post(path, data={**data, "csrf": csrf})
        assert page.status_code == 200
        rows = audit_rows(unit, "search")
        assert len(rows) == number
        row = rows[-1]
        shown = set(re.findall(r'<p class="plate">(\w+)</p>', page.text))
        assert set(row["data_elements"].split(",")) == shown and shown
        assert row["username"] == role and row["user_agency"] == "CA0010900"
        assert data["purpose"] in row["purpose"]
    search = audit_rows(unit, "search")[1]
    assert "24-0012" in search["purpose"]
    assert json.loads(search["details"])["criteria"]["case_number"] == "24-0012"
    assert search["data_elements"] == "7ABC123,7ABC128"
    assert verify(unit.parent / "share" / "audit.sqlite").ok


def test_crops_come_inside_the_audited_page_and_are_not_cached(app, unit):
    client = login(app, "viewer")
    page = client.post("/reads", data={"purpose": "check", "limit": "2", "csrf": token(client)})
    assert page.text.count('src="data:image/jpeg;base64,') == 2
    assert page.headers["cache-control"] == "no-store"
    assert "script-src" not in page.headers["content-security-policy"]


def test_a_search_needs_a_case_number(app, unit):
    client = login(app, "operator")
    page = client.post("/search", data={"purpose": "x", "plate": "7ABC123", "csrf": token(client)})
    assert page.status_code == 400 and "case" in page.text
    assert not audit_rows(unit, "search")


def test_a_prohibited_purpose_is_refused_and_audited_without_showing_plates(app, unit):
    client = login(app, "operator")
    page = client.post(
        "/search",
        data={
            "purpose": "immigration enforcement",
            "case": "1",
            "plate": "7ABC123",
            "csrf": token(client),
        },
    )
    assert page.status_code == 403 and '<p class="plate">' not in page.text
    (row,) = audit_rows(unit, "search")
    assert row["decision"] == "refused" and row["data_elements"] == ""


def test_a_legal_hold_from_the_results_is_an_audit_row(app, unit):
    client = login(app, "operator")
    response = client.post(
        "/holds",
        data={"read_id": "1", "case": "24-7", "reason": "court order", "csrf": token(client)},
    )
    assert response.status_code == 200
    (row,) = audit_rows(unit, "legal_hold")
    assert json.loads(row["details"]) == {"case_number": "24-7", "read_ids": [1]}
    assert row["username"] == "operator"


# --- hotlists ----------------------------------------------------------------------------------


def test_an_operator_imports_and_expires_hotlist_entries(app, unit):
    client = login(app, "operator")
    csv = b"plate,state,reason,source,expiry\n4KLM567,CA,stolen,NCIC,\n"
    imported = client.post(
        "/hotlists/import", data={"csrf": token(client)}, files={"csv": ("wanted.csv", csv)}
    )
    assert imported.status_code == 200 and "imported 1 entries" in imported.text
    assert "4KLM567" in imported.text
    expired = client.post("/hotlists/1/expire", data={"csrf": token(client)})
    assert "expired entry 1" in expired.text
    store = ReadStore(unit.parent / "store", readonly=True)
    entry = store.hotlist_entries()[0]
    store.close()
    assert not entry.active_at(datetime.now(timezone.utc) + timedelta(seconds=1))
    reasons = [r["reason"] for r in audit_rows(unit, "hotlist_change")]
    assert reasons == ["imported 1 hotlist entries from wanted.csv", "expired hotlist entry 1"]


def test_a_bad_hotlist_file_imports_nothing(app, unit):
    client = login(app, "operator")
    bad = b"plate,state,reason,source,expiry\n7ABC123,CA,x,y,not-a-date\n"
    response = client.post(
        "/hotlists/import", data={"csrf": token(client)}, files={"csv": ("bad.csv", bad)}
    )
    assert response.status_code == 400 and "Not imported" in response.text
    assert not audit_rows(unit, "hotlist_change")


# --- allow-list editor -------------------------------------------------------------------------

LAPD = {
    "id": "lapd",
    "name": "Los Angeles Police Department",
    "ori": "CA0194200",
    "kind": "city_police",
    "state": "CA",
    "purpose": "stolen vehicles, MOU LAPD-2026-3",
    "broker": "mqtt://127.0.0.1:18839",
    "receives": "hits, heartbeat",
    "expires": "2027-12-31",
}


def test_every_broken_rule_is_shown_beside_its_field(app, unit):
    client = login(app, "admin")
    before = (unit.parent / "agencies.toml").read_text()
    bad = {**LAPD, "ori": "NY0300000", "kind": "federal", "expires": "someday"}
    page = client.post("/allowlist/edit", data={**bad, "action": "add", "csrf": token(client)})
    assert page.status_code == 400
    for field in ("ori", "kind", "expires"):
        assert re.search(rf'id="error-{field}">[^<]+<', page.text), field
    assert 'id="error-name"' not in page.text
    assert (unit.parent / "agencies.toml").read_text() == before
    assert not audit_rows(unit, "allowlist_change")


def test_an_add_shows_the_diff_then_saves_and_audits_as_the_cli_does(app, unit):
    client = login(app, "admin")
    path = unit.parent / "agencies.toml"
    before = path.read_text()
    preview = client.post("/allowlist/edit", data={**LAPD, "action": "add", "csrf": token(client)})
    assert preview.status_code == 200 and "+id = &#34;lapd&#34;" in preview.text
    assert path.read_text() == before  # nothing saved yet
    confirm = dict(re.findall(r'name="(\w+)" value="([^"]*)"', preview.text))
    import html

    confirm = {k: html.unescape(v) for k, v in confirm.items()}
    saved = client.post("/allowlist/edit", data=confirm)
    assert saved.status_code == 200 and "add lapd saved and audited" in saved.text
    assert 'id = "lapd"' in path.read_text() and "# The allow-list of this test unit." in (
        path.read_text()
    )
    (row,) = audit_rows(unit, "allowlist_change")
    assert row["reason"] == "add agency lapd" and row["username"] == "admin"
    assert row["user_agency"] == "operator" and row["destination"] == "lapd"
    assert '+id = "lapd"' in json.loads(row["details"])["diff"]


def _edit(client, data):
    import html

    preview = client.post("/allowlist/edit", data={**data, "csrf": token(client)})
    assert preview.status_code == 200, preview.text
    confirm = {
        k: html.unescape(v) for k, v in re.findall(r'name="(\w+)" value="([^"]*)"', preview.text)
    }
    return client.post("/allowlist/edit", data=confirm)


def test_a_change_replaces_the_entry_in_one_audited_edit(app, unit):
    client = login(app, "admin")
    form = client.get("/allowlist/edit?id=chp")
    assert 'value="California Highway Patrol"' in form.text
    values = {
        k: v for k, v in re.findall(r'name="(\w+)" id="field-\w+" value="([^"]*)"', form.text)
    }
    values["purpose"] = "stolen vehicles, MOU CHP-2027"
    saved = _edit(client, {**values, "action": "change", "agency_id": "chp"})
    assert saved.status_code == 200
    text = (unit.parent / "agencies.toml").read_text()
    assert "MOU CHP-2027" in text and text.count('id = "chp"') == 1
    (row,) = audit_rows(unit, "allowlist_change")
    assert row["reason"] == "change agency chp"


def test_a_remove_is_previewed_then_audited(app, unit):
    client = login(app, "admin")
    saved = _edit(client, {"action": "remove", "agency_id": "chp"})
    assert saved.status_code == 200
    assert 'id = "chp"' not in (unit.parent / "agencies.toml").read_text()
    assert audit_rows(unit, "allowlist_change")[0]["reason"] == "remove agency chp"


def test_a_preview_of_a_file_that_changed_since_is_not_saved(app, unit):
    import html

    client = login(app, "admin")
    preview = client.post("/allowlist/edit", data={**LAPD, "action": "add", "csrf": token(client)})
    confirm = {
        k: html.unescape(v) for k, v in re.findall(r'name="(\w+)" value="([^"]*)"', preview.text)
    }
    path = unit.parent / "agencies.toml"
    path.write_text(path.read_text() + "\n# edited by hand\n")
    assert client.post("/allowlist/edit", data=confirm).status_code == 409
    assert not audit_rows(unit, "allowlist_change")


# --- audit and sharing logs, transparency --------------------------------------------------------


def test_browsing_verifying_and_exporting_the_audit_log_are_audited(app, unit):
    client = login(app, "auditor")
    page = client.get("/audit?event=console_login")
    assert page.status_code == 200 and "console_login" in page.text
    verified = client.post("/audit/verify", data={"csrf": token(client)})
    assert "Chain intact" in verified.text
    export = client.post("/audit/export", data={"format": "csv", "csrf": token(client)})
    head = export.headers["x-audit-chain-head"]
    last = export.text.strip().splitlines()[-1]
    assert (
        last.endswith(head.split(":")[1]) and "audit-head-" in export.headers["content-disposition"]
    )
    events = [r["event"] for r in audit_rows(unit)]
    assert {"audit_browse", "audit_verify", "audit_export"} <= set(events)
    assert all(r["username"] == "auditor" for r in audit_rows(unit, "audit_verify"))


def seed_sharing(unit: Path) -> None:
    """Audit rows a sharing unit writes: a connection, a hit sent, a read dropped, a query
    refused."""
    from edge.audit.events import Decision, Event
    from edge.audit.log import AuditEvent

    log = AuditLog(unit.parent / "share" / "audit.sqlite")
    log.record(
        AuditEvent(
            Event.CONNECT, Decision.DONE, "connected", "alpr-edge", "", "", destination="oakland-pd"
        )
    )
    log.record(
        AuditEvent(
            Event.SHARE,
            Decision.ALLOWED,
            "sent",
            "alpr-edge",
            "",
            "alerts",
            "7ABC123",
            "chp",
            "m1",
            1,
            details={"kind": "hit"},
        )
    )
    log.record(
        AuditEvent(
            Event.DROP,
            Decision.DROPPED,
            "agreement expired",
            "alpr-edge",
            "",
            "alerts",
            "",
            "chp",
            "m2",
            1,
            details={"kind": "read"},
        )
    )
    log.record(
        AuditEvent(
            Event.QUERY,
            Decision.REFUSED,
            "refused",
            "officer1",
            "CA0349400",
            "immigration",
            "7ABC*",
            details={
                "query_decision": "refused",
                "query_reason": "purpose_prohibited",
                "case_number": "24-99",
                "broker_agency": "chp",
            },
        )
    )
    log.close()


def test_sharing_log_shows_sent_refused_and_queries_with_reason_and_case(app, unit):
    seed_sharing(unit)
    client = login(app, "auditor")
    page = client.get("/sharing?agency=chp").text
    assert "agreement expired" in page and "purpose_prohibited" in page and "24-99" in page
    assert "hit" in page


def test_the_transparency_page_shows_the_report_figures_and_the_policy(app, unit):
    client = login(app, "viewer")
    client.post("/reads", data={"purpose": "check", "csrf": token(client)})
    public = TestClient(app, base_url="http://127.0.0.1").get("/transparency").text
    assert "The published policy." in public and "30 days" in public
    assert "California Highway Patrol" in public
    assert re.search(r"Plate reads</dt><dd>5<", public)
    assert re.search(r"Local searches</dt><dd>1<", public)
    assert not any(p in public for p in PLATES)


def test_health_shows_the_store_and_chain_figures(app, unit):
    import sqlite3

    from edge.audit.events import Decision, Event
    from edge.audit.log import AuditEvent

    outbox = sqlite3.connect(unit.parent / "share" / "outbox.sqlite")
    outbox.execute("CREATE TABLE outbox (seq INTEGER PRIMARY KEY, agency_id TEXT)")
    outbox.executemany("INSERT INTO outbox (agency_id) VALUES (?)", [("chp",)] * 3)
    outbox.commit()
    outbox.close()
    log = AuditLog(unit.parent / "share" / "audit.sqlite")
    log.record(
        AuditEvent(
            Event.CONNECT_FAILED,
            Decision.FAILED,
            "refused by broker",
            "alpr-edge",
            "",
            "",
            destination="chp",
        )
    )
    log.close()
    client = login(app, "viewer")
    page = client.get("/health").text
    assert re.search(r"<td>chp</td><td>3</td>", page) and "connect_failed" in page
    assert re.search(r"Reads today \(UTC\)</dt><dd>\d+<", page) and "verified" in page
    assert "Disk free" in page
