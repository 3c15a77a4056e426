"""Nobody gets in who shouldn't: logins, the API token, the loopback rule and file serving, against a real
`grounded serve` (one server with logins from GROUNDED_AUTH and --auth-file plus GROUNDED_API_TOKEN, one
token-only server on 0.0.0.0, and the shared no-auth loopback server)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rag.errors import ConfigError
from rag.settings import Settings, build_settings
from tests.conftest import DEMO_FILES, clean_env
from tests.ui import gradio_http as gh
from tests.ui.conftest import GROUNDED, _serving
from ui.access import Access, check_exposure, is_loopback, parse_logins

TOKEN = "test-token-0123456789abcdef"
LOGINS = {"alice": "wonder-land", "bob": "b:with:colons"}  # from GROUNDED_AUTH
FILE_LOGIN = ("carol", "from the file")  # from --auth-file
BEARER = {"Authorization": f"Bearer {TOKEN}"}
LECTURE = "Who gave the lecture at the Politburo study session on AI?"


@pytest.fixture(scope="module")
def auth_server(demo_index: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    work = tmp_path_factory.mktemp("auth_server")
    users = work / "users.txt"
    users.write_text(f"# logins\n\n{FILE_LOGIN[0]}:{FILE_LOGIN[1]}\n", encoding="utf-8")
    env = {"GROUNDED_AUTH": ",".join(f"{u}:{p}" for u, p in LOGINS.items()), "GROUNDED_API_TOKEN": TOKEN}
    with _serving(demo_index.index, work, args=["--auth-file", str(users)], env=env) as url:
        yield url


@pytest.fixture(scope="module")
def token_server(demo_index: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Token only, bound to every interface: allowed (a token is auth), the browser UI is closed."""
    work = tmp_path_factory.mktemp("token_server")
    with _serving(
        demo_index.index, work, env={"GROUNDED_API_TOKEN": TOKEN}, host="0.0.0.0", probe="gradio_api/startup-events"
    ) as url:
        yield url


def status(method: str, url: str, headers: dict[str, str] | None = None, **kw: Any) -> tuple[int, str]:
    with gh.client(headers) as c:
        r = c.request(method, url, **kw)
        return r.status_code, r.text


def every_endpoint(url: str) -> list[tuple[str, str, dict[str, Any]]]:
    """Each route of the app, with a plausible request (event 5 is the upload: see /config)."""
    join = {"data": [None], "fn_index": 5, "session_hash": "s1", "trigger_id": None, "event_data": None}
    files = {"files": ("notes.txt", b"hello")}
    return [
        ("GET", url + "config", {}),
        ("GET", url + "gradio_api/info", {}),
        ("GET", url + "gradio_api/openapi.json", {}),
        ("POST", url + "gradio_api/queue/join", {"json": join}),
        ("POST", url + "gradio_api/queue/join", {"json": {**join, "fn_index": 11, "data": [LECTURE, False, []]}}),
        ("GET", url + "gradio_api/queue/data?session_hash=s1", {}),
        ("POST", url + "gradio_api/upload", {"files": files}),
        ("GET", url + "gradio_api/upload_progress?upload_id=x", {}),
        ("POST", url + "gradio_api/call/ask", {"json": {"data": [LECTURE, False, []]}}),
        ("GET", url + "gradio_api/call/ask/abc", {}),
        ("POST", url + "gradio_api/run/ask", {"json": {"data": [LECTURE, False, []]}}),
        ("GET", url + "gradio_api/file=/etc/passwd", {}),
        ("GET", url + f"gradio_api/file={DEMO_FILES[0]}", {}),
        ("GET", url + "gradio_api/heartbeat/s1", {}),
        ("POST", url + "gradio_api/reset", {"json": {"event_id": "x"}}),
        ("POST", url + "gradio_api/cancel", {"json": {"event_id": "x", "session_hash": "s1", "fn_index": 5}}),
        ("GET", url + "gradio_api/runs", {}),
        ("GET", url + "gradio_api/run-history/records", {}),
        ("GET", url + "gradio_api/vibe-code", {}),
        ("GET", url + "gradio_api/token", {}),
        ("GET", url + "gradio_api/user", {}),
        ("GET", url + "gradio_api/app_id", {}),
        ("GET", url + "monitoring", {}),
        ("GET", url + "gradio_api/mcp/sse", {}),
    ]


# --- settings and the rules, without a server ----------------------------------------------------------------
def test_logins_from_flags_env_and_file(tmp_path: Path) -> None:
    users = tmp_path / "users"
    users.write_text("# team\ncarol:pw:3\n\n  dave:pw4  \n", encoding="utf-8")
    s = build_settings(auth="alice:pw1,bob:pw2", auth_file=users, api_token=TOKEN)
    access = Access.from_settings(s)
    assert dict(access.users) == {"alice": "pw1", "bob": "pw2", "carol": "pw:3", "dave": "pw4"}
    assert access.token == TOKEN and access.required
    assert "pw1" not in repr(s) and TOKEN not in repr(s) and "pw1" not in repr(access)  # secrets never printed
    assert access.token_ok(f"Bearer {TOKEN}") and access.token_ok(f"bearer {TOKEN}")
    assert not access.token_ok(f"Bearer {TOKEN}x") and not access.token_ok(TOKEN) and not access.token_ok(None)
    # the CLI's repeated --auth flags land in the same setting
    from ui.cli import _parser

    args = _parser().parse_args(["serve", "--auth", "a:1", "--auth", "b:2"])
    assert args.auth == ["a:1", "b:2"]


@pytest.mark.parametrize("bad", ["alice", "alice:", ":pw", "  :  "])
def test_a_login_without_user_or_password_is_refused(bad: str) -> None:
    with pytest.raises(ConfigError, match="user:password"):
        parse_logins([bad], "--auth")


def test_short_token_and_empty_or_missing_auth_file_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="too short"):
        Access.from_settings(build_settings(api_token="short"))
    empty = tmp_path / "empty"
    empty.write_text("# nobody\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="no logins"):
        Access.from_settings(build_settings(auth_file=empty))
    with pytest.raises(ConfigError, match="cannot read the auth file"):
        Access.from_settings(build_settings(auth_file=tmp_path / "missing"))


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.0.0.2", True), ("localhost", True), ("::1", True), ("0.0.0.0", False),
     ("::", False), ("192.168.1.5", False), ("example.org", False)],
)  # fmt: skip
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_exposure_rule(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ui.access._WARNED", set())  # the warning is printed once per host and process
    check_exposure("127.0.0.1", Access(), insecure_no_auth=False)  # loopback: fine without auth
    check_exposure("0.0.0.0", Access(token=TOKEN), insecure_no_auth=False)
    check_exposure("0.0.0.0", Access(users={"a": "b"}), insecure_no_auth=False)
    assert capsys.readouterr().err == ""
    with pytest.raises(ConfigError, match=r"--auth user:password.*--insecure-no-auth"):
        check_exposure("0.0.0.0", Access(), insecure_no_auth=False)
    check_exposure("0.0.0.0", Access(), insecure_no_auth=True)
    assert "WARNING" in capsys.readouterr().err
    check_exposure("0.0.0.0", Access(), insecure_no_auth=True)  # `grounded serve` then launch(): once is enough
    assert capsys.readouterr().err == ""


def test_serve_refuses_a_public_address_without_auth_at_once(tmp_path: Path) -> None:
    """One line with the fix, exit 2, before any model loads or anything is written."""
    index = tmp_path / "never-made"
    proc = subprocess.run(
        [str(GROUNDED), "serve", "--host", "0.0.0.0", "--port", "0", "--index", str(index)],
        capture_output=True, text=True, env=clean_env(), timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "refusing to serve 0.0.0.0 without authentication" in lines[0]
    assert "--auth" in lines[0] and "--insecure-no-auth" in lines[0]
    assert not index.exists() and proc.stdout == ""


class _FakeGradio:
    """What AccessGate reads of Gradio's App: its cookie id and login sessions."""

    def __init__(self) -> None:
        self.tokens = {"session-of-alice": "alice"}
        self.cookie_id = "abc123"


def _gate_status(cookie: str) -> int:
    """The status AccessGate answers for GET /config carrying `cookie` (200: passed through to the app)."""
    import asyncio

    from ui.access import AccessGate

    sent: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    gate = AccessGate(app, Access(users=dict(LOGINS)))
    scope = {"type": "http", "path": "/config", "app": _FakeGradio(), "headers": [(b"cookie", cookie.encode())]}
    asyncio.run(gate(scope, receive, send))
    return sent[0]["status"]


@pytest.mark.parametrize("other", ['foo={"a":1}', "path=C:\\temp\\x", 'theme="dark', "=novalue", "a b=c", "plain"])
def test_an_unrelated_odd_cookie_does_not_log_a_user_out(other: str) -> None:
    login = "access-token-abc123=session-of-alice"
    assert _gate_status(f"{other}; {login}") == 200
    assert _gate_status(f"{login}; {other}") == 200
    assert _gate_status(other) == 401
    assert _gate_status(f"{other}; access-token-abc123=forged") == 401


# --- the login server ----------------------------------------------------------------------------------------
@pytest.mark.slow
def test_without_credentials_every_endpoint_is_refused(auth_server: str) -> None:
    for method, url, kw in every_endpoint(auth_server):
        code, body = status(method, url, **kw)
        assert code in (401, 403), f"{method} {url} -> {code}: {body[:200]}"
        assert "Zheng" not in body and "root:" not in body
    for bad in ({"Authorization": f"Bearer {TOKEN[:-1]}"}, {"Authorization": "Basic YWxpY2U6d29uZGVyLWxhbmQ="},
                {"Cookie": "access-token-x=y; access-token-unsecure-x=y"}):  # fmt: skip
        for method, url, kw in every_endpoint(auth_server)[:9]:
            code, _ = status(method, url, bad, **kw)
            assert code in (401, 403), f"{method} {url} with {bad} -> {code}"


@pytest.mark.slow
def test_the_login_page_is_all_an_anonymous_visitor_gets(auth_server: str) -> None:
    code, body = status("GET", auth_server)
    assert code == 200 and '"auth_required":true' in body.replace(" ", "")
    for secret in ("Zheng Nanning", str(DEMO_FILES[0].parent), "Politburo study session on AI?"):
        assert secret not in body  # no document text, no server path, not even the examples


@pytest.mark.slow
def test_the_token_opens_the_http_api_and_gradio_client(auth_server: str) -> None:
    from gradio_client import Client

    data = gh.ask(auth_server, LECTURE, BEARER)
    assert "Zheng Nanning" in data["answer"] and data["citations"]
    assert all("/" not in c["source"] for c in data["citations"])  # names, not server paths
    client = Client(auth_server, headers=BEARER, verbose=False)
    assert "Zheng Nanning" in client.predict(LECTURE, False, [], api_name="/ask")["answer"]
    code, _ = status("GET", auth_server + "config", BEARER)
    assert code == 200
    code, _ = status("POST", auth_server + "gradio_api/upload", BEARER, files={"files": ("n.txt", b"hi")})
    assert code == 200


@pytest.mark.slow
@pytest.mark.parametrize("login", [("alice", LOGINS["alice"]), ("bob", LOGINS["bob"]), FILE_LOGIN])
def test_each_login_opens_the_app(auth_server: str, login: tuple[str, str]) -> None:
    from gradio_client import Client

    client = Client(auth_server, auth=login, verbose=False)
    assert "Zheng Nanning" in client.predict(LECTURE, False, [], api_name="/ask")["answer"]


@pytest.mark.slow
@pytest.mark.parametrize("login", [("alice", "wrong"), ("mallory", LOGINS["alice"]), ("api:bearer", TOKEN)])
def test_a_wrong_login_is_refused(auth_server: str, login: tuple[str, str]) -> None:
    from gradio_client import Client

    code, _ = status("POST", auth_server + "login", data={"username": login[0], "password": login[1]})
    assert code == 400
    with pytest.raises(ValueError, match="Could not login"):
        Client(auth_server, auth=login, verbose=False)


@pytest.mark.slow
def test_token_only_server_on_every_interface(token_server: str) -> None:
    """0.0.0.0 with a token is allowed; the API needs the token, and there is no login page to get past."""
    for method, url, kw in [("GET", token_server, {}), *every_endpoint(token_server)[:12]]:
        code, body = status(method, url, **kw)
        assert code in (401, 403), f"{method} {url} -> {code}: {body[:200]}"
    assert "Zheng Nanning" in gh.ask(token_server, LECTURE, BEARER)["answer"]


# --- file serving ---------------------------------------------------------------------------------------------
def traversals(temp_file: str) -> list[str]:
    """Ways to ask for /etc/passwd and the index through Gradio's file routes, from a real upload's temp path."""
    temp = Path(temp_file).parent
    up = "../" * (len(temp.parts) + 2)
    return [
        "gradio_api/file=/etc/passwd",
        "gradio_api/file=//etc/passwd",
        "gradio_api/file=%2Fetc%2Fpasswd",
        "gradio_api/file=%252Fetc%252Fpasswd",
        f"gradio_api/file={up}etc/passwd",
        f"gradio_api/file={up.replace('/', '%2F')}etc%2Fpasswd",
        f"gradio_api/file={temp}/../../../../../../etc/passwd",
        f"gradio_api/file={temp}/%2E%2E/%2E%2E/%2E%2E/%2E%2E/%2E%2E/etc/passwd",
        f"gradio_api/file={temp}/..%2F..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd",
        "gradio_api/file/etc/passwd",
        f"gradio_api/file={DEMO_FILES[0]}",
        f"gradio_api/file={Path(os.environ['HOME'])}",
        "gradio_api/file=file:///etc/passwd",
        "gradio_api/file=http://127.0.0.1:1/x",  # no server-side fetching of loopback URLs either
    ]


def _check_files(url: str, headers: dict[str, str] | None, index: Path) -> None:
    content = b"my own upload, served back"
    (temp_file,) = gh.upload(url, [("mine.txt", content)], headers)
    with gh.client(headers) as c:
        own = c.get(url + f"gradio_api/file={temp_file}")
        assert own.status_code == 200 and own.content == content  # the route works: the refusals below mean it
        paths = [*traversals(temp_file), f"gradio_api/file={index / 'manifest.json'}"]
        for path in paths:
            r = c.get(url + path)
            assert r.status_code in (400, 403, 404), f"{path} -> {r.status_code}: {r.text[:200]}"
            assert b"root:" not in r.content and b"embedding_model" not in r.content and b"Politburo" not in r.content


@pytest.mark.slow
def test_files_outside_the_temp_folder_are_never_served(
    auth_server: str, served_app: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    auth_index = Path(tmp_path_factory.getbasetemp()) / "auth_server0" / "index"
    _check_files(auth_server, BEARER, auth_index)  # logged in
    _check_files(served_app, None, Path(tmp_path_factory.getbasetemp()) / "served_app0" / "index")  # no auth
    for path in traversals("/tmp/x/y"):  # and without credentials, nothing at all
        code, body = status("GET", auth_server + path)
        assert code == 401 and "root:" not in body


# --- a browser through the login form ---------------------------------------------------------------------
@pytest.mark.browser
@pytest.mark.slow
def test_browser_login_then_a_markdown_question_stays_text(auth_server: str, page: Any) -> None:
    from playwright.sync_api import expect

    from tests.ui.conftest import shot

    page.goto(auth_server, wait_until="load")
    page.get_by_label("username").fill("alice")
    page.get_by_label("password").fill(LOGINS["alice"])
    shot(page, "login")
    page.get_by_role("button", name="Login").click()
    box = page.get_by_placeholder("Ask a question about the documents…")
    expect(box).to_be_visible(timeout=60_000)
    question = "[click me](javascript:alert(document.cookie)) **bold** <img src=x onerror=alert(1)>"
    box.fill(question)
    page.locator("#g-ask").click()
    bubble = page.locator('#g-chat [data-testid="user"]').last
    expect(bubble).to_contain_text("[click me](javascript:alert(document.cookie))", timeout=60_000)
    assert bubble.locator("a, img, strong, script").count() == 0  # no link, no image, no bold: the text as typed
    assert " ".join(bubble.inner_text().split()) == " ".join(question.split())
    expect(page.locator('#g-chat [data-testid="bot"] .g-answer, #g-chat .g-error').last).to_be_visible(timeout=180_000)
    shot(page, "login_markdown_question")
