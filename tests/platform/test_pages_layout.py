"""The page layout, the sign-in form, navigation and CSRF on forms, as a browser would see them (no JS)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.helpers.auth import PASSWORD, make_user

from pxm.platform.auth.models import User
from pxm.web import nav
from pxm.web.pages import STATIC_DIR, TEMPLATE_DIR

HTML = {"Accept": "text/html"}


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF field in the form"
    return m.group(1)


def form_login(client, username: str, password: str = PASSWORD, next_url: str = "/"):
    page = client.get("/login", headers=HTML)
    assert page.status_code == 200
    return client.post("/login", headers=HTML, follow_redirects=False, data={
        "username": username, "password": password, "csrf_token": _csrf(page.text), "next": next_url})


def test_login_form_is_labelled_and_signs_in(client, db, settings):
    user = make_user(db, "cx_manager")
    page = client.get("/login", headers=HTML)
    assert '<label for="username">' in page.text and '<label for="password">' in page.text
    assert 'autocomplete="current-password"' in page.text
    r = form_login(client, user.username)
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert client.cookies.get(settings.session_cookie_name)
    home = client.get("/", headers=HTML)
    assert home.status_code == 200
    assert f"Signed in as <strong>{user.username}</strong>" in home.text


def test_login_redirects_back_to_the_page_asked_for_but_never_off_site(client, db):
    user = make_user(db, "admin")
    r = client.get("/admin/users", headers=HTML, follow_redirects=False)
    assert r.headers["location"] == "/login?next=/admin/users"
    assert form_login(client, user.username, next_url="/admin/users").headers["location"] == "/admin/users"
    client.cookies.clear()
    assert form_login(client, user.username, next_url="//evil.example/x").headers["location"] == "/"


def test_wrong_password_shows_error_and_lockout_message(client, db, app):
    settings = app.state.settings = app.state.settings.model_copy(update={"login_max_failures": 3})
    user = make_user(db, "agent")
    r = form_login(client, user.username, "not-my-password")
    assert r.status_code == 401 and "Wrong username or password." in r.text
    assert 'aria-invalid="true"' in r.text and f'value="{user.username}"' in r.text
    for _ in range(settings.login_max_failures - 1):
        form_login(client, user.username, "not-my-password")
    r = form_login(client, user.username)  # the right password, but the account is locked now
    assert r.status_code == 429
    assert "Too many failed attempts; try again in" in r.text
    db.expire_all()
    assert db.get(User, user.id).locked_until is not None  # type: ignore[union-attr]


def test_login_form_without_csrf_token_is_refused(client, db, settings):
    user = make_user(db, "agent")
    client.get("/login", headers=HTML)
    r = client.post("/login", headers=HTML, follow_redirects=False,
                    data={"username": user.username, "password": PASSWORD})
    assert r.status_code == 403 and "form expired" in r.text
    assert not client.cookies.get(settings.session_cookie_name)


def test_form_posts_without_csrf_token_are_refused(client, db):
    admin = make_user(db, "admin")
    form_login(client, admin.username)
    target = make_user(db, "agent")
    r = client.post(f"/admin/users/{target.id}/active", data={"active": "false"}, headers=HTML)
    assert r.status_code == 403 and "CSRF" in r.text
    r = client.post(f"/admin/users/{target.id}/active", data={"active": "false", "csrf_token": "forged"},
                    headers=HTML)
    assert r.status_code == 403
    db.expire_all()
    assert db.get(User, target.id).active is True  # type: ignore[union-attr]
    r = client.post("/logout", headers=HTML, follow_redirects=False)
    assert r.status_code == 403


def test_logout_form_ends_the_session(client, db, settings):
    user = make_user(db, "agent")
    form_login(client, user.username)
    home = client.get("/", headers=HTML)
    r = client.post("/logout", data={"csrf_token": _csrf(home.text)}, headers=HTML, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?signed_out=1"
    assert "You have signed out." in client.get("/login?signed_out=1", headers=HTML).text
    assert client.get("/", headers=HTML, follow_redirects=False).status_code == 303


def test_layout_landmarks_skip_link_and_role_filtered_nav(client, db):
    agent = make_user(db, "agent")
    form_login(client, agent.username)
    html = client.get("/", headers=HTML).text
    assert html.index('class="skip-link" href="#main"') < html.index("<header")
    assert '<main id="main"' in html and '<nav aria-label="Main"' in html and "<footer" in html
    assert '<details class="nav-mobile">' in html and "<summary>Menu</summary>" in html
    assert '<a href="/" aria-current="page">Overview</a>' in html
    assert "Users &amp; tokens" not in html and "Audit log" not in html  # agents hold neither permission
    assert "First contact resolution" in html
    for item in nav.all_items():
        if not item.ready:
            assert f'href="{item.url}"' not in html, f"{item.label} is not built yet but is linked"


def test_admin_sees_admin_section(client, db):
    admin = make_user(db, "admin")
    form_login(client, admin.username)
    html = client.get("/", headers=HTML).text
    assert '<a href="/admin/users">Users &amp; tokens</a>' in html


def test_every_ready_nav_entry_has_a_page_with_the_same_permission(app):
    from tests.platform.test_openapi_permissions import operations, route_requirements

    gets = {path: route for method, path, route in operations(app) if method == "GET"}
    assert {s.label for s in nav.NAV} == {"Overview", "Practices", "Operations", "Analytics", "Admin"}
    for item in nav.all_items():
        if item.ready:
            assert item.url in gets, f"nav entry {item.label!r} is ready but GET {item.url} is not routed"
            perms, _ = route_requirements(gets[item.url])
            assert item.permission in perms, f"{item.label}: nav shows it by {item.permission}, route needs {perms}"


def test_static_css_is_served_locally_and_nothing_loads_from_elsewhere(client):
    r = client.get("/static/pxm.css")
    assert r.status_code == 200 and "text/css" in r.headers["content-type"]
    assert "@media print" in r.text and ":focus-visible" in r.text
    external = re.compile(r"""(src|href)=["']?(https?:)?//|@import|url\(\s*["']?(https?:)?//""")
    for path in list(Path(TEMPLATE_DIR).rglob("*.html")) + list(Path(STATIC_DIR).rglob("*.css")):
        assert not external.search(path.read_text()), f"{path} loads something from another site"


def test_unknown_page_gets_html_404(client, db):
    r = client.get("/no/such/page", headers=HTML)
    assert r.status_code == 404 and "Page not found" in r.text and "<main" in r.text



def test_the_pager_keeps_the_filter_and_the_page_size() -> None:
    """The links under every paged list (cases, escalations, audit events, users): only when there is more than
    a page, each way only where there is something, the list's filter kept, the page size when asked."""
    from pxm.platform.http.pagination import PageParams
    from pxm.web.pages import templates

    pager = templates.env.get_template("_pager.html").module.pager  # type: ignore[attr-defined]
    links = lambda html: re.findall(r'<a href="([^"]*)">(\w+)</a>', str(html))  # noqa: E731
    assert links(pager(PageParams(limit=50, offset=0), 50, "cases", "status=open")) == []
    assert links(pager(PageParams(limit=50, offset=0), 120, "cases", "status=open")) == [
        ("?status=open&amp;offset=50", "Older")]
    assert links(pager(PageParams(limit=50, offset=100), 120, "cases", "status=open")) == [
        ("?status=open&amp;offset=50", "Newer")]
    assert links(pager(PageParams(limit=20, offset=20), 60, "users", earlier="Previous", later="Next",
                       with_limit=True)) == [("?offset=0&amp;limit=20", "Previous"), ("?offset=40&amp;limit=20", "Next")]
    assert 'aria-label="Pages of users"' in str(pager(PageParams(limit=20, offset=0), 60, "users"))
