"""Who may use `grounded serve`: UI logins (Gradio's login form), an API bearer token, loopback-only otherwise.

    access = Access.from_settings(settings)        # GROUNDED_AUTH / --auth, --auth-file, GROUNDED_API_TOKEN
    check_exposure(settings.host, access, settings.insecure_no_auth)   # refuse 0.0.0.0 with no auth
    app.launch(auth=access.gradio_auth(), app_kwargs={"middleware": [access.middleware()]})

Gradio's own `auth` checks its login cookie on most routes but not all (heartbeat, reset, cancel,
stream, run history, …), and knows no bearer token. `AccessGate` is an ASGI middleware inside
Gradio's app that answers 401 on every route unless the request carries a valid login cookie or
`Authorization: Bearer <token>`; only what the login form itself needs is public. A bearer request
is given a server-side login session, so Gradio's own checks pass for it too.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import secrets
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.errors import ConfigError

API_USER = "api:bearer"  # the session name bearer requests run as (no login can have ':' in its name)
# What a browser needs to show the login form (the page, its scripts and styles) and to post it.
PUBLIC_EXACT = frozenset(
    {"/", "/login", "/login/", "/logout", "/favicon.ico", "/theme.css", "/manifest.json", "/robots.txt"}
)
PUBLIC_PREFIXES = ("/assets/", "/static/", "/svelte/", "/gradio_api/theme.css", "/pwa_icon")
PUBLIC_API = frozenset({"/gradio_api/login_check", "/gradio_api/login_check/"})  # answers 401 itself
# Gradio's launch() calls this itself, without credentials, to run the startup events once; it returns a bool.
ALWAYS_PUBLIC = frozenset({"/gradio_api/startup-events"})
_WARNED: set[str] = set()  # hosts already warned about in this process (--insecure-no-auth)


def parse_logins(entries: Iterable[str], where: str) -> dict[str, str]:
    """{user: password} from "user:password" entries (blank entries and `#` comments skipped)."""
    users: dict[str, str] = {}
    for raw in entries:
        entry = raw.strip()
        if not entry or entry.startswith("#"):
            continue
        user, sep, password = entry.partition(":")
        user = user.strip()
        if not sep or not user or not password:
            raise ConfigError(
                f"{where}: {entry.split(':')[0][:40]!r} is not user:password: give each login as user:password"
            )
        users[user] = password
    return users


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost (what only this machine can reach)."""
    if host.strip().lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Access:
    """The UI logins and the API token the server accepts (both empty: no check at all)."""

    users: Mapping[str, str] = field(default_factory=dict, repr=False)
    token: str | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: Any) -> Access:
        """Logins from `auth` ("u:p,u2:p2") and `auth_file`; the token from `api_token`."""
        users: dict[str, str] = {}
        if settings.auth is not None:
            users |= parse_logins(settings.auth.get_secret_value().split(","), "--auth / GROUNDED_AUTH")
        if settings.auth_file is not None:
            path = Path(settings.auth_file).expanduser()
            try:
                lines = path.read_text(encoding="utf-8").splitlines()
            except OSError as e:
                raise ConfigError(f"cannot read the auth file {path}: {e.strerror}: check --auth-file") from None
            found = parse_logins(lines, f"auth file {path}")
            if not found:
                raise ConfigError(f"auth file {path} holds no logins: write one user:password per line")
            users |= found
        token = settings.api_token.get_secret_value().strip() if settings.api_token is not None else None
        if token is not None and len(token) < 16:
            raise ConfigError(
                "the API token is too short (under 16 characters): make one with "
                "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
            )
        return cls(users, token or None)

    @property
    def required(self) -> bool:
        return bool(self.users or self.token)

    def gradio_auth(self) -> list[tuple[str, str]] | None:
        """The logins for Gradio's login form (None: no form)."""
        return list(self.users.items()) or None

    def token_ok(self, header: str | None) -> bool:
        """True when an Authorization header carries this server's bearer token (constant-time compare)."""
        if not self.token or not header:
            return False
        scheme, _, value = header.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), self.token.encode())

    def middleware(self) -> Any:
        """The Starlette `Middleware` entry that puts `AccessGate` in front of every route."""
        from starlette.middleware import Middleware

        return Middleware(AccessGate, access=self)


def check_exposure(host: str, access: Access, insecure_no_auth: bool) -> None:
    """Refuse a non-loopback address without logins or a token, unless `--insecure-no-auth` (then warn)."""
    if is_loopback(host) or access.required:
        return
    if not insecure_no_auth:
        raise ConfigError(
            f"refusing to serve {host} without authentication: anyone on the network could read every document. "
            "Add --auth user:password (or GROUNDED_AUTH, --auth-file FILE) and/or GROUNDED_API_TOKEN, "
            "use --host 127.0.0.1, or pass --insecure-no-auth"
        )
    if host in _WARNED:  # `grounded serve` checks before loading, launch() again: one warning is enough
        return
    _WARNED.add(host)
    print(
        f"grounded: WARNING: serving {host} with no authentication (--insecure-no-auth): anyone who can reach "
        "this port can read every document, upload files and use the API",
        file=sys.stderr,
    )


class AccessGate:
    """ASGI middleware: 401 unless a valid login cookie or bearer token (login form assets excepted)."""

    def __init__(self, app: Any, access: Access) -> None:
        self.app = app
        self.access = access
        self._api_session = secrets.token_urlsafe(32)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket") or not self.access.required:
            await self.app(scope, receive, send)
            return
        gradio = scope.get("app")  # Gradio's App: its login sessions and cookie name
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if self.access.token_ok(headers.get("authorization")):
            if gradio is not None and self.access.users:  # let Gradio's own login checks pass for it
                gradio.tokens[self._api_session] = API_USER
                cookie = f"access-token-unsecure-{gradio.cookie_id}={self._api_session}"
                old = headers.get("cookie")
                rest = [(k, v) for k, v in scope["headers"] if k.lower() != b"cookie"]
                scope = {**scope, "headers": [*rest, (b"cookie", (f"{old}; {cookie}" if old else cookie).encode())]}
            await self.app(scope, receive, send)
            return
        if self._logged_in(gradio, headers.get("cookie", "")) or self._public(scope["path"]):
            await self.app(scope, receive, send)
            return
        await self._deny(scope, receive, send)

    def _public(self, path: str) -> bool:
        """What the login form needs; nothing at all when there are no logins (token-only: API only)."""
        if path in ALWAYS_PUBLIC:
            return True
        if not self.access.users:
            return False
        return path in PUBLIC_EXACT or path in PUBLIC_API or path.startswith(PUBLIC_PREFIXES)

    def _logged_in(self, gradio: Any, cookie_header: str) -> bool:
        if gradio is None or not self.access.users:
            return False
        from starlette.requests import cookie_parser  # lenient, as Gradio's own: one odd cookie spoils nothing

        jar = cookie_parser(cookie_header)
        for name in (f"access-token-{gradio.cookie_id}", f"access-token-unsecure-{gradio.cookie_id}"):
            value = jar.get(name)
            user = gradio.tokens.get(value) if value else None
            if user is not None and user != API_USER:
                return True
        return False

    async def _deny(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        how = "log in at / or send " if self.access.users else "send "
        detail = f"Not authenticated: {how}'Authorization: Bearer <GROUNDED_API_TOKEN>'"
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": "Not authenticated"})
            return
        body = json.dumps({"detail": {"error": "Not authenticated", "auth_message": detail}}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", b'Bearer realm="grounded"'),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
