"""HTTP client for one repository on one registry endpoint, with docker-style auth.

Auth: a request answered ``401`` with ``WWW-Authenticate: Bearer realm=...,service=...`` makes the
client fetch a token from the realm (with basic credentials when configured, anonymously
otherwise) and retry; ``Basic`` challenges are answered with the configured credentials.
"""
from __future__ import annotations

import base64
import json
import logging
import re
import ssl
import urllib.error
import urllib.parse
import urllib.request
from http.client import HTTPResponse
from typing import IO, Any

from engine.errors import EngineError

log = logging.getLogger(__name__)
TIMEOUT = 60
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')


class RegistryError(EngineError):
    """The registry refused a request or could not be reached."""

    def __init__(self, message: str, *, step: str | None = None, obj: str | None = None,
                 status: int | None = None) -> None:
        super().__init__(message, step=step, obj=obj)
        self.status = status


def _handlers(ctx: ssl.SSLContext) -> list[urllib.request.BaseHandler]:
    """Connections from the host's network namespace, also rootless (a rootless command
    runs in its own network namespace: see engine.rootless.hostnet)."""
    from engine.rootless import detect

    if detect.in_user_namespace():
        from engine.rootless.hostnet import http_handlers

        return http_handlers(ctx)
    return [urllib.request.HTTPSHandler(context=ctx)]


class Client:
    """Talks to ``endpoint`` (``http://host:port`` or ``https://host``) about ``repo``."""

    def __init__(self, endpoint: str, repo: str, *, credentials: tuple[str, str] | None = None,
                 actions: str = "pull", insecure: bool = False) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.repo = repo
        self.credentials = credentials
        self.actions = actions
        # An insecure registry, like docker's: https without certificate checks, and plain
        # http when https cannot be spoken at all.
        self.insecure = insecure
        self._auth_header: str | None = None
        ctx = ssl.create_default_context()
        if insecure:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        self._opener = urllib.request.build_opener(*_handlers(ctx), _RedirectHandler())

    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return urllib.parse.urljoin(self.endpoint + "/", path.lstrip("/"))

    def request(self, method: str, path: str, *, headers: dict[str, str] | None = None,
                data: bytes | IO[bytes] | None = None, step: str = "registry request",
                obj: str | None = None) -> HTTPResponse:
        """Send a request, authenticating on a 401 challenge; raise RegistryError on failure."""
        url = self.url(path)
        authenticated = False
        for _ in range(3):
            hdrs = dict(headers or {})
            if self._auth_header:
                hdrs["Authorization"] = self._auth_header
            req = urllib.request.Request(url, data=data, headers=hdrs, method=method)
            try:
                return self._opener.open(req, timeout=TIMEOUT)  # type: ignore[no-any-return]
            except urllib.error.HTTPError as exc:
                challenge = exc.headers.get("WWW-Authenticate", "")
                if exc.code == 401 and not authenticated and challenge:
                    exc.close()
                    self._authenticate(challenge)
                    authenticated = True
                    _rewind(data)
                    continue
                raise self._error(exc, step, obj or url) from None
            except (urllib.error.URLError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                if self._fall_back_to_http(url):
                    url = "http://" + url.removeprefix("https://")
                    _rewind(data)
                    continue
                raise RegistryError(f"cannot reach registry {self.endpoint}: {reason}",
                                    step=step, obj=obj or url) from None
        raise RegistryError("authentication failed (still 401 after login)", step=step,
                            obj=obj or url, status=401)

    def _fall_back_to_http(self, url: str) -> bool:
        if not (self.insecure and self.endpoint.startswith("https://") and
                url.startswith(self.endpoint)):
            return False
        log.info("%s does not speak https; using http (insecure registry)", self.endpoint)
        self.endpoint = "http://" + self.endpoint.removeprefix("https://")
        return True

    def _error(self, exc: urllib.error.HTTPError, step: str, obj: str) -> RegistryError:
        try:
            body = exc.read(65536)
        except OSError:
            body = b""
        detail = _error_detail(body) or exc.reason
        hint = ""
        if exc.code == 401:
            hint = " (authentication required: add credentials to ~/.docker/config.json)"
        elif exc.code == 404:
            hint = " (not found)"
        return RegistryError(f"HTTP {exc.code}: {detail}{hint}", step=step, obj=obj,
                             status=exc.code)

    def _authenticate(self, challenge: str) -> None:
        scheme, _, params_text = challenge.partition(" ")
        params = dict(_CHALLENGE_PARAM.findall(params_text))
        if scheme.lower() == "basic":
            if not self.credentials:
                raise RegistryError("registry wants basic auth and no credentials are "
                                    "configured", step="authenticate", obj=self.endpoint,
                                    status=401)
            self._auth_header = "Basic " + _b64(*self.credentials)
            return
        if scheme.lower() != "bearer" or "realm" not in params:
            raise RegistryError(f"unsupported auth challenge {challenge!r}",
                                step="authenticate", obj=self.endpoint)
        self._auth_header = "Bearer " + self._fetch_token(params)

    def _fetch_token(self, params: dict[str, str]) -> str:
        scopes = [f"repository:{self.repo}:{self.actions}"]
        if params.get("scope") and params["scope"] not in scopes:
            scopes.append(params["scope"])
        query = [("scope", s) for s in scopes]
        if params.get("service"):
            query.insert(0, ("service", params["service"]))
        url = params["realm"] + ("&" if "?" in params["realm"] else "?") + \
            urllib.parse.urlencode(query)
        hdrs = {"Authorization": "Basic " + _b64(*self.credentials)} if self.credentials else {}
        try:
            with self._opener.open(urllib.request.Request(url, headers=hdrs),
                                   timeout=TIMEOUT) as resp:
                doc: dict[str, Any] = json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            raise self._error(exc, "fetch auth token", params["realm"]) from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise RegistryError(f"token endpoint failed: {exc}", step="fetch auth token",
                                obj=params["realm"]) from None
        token = doc.get("token") or doc.get("access_token")
        if not token:
            raise RegistryError("token endpoint answered without a token",
                                step="fetch auth token", obj=params["realm"])
        return str(token)


class _RedirectHandler(urllib.request.HTTPRedirectHandler):
    """Follow redirects (blob storage, CDNs) without leaking the registry token elsewhere."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and urllib.parse.urlsplit(newurl).netloc != \
                urllib.parse.urlsplit(req.full_url).netloc:
            new.remove_header("Authorization")
        return new


def _rewind(data: object) -> None:
    if hasattr(data, "seek"):
        data.seek(0)


def _b64(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def _error_detail(body: bytes) -> str:
    try:
        errors = json.loads(body).get("errors") or []
        return "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors)
    except (ValueError, AttributeError):
        return body.decode("utf-8", "replace")[:200]
