"""The console's web application: server-rendered pages, each guarded by a role.

Every page that shows a plate is an access under Civil Code 1798.90.52: it asks for a purpose
(and, for a search, a case number), writes the audit row, and only then reads out what it
found; crops travel inside that same page, so there is no second, unaudited image request.
Reading the audit log is audited too (CJIS 5.4.1.1). Edits go through the audited paths the
CLI uses: the allow-list edit, hotlist import and legal holds. Pages carry no script at all.
"""

from __future__ import annotations

import hmac
import io
import secrets
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from edge.audit.access import AUDIT_PURPOSE, record_search
from edge.audit.events import Decision, Event
from edge.audit.log import AuditEvent, AuditLog, ChainHead, verify
from edge.audit.terms import prohibited_terms_in
from edge.console import allowlist as editor
from edge.console.accounts import ROLES, Accounts, LoginLimiter, Session
from edge.console.data import (
    AuditFilter,
    Paths,
    audit_rows,
    chain_head_text,
    count_events,
    crop_data_uri,
    health,
    sharing_log,
)
from edge.errors import ConfigError, InputError

HERE = Path(__file__).parent
SESSION_COOKIE = "alpr_session"
LOGIN_CSRF_COOKIE = "alpr_login_csrf"
MAX_LIMIT = 500
# The purpose the audit log records for what staff do in the console (auditors' views record
# `AUDIT_PURPOSE`, as the CLI's do).
CONSOLE_PURPOSE = "alpr-edge console"
CACHE_SECONDS = 30.0
# The public page may be asked for any month: keep only this many figures sets.
CACHE_ENTRIES = 32

# Who may open what. Everyone who may log in may look at reads (audited); only operators and
# admins change hotlists and holds; auditors and admins read the audit and sharing logs.
EVERYONE = frozenset(ROLES)
PERMISSIONS: dict[str, frozenset[str]] = {
    "health": EVERYONE,
    "reads": EVERYONE,
    "hotlists": EVERYONE,
    "hotlist_edit": frozenset({"admin", "operator"}),
    "holds": frozenset({"admin", "operator"}),
    "audit": frozenset({"admin", "auditor"}),
    "sharing": frozenset({"admin", "auditor"}),
    "allowlist": frozenset({"admin"}),
}
NAVIGATION = (
    ("health", "/health", "Health"),
    ("reads", "/reads", "Recent reads"),
    ("reads", "/search", "Search"),
    ("reads", "/hits", "Hits"),
    ("hotlists", "/hotlists", "Hotlists"),
    ("allowlist", "/allowlist", "Allow-list"),
    ("audit", "/audit", "Audit log"),
    ("sharing", "/sharing", "Sharing log"),
)


class NotLoggedIn(Exception):
    pass


@dataclass
class _Cached:
    at: float
    value: Any


@dataclass
class Console:
    """What every request needs: where the files are, the accounts, the limits."""

    paths: Paths
    accounts: Accounts
    limiter: LoginLimiter = field(default_factory=LoginLimiter)
    secure_cookies: bool = False
    _cache: dict[str, _Cached] = field(default_factory=dict)
    _cache_lock: threading.Lock = field(default_factory=threading.Lock)

    def cached(self, key: str, build: Callable[[], Any]) -> Any:
        """Figures that walk the whole audit chain are rebuilt at most every CACHE_SECONDS."""
        now = time.monotonic()
        with self._cache_lock:
            hit = self._cache.get(key)
            if hit and now - hit.at < CACHE_SECONDS:
                return hit.value
        value = build()
        with self._cache_lock:
            if len(self._cache) >= CACHE_ENTRIES:
                oldest = min(self._cache, key=lambda k: self._cache[k].at)
                del self._cache[oldest]
            self._cache[key] = _Cached(now, value)
        return value

    def audit(self, event: AuditEvent) -> None:
        log = AuditLog(self.paths.audit_file)
        try:
            log.record(event)
        finally:
            log.close()

    def console_event(
        self,
        event: Event,
        decision: Decision,
        reason: str,
        user: str,
        purpose: str = CONSOLE_PURPOSE,
        **details: Any,
    ) -> None:
        """One audit row for what `user` did in the console, on behalf of the operator's
        agency; every row carries `via: console`."""
        self.audit(
            AuditEvent(
                event=event,
                decision=decision,
                reason=reason,
                username=user,
                user_agency=self.paths.operator_agency,
                purpose=purpose,
                details={"via": "console", **details},
            )
        )


_templates = Environment(
    loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"])
)


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    session: Session | None = getattr(request.state, "session", None)
    nav = [
        (href, label)
        for perm, href, label in NAVIGATION
        if session and session.role in PERMISSIONS[perm]
    ]
    html = _templates.get_template(name).render(
        session=session, nav=nav, here=request.url.path, may=_may(session), **context
    )
    return HTMLResponse(html, status_code=status)


def _may(session: Session | None) -> dict[str, bool]:
    return {perm: bool(session and session.role in roles) for perm, roles in PERMISSIONS.items()}


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


Handler = Callable[[Request, Console, Session], Awaitable[Response]]


def page(perm: str) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """Guard a handler: a live session whose role has `perm`, and on POST a matching CSRF
    token. The handler gets the console and the session."""

    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            console: Console = request.app.state.console
            session = console.accounts.session(request.cookies.get(SESSION_COOKIE))
            if session is None:
                raise NotLoggedIn
            request.state.session = session
            if session.role not in PERMISSIONS[perm]:
                raise HTTPException(403, f"the {session.role} role may not open this page")
            if request.method == "POST":
                form = await request.form()
                if not hmac.compare_digest(str(form.get("csrf", "")), session.csrf):
                    raise HTTPException(403, "missing or wrong form token (CSRF): reload the page")
            return await handler(request, console, session)

        endpoint.__name__ = handler.__name__
        return endpoint

    return wrap


def _form_text(form: FormData, name: str) -> str:
    value = form.get(name, "")
    return value.strip() if isinstance(value, str) else ""


def _limit(text: str, default: int = 50) -> int:
    try:
        return max(1, min(MAX_LIMIT, int(text)))
    except ValueError:
        return default


def _moment(text: str) -> datetime | None:
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"{text!r} is not a date or date and time (YYYY-MM-DD[THH:MM])") from None
    return (
        parsed.replace(tzinfo=timezone.utc)
        if parsed.tzinfo is None
        else parsed.astimezone(timezone.utc)
    )


# --- login -------------------------------------------------------------------------------------


async def login_page(request: Request) -> Response:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)
    response = render(request, "login.html", csrf=token, error=None)
    _set_login_csrf(request, response, token)
    return response


def _set_login_csrf(request: Request, response: Response, token: str) -> None:
    console: Console = request.app.state.console
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=console.secure_cookies,
        max_age=3600,
    )


async def login(request: Request) -> Response:
    console: Console = request.app.state.console
    form = await request.form()
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not hmac.compare_digest(str(form.get("csrf", "")), cookie):
        raise HTTPException(403, "missing or wrong form token (CSRF): reload the login page")
    name, password, address = (
        _form_text(form, "user"),
        str(form.get("password", "")),
        _client(request),
    )
    if console.limiter.blocked(name, address):
        # One row per name and address per window, with the count since the last one: every
        # refusal is accounted for, but a flood of them cannot fill the disk with rows.
        unlogged = console.limiter.refusal_to_record(name, address)
        if unlogged is not None:
            console.console_event(
                Event.CONSOLE_LOGIN_FAILED,
                Decision.REFUSED,
                "too many failed logins: refused without checking the password",
                name or "(none)",
                address=address,
                refused_since_last_row=unlogged,
            )
        response = render(
            request,
            "login.html",
            status=429,
            csrf=cookie,
            error="Too many failed logins for this name or address; try again later.",
        )
        response.headers["Retry-After"] = str(int(console.limiter.window_s))
        return response
    # scrypt takes tens of milliseconds on purpose: off the event loop, so other pages go on.
    role = await run_in_threadpool(console.accounts.authenticate, name, password)
    if role is None:
        console.limiter.failed(name, address)
        console.console_event(
            Event.CONSOLE_LOGIN_FAILED,
            Decision.REFUSED,
            "wrong user name or password",
            name or "(none)",
            address=address,
        )
        return render(
            request, "login.html", status=401, csrf=cookie, error="Wrong user name or password."
        )
    console.limiter.succeeded(name)
    token, _ = console.accounts.open_session(name)
    console.console_event(
        Event.CONSOLE_LOGIN, Decision.DONE, f"logged in as {role}", name, address=address
    )
    response = RedirectResponse("/health", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=console.secure_cookies,
        max_age=console.accounts.session_seconds,
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@page("health")
async def logout(request: Request, console: Console, session: Session) -> Response:
    console.accounts.close_session(request.cookies.get(SESSION_COOKIE, ""))
    console.console_event(
        Event.CONSOLE_LOGOUT, Decision.DONE, "logged out", session.user, address=_client(request)
    )
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


async def home(request: Request) -> Response:
    console: Console = request.app.state.console
    logged_in = console.accounts.session(request.cookies.get(SESSION_COOKIE)) is not None
    return RedirectResponse("/health" if logged_in else "/transparency", status_code=303)


# --- health ------------------------------------------------------------------------------------


@page("health")
async def health_page(request: Request, console: Console, session: Session) -> Response:
    figures = await run_in_threadpool(console.cached, "health", lambda: health(console.paths))
    return render(request, "health.html", figures=figures)


# --- reads, search and hits: every look is an audited access ------------------------------------

_ACCESS_PAGES = {
    "reads": ("Recent reads", "the newest reads"),
    "search": ("Search by plate", "reads of a plate; * matches any characters"),
    "hits": ("Hits to review", "the newest reads that matched a hotlist"),
}


@page("reads")
async def access_form(request: Request, console: Console, session: Session) -> Response:
    kind = request.url.path.strip("/")
    title, what = _ACCESS_PAGES[kind]
    return render(request, "access.html", kind=kind, title=title, what=what, values={}, error=None)


@page("reads")
async def access_results(request: Request, console: Console, session: Session) -> Response:
    kind = request.url.path.strip("/")
    title, what = _ACCESS_PAGES[kind]
    form = await request.form()
    values = {k: _form_text(form, k) for k in ("purpose", "case", "plate", "limit", "since")}

    def refuse(message: str, status: int = 400) -> Response:
        return render(
            request,
            "access.html",
            status=status,
            kind=kind,
            title=title,
            what=what,
            values=values,
            error=message,
        )

    if not values["purpose"]:
        return refuse("Say why you are looking: the purpose goes to the audit log.")
    if kind == "search" and not values["plate"]:
        return refuse("Give the plate to search for (* matches any characters).")
    if kind == "search" and not values["case"]:
        return refuse("A search needs the case or incident number it is for.")
    terms = prohibited_terms_in(values["purpose"], values["case"])
    criteria = {
        "page": kind,
        "plate": values["plate"] or None,
        "case_number": values["case"] or None,
        "since": values["since"] or None,
        "limit": _limit(values["limit"]),
        "via": "console",
    }
    if terms:
        # The criteria already say `via: console`; the row carries the purpose as typed.
        console.console_event(
            Event.SEARCH,
            Decision.REFUSED,
            f"prohibited purpose: {terms[0].category}",
            session.user,
            values["purpose"],
            criteria=criteria,
        )
        return refuse(
            f"Refused: the purpose names a prohibited use ({terms[0].category}); this refusal "
            "is in the audit log.",
            status=403,
        )
    try:
        since = _moment(values["since"])
    except InputError as exc:
        return refuse(str(exc))
    found = []
    if console.paths.has_store():
        store = console.paths.store()
        try:
            if kind == "hits":
                found = store.reads_with_hits(limit=criteria["limit"])
            else:
                found = store.reads(
                    plate=values["plate"] or None,
                    since=since,
                    limit=criteria["limit"],
                    with_hits=True,
                )
        finally:
            store.close()
    # The access is on record before anything is shown; a failed audit write shows nothing.
    purpose = values["purpose"] + (f" (case {values['case']})" if values["case"] else "")
    record_search(
        console.paths.audit_file,
        user=session.user,
        user_agency=console.paths.operator_agency,
        purpose=purpose,
        criteria=criteria,
        plates=[stored.read.plate for stored in found],
    )
    rows = [(stored, crop_data_uri(console.paths.store_dir, stored)) for stored in found]
    return render(
        request,
        "reads.html",
        kind=kind,
        title=title,
        rows=rows,
        values=values,
        recorded=purpose,
    )


@page("holds")
async def hold(request: Request, console: Console, session: Session) -> Response:
    from edge.audit.retention import record_hold

    form = await request.form()
    case, reason = _form_text(form, "case"), _form_text(form, "reason")
    place = _form_text(form, "action") != "release"
    try:
        read_id = int(_form_text(form, "read_id"))
    except ValueError:
        raise HTTPException(400, "no read id given") from None
    if not case or not reason:
        raise HTTPException(400, "a legal hold needs a case number and a reason")
    log = AuditLog(console.paths.audit_file)
    try:
        record_hold(
            log,
            [read_id],
            case,
            session.user,
            reason,
            place,
            user_agency=console.paths.operator_agency,
        )
    finally:
        log.close()
    verb = "placed on" if place else "released from"
    return render(request, "done.html", message=f"Legal hold {verb} read {read_id} (case {case}).")


# --- hotlists ----------------------------------------------------------------------------------


@page("hotlists")
async def hotlists(request: Request, console: Console, session: Session) -> Response:
    entries = []
    if console.paths.has_store():
        store = console.paths.store()
        try:
            entries = store.hotlist_entries()
        finally:
            store.close()
    now = datetime.now(timezone.utc)
    return render(
        request,
        "hotlists.html",
        entries=[(e, e.active_at(now)) for e in reversed(entries)],
        message=request.query_params.get("done"),
    )


@page("hotlist_edit")
async def hotlist_import(request: Request, console: Console, session: Session) -> Response:
    from edge.runtime.hotlist import import_csv
    from edge.runtime.store import ReadStore

    form = await request.form()
    upload = form.get("csv")
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise HTTPException(400, "choose a CSV file to import")
    name = Path(upload.filename).name
    content = await upload.read()
    with tempfile.TemporaryDirectory(prefix="alpr-console-") as folder:
        path = Path(folder) / name
        path.write_bytes(content)
        store = ReadStore(console.paths.store_dir)
        try:
            count = import_csv(store, path)
        except InputError as exc:
            return render(request, "done.html", status=400, message=f"Not imported: {exc}")
        finally:
            store.close()
    console.console_event(
        Event.HOTLIST_CHANGE,
        Decision.DONE,
        f"imported {count} hotlist entries from {name}",
        session.user,
        file=name,
        entries=count,
    )
    return RedirectResponse(f"/hotlists?done=imported+{count}+entries", status_code=303)


@page("hotlist_edit")
async def hotlist_expire(request: Request, console: Console, session: Session) -> Response:
    from edge.runtime.store import ReadStore

    entry_id = int(request.path_params["entry_id"])
    store = ReadStore(console.paths.store_dir)
    try:
        found = store.expire_hotlist_entry(entry_id, datetime.now(timezone.utc))
    finally:
        store.close()
    if not found:
        raise HTTPException(404, f"no hotlist entry {entry_id}")
    console.console_event(
        Event.HOTLIST_CHANGE,
        Decision.DONE,
        f"expired hotlist entry {entry_id}",
        session.user,
        entry=entry_id,
    )
    return RedirectResponse(f"/hotlists?done=expired+entry+{entry_id}", status_code=303)


# --- allow-list editor -------------------------------------------------------------------------


def _allowlist_file(console: Console) -> Path:
    if console.paths.allowlist_file is None:
        raise HTTPException(404, "edge.toml has no [sharing] table: there is no allow-list")
    return console.paths.allowlist_file


@page("allowlist")
async def allowlist_page(request: Request, console: Console, session: Session) -> Response:
    from edge.config.allowlist import check_allowlist

    path = _allowlist_file(console)
    return render(
        request,
        "allowlist.html",
        path=path,
        entries=editor.entries(path),
        problems=check_allowlist(path) if path.exists() else [],
        message=request.query_params.get("done"),
    )


@page("allowlist")
async def allowlist_form(request: Request, console: Console, session: Session) -> Response:
    path = _allowlist_file(console)
    agency_id = request.query_params.get("id", "")
    values = {"state": "CA"}
    if agency_id:
        entry = next((e for e in editor.entries(path) if e.get("id") == agency_id), None)
        if entry is None:
            raise HTTPException(404, f"no agency {agency_id!r} in the allow-list")
        values = editor.form_of(entry)
    return _editor(request, "change" if agency_id else "add", agency_id, values)


def _editor(
    request: Request,
    action: str,
    agency_id: str,
    values: dict[str, str],
    refusal: editor.Refusal | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "allowlist_form.html",
        status=status,
        action=action,
        agency_id=agency_id,
        fields=editor.FIELDS,
        values=values,
        refusal=refusal or editor.Refusal({}, []),
    )


@page("allowlist")
async def allowlist_edit(request: Request, console: Console, session: Session) -> Response:
    """Preview (the diff) or, with `confirm`, apply an add, change or remove."""
    from edge.audit.allowlist_edit import apply_change

    path = _allowlist_file(console)
    form = await request.form()
    action, agency_id = _form_text(form, "action"), _form_text(form, "agency_id")
    values = {name: _form_text(form, name) for name, _ in editor.FIELDS}
    base = editor.text_sha256(path)
    try:
        change = editor.plan(path, action, agency_id, values)
    except (InputError, ConfigError) as exc:
        if action == "remove":
            return render(request, "done.html", status=400, message=f"Not removed: {exc}")
        refusal = editor.refusal(exc, editor.edited_index(path, action))
        return _editor(request, action, agency_id, values, refusal, status=400)
    if _form_text(form, "confirm") != "yes":
        return render(
            request,
            "allowlist_diff.html",
            change=change,
            action=action,
            agency_id=agency_id,
            values=values,
            base=base,
        )
    if not hmac.compare_digest(_form_text(form, "base"), base):
        return render(
            request,
            "done.html",
            status=409,
            message="The allow-list changed since this preview: open the editor again.",
        )
    log = AuditLog(console.paths.audit_file)
    try:
        apply_change(path, change, log, session.user)
    finally:
        log.close()
    done = f"{change.action}+{change.agency_id}+saved+and+audited"
    return RedirectResponse(f"/allowlist?done={done}", status_code=303)


# --- audit log and sharing log -----------------------------------------------------------------


def _audit_filter(params: Any) -> AuditFilter:
    return AuditFilter(
        start=_moment(params.get("from", "")),
        end=_moment(params.get("to", "")),
        event=params.get("event", ""),
        user=params.get("user", ""),
        agency=params.get("agency", ""),
        limit=_limit(params.get("limit", ""), 200),
    )


@page("audit")
async def audit_page(request: Request, console: Console, session: Session) -> Response:
    params = request.query_params
    try:
        wanted = _audit_filter(params)
    except InputError as exc:
        raise HTTPException(400, str(exc)) from None
    filters = {k: params.get(k, "") for k in ("from", "to", "event", "user", "agency", "limit")}
    console.console_event(
        Event.AUDIT_BROWSE,
        Decision.DONE,
        "audit log viewed in the console",
        session.user,
        AUDIT_PURPOSE,
        filters=filters,
    )
    rows = audit_rows(console.paths.audit_file, wanted)
    return render(
        request,
        "audit.html",
        rows=rows,
        filters=filters,
        events=[e.value for e in Event],
        head=chain_head_text(console.paths.audit_file),
        result=None,
    )


@page("audit")
async def audit_verify(request: Request, console: Console, session: Session) -> Response:
    form = await request.form()
    expected = None
    head_text = _form_text(form, "head")
    if head_text:
        seq, _, digest = head_text.partition(":")
        if not seq.isdigit() or len(digest) != 64:
            raise HTTPException(400, "a published head is SEQ:HASH (64 hex digits)")
        expected = ChainHead(int(seq), digest, None)
    result = verify(console.paths.audit_file, expected)
    verdict = "intact" if result.ok else "BROKEN"
    console.console_event(
        Event.AUDIT_VERIFY,
        Decision.DONE,
        f"chain {verdict}",
        session.user,
        AUDIT_PURPOSE,
        rows=result.rows,
        breaks=[b.seq for b in result.breaks],
    )
    return render(
        request,
        "audit.html",
        rows=[],
        filters={},
        events=[e.value for e in Event],
        head=f"{result.head.seq}:{result.head.row_hash}",
        result=result,
    )


@page("audit")
async def audit_export(request: Request, console: Console, session: Session) -> Response:
    from edge.audit.export import export_rows, write_export

    form = await request.form()
    fmt = "csv" if _form_text(form, "format") == "csv" else "json"
    try:
        start, end = _moment(_form_text(form, "from")), _moment(_form_text(form, "to"))
    except InputError as exc:
        raise HTTPException(400, str(exc)) from None
    agency = _form_text(form, "agency") or None
    console.console_event(
        Event.AUDIT_EXPORT,
        Decision.DONE,
        f"audit rows exported as {fmt} from the console",
        session.user,
        AUDIT_PURPOSE,
        start=start.isoformat() if start else None,
        end=end.isoformat() if end else None,
        agency=agency,
    )
    out = io.StringIO()
    write_export(export_rows(console.paths.audit_file, start, end, agency), out, fmt)
    head = chain_head_text(console.paths.audit_file)
    seq, _, digest = head.partition(":")
    media = "text/csv" if fmt == "csv" else "application/x-ndjson"
    return Response(
        out.getvalue(),
        media_type=media,
        headers={
            "Content-Disposition": f'attachment; filename="audit-head-{seq}-{digest[:16]}.{fmt}"',
            "X-Audit-Chain-Head": head,
        },
    )


@page("sharing")
async def sharing_page(request: Request, console: Console, session: Session) -> Response:
    agencies = (
        [e.get("id", "") for e in editor.entries(console.paths.allowlist_file)]
        if (console.paths.allowlist_file)
        else []
    )
    agency = request.query_params.get("agency", "") or (agencies[0] if agencies else "")
    log = {"messages": [], "queries": []}
    if agency:
        console.console_event(
            Event.AUDIT_BROWSE,
            Decision.DONE,
            f"sharing log of {agency} viewed in the console",
            session.user,
            AUDIT_PURPOSE,
            agency=agency,
        )
        log = sharing_log(console.paths.audit_file, agency)
    return render(request, "sharing.html", agencies=agencies, agency=agency, log=log)


# --- the public transparency page --------------------------------------------------------------


def _transparency(console: Console, month: str) -> dict[str, Any] | None:
    from edge.audit.report import ReportSources, build_report

    paths = console.paths
    if not paths.audit_file.is_file():
        return None
    sources = ReportSources(
        audit_log=paths.audit_file,
        allowlist_file=paths.allowlist_file or paths.store_dir / "no-allowlist.toml",
        store_dir=paths.store_dir,
        retention_days=paths.retention_days,
    )
    report = build_report(month, sources)
    start = datetime.fromisoformat(report["period"]["from"])
    end = datetime.fromisoformat(report["period"]["to"])
    report["local_searches"] = count_events(paths.audit_file, start, end).get(Event.SEARCH.value, 0)
    return report


async def transparency(request: Request) -> Response:
    console: Console = request.app.state.console
    request.state.session = console.accounts.session(request.cookies.get(SESSION_COOKIE))
    month = request.query_params.get("month") or datetime.now(timezone.utc).strftime("%Y-%m")
    try:
        report = await run_in_threadpool(
            console.cached, f"report {month}", lambda: _transparency(console, month)
        )
    except InputError as exc:
        raise HTTPException(400, str(exc)) from None
    policy = None
    if console.paths.policy_file and console.paths.policy_file.is_file():
        policy = console.paths.policy_file.read_text(encoding="utf-8")
    previous = (datetime.strptime(month, "%Y-%m") - timedelta(days=1)).strftime("%Y-%m")
    return render(
        request,
        "transparency.html",
        report=report,
        month=month,
        previous=previous,
        policy=policy,
        retention_days=console.paths.retention_days,
    )


# --- the application ---------------------------------------------------------------------------


async def _not_logged_in(request: Request, exc: Exception) -> Response:
    return RedirectResponse("/login", status_code=303)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return render(request, "done.html", status=exc.status_code, message=exc.detail)


_HEADERS = {
    # No script, no frames, no third parties; data: only for the crops inside audited pages.
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


class _SecurityHeaders:
    """Pages with plates must not linger in caches: nothing but the style sheet is stored."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                extra = dict(_HEADERS)
                if not static:
                    extra["Cache-Control"] = "no-store"
                headers += [(k.lower().encode(), v.encode()) for k, v in extra.items()]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(console: Console) -> Starlette:
    routes = [
        Route("/", home),
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/health", health_page),
        Route("/reads", access_form, methods=["GET"]),
        Route("/reads", access_results, methods=["POST"]),
        Route("/search", access_form, methods=["GET"]),
        Route("/search", access_results, methods=["POST"]),
        Route("/hits", access_form, methods=["GET"]),
        Route("/hits", access_results, methods=["POST"]),
        Route("/holds", hold, methods=["POST"]),
        Route("/hotlists", hotlists),
        Route("/hotlists/import", hotlist_import, methods=["POST"]),
        Route("/hotlists/{entry_id:int}/expire", hotlist_expire, methods=["POST"]),
        Route("/allowlist", allowlist_page),
        Route("/allowlist/edit", allowlist_form, methods=["GET"]),
        Route("/allowlist/edit", allowlist_edit, methods=["POST"]),
        Route("/audit", audit_page),
        Route("/audit/verify", audit_verify, methods=["POST"]),
        Route("/audit/export", audit_export, methods=["POST"]),
        Route("/sharing", sharing_page),
        Route("/transparency", transparency),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={NotLoggedIn: _not_logged_in, HTTPException: _http_error},
    )
    app.state.console = console
    app.add_middleware(_SecurityHeaders)
    return app
