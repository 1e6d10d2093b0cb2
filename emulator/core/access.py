"""Who may call the admin API (`/_emulator/*`, the dashboard included). Vendor paths stay open, as the
vendors' own are: their own credentials guard them.

Three checks run before any admin view, each refusal in the admin envelope `{"error", "errors"}`:

1. Host (DNS rebinding): a web page whose name an attacker re-points at this machine reaches the port
   with its own name in `Host`. Accepted: `localhost`, loopback addresses, the address the server is
   bound to, the names given with `--allowed-host` (`*`: any); bound to every interface (0.0.0.0 or
   ::), also this machine's host name and any address of its own. Else 403. A name is what a
   rebinding attack needs, so this is what closes it. (A request with no `Host` at all, HTTP/1.0,
   comes from no browser and passes.)
2. `--admin-auth USER:PASSWORD`: HTTP Basic, compared in constant time. Else 401 with
   `WWW-Authenticate`.
3. State-changing calls (POST, PUT, PATCH, DELETE) from a browser on another origin: an `Origin` that
   is not this server's own is 403; and a body in one of the types any web page may send to any site
   without asking (text/plain, application/x-www-form-urlencoded, multipart/form-data) is 415. YAML
   (`application/yaml`, `application/x-yaml`, `text/yaml`) and JSON are not such types: a browser
   asks first (a CORS preflight), which this server never grants.

`GET /_emulator/health` passes all three: Docker's and Kubernetes' health checks call it by whatever
name or address they have, without a secret, and it answers `{"status": "ok"}` and nothing else.
"""
from __future__ import annotations

import hmac
import ipaddress
import socket
from dataclasses import dataclass

from flask import Response, jsonify, request

from ..settings import check_allowed_host, parse_admin_auth

REALM = "report-emulator admin"
LOOPBACK_NAMES = ("localhost",)
STATE_CHANGING = ("POST", "PUT", "PATCH", "DELETE")
# The request body types of a "simple" cross-origin request: a browser sends them anywhere unasked.
CROSS_SITE_TYPES = ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data")
OPEN_PATHS = ("/_emulator/health",)  # GET only: health checks, open to anyone (it tells nothing but "ok")
WILDCARD_ADDRESSES = ("0.0.0.0", "::", "")
MAX_NAME = 253  # the longest DNS name: a refused Host is quoted in the answer up to this many characters


def normal_host(text: str) -> str:
    """A Host header's or --allowed-host's name without its port, brackets or final dot, in lower case."""
    text = text.strip().lower()
    if text.startswith("["):  # [::1]:8080
        return text[1:text.find("]")] if "]" in text else text
    if text.count(":") == 1:  # name:port or v4:port (an IPv6 address without brackets has more colons)
        text = text.partition(":")[0]
    return text.rstrip(".")


def _address(text: str):
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _own_address(address) -> bool:
    """Whether this machine has the address (it could listen on it)."""
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.bind((str(address), 0))
    except OSError:
        return False
    return True


@dataclass(frozen=True)
class AdminAccess:
    """The admin API's gate, made once from the settings (nothing in it changes while serving)."""

    bound: str  # the address or name the server listens on
    allowed: frozenset[str]  # --allowed-host names, normalised; "*" is any
    user: str | None = None
    password: str | None = None
    host_name: str = ""  # this machine's host name (accepted when bound to every interface)

    @classmethod
    def from_settings(cls, settings) -> "AdminAccess":
        user = password = None
        if getattr(settings, "admin_auth", None):
            user, password = parse_admin_auth(settings.admin_auth)
        allowed = frozenset(check_allowed_host(h) for h in getattr(settings, "allowed_hosts", None) or ())
        bound = settings.host.strip().strip("[]").lower().rstrip(".")
        address = _address(bound)
        return cls(bound=str(address) if address is not None else bound, allowed=allowed, user=user,
                   password=password, host_name=socket.gethostname().lower() if bound in WILDCARD_ADDRESSES else "")

    def host_accepted(self, host: str) -> bool:
        if "*" in self.allowed or host in self.allowed or host in LOOPBACK_NAMES or host == self.bound:
            return True
        address = _address(host)
        if address is not None:
            if address.is_loopback or str(address) in self.allowed or str(address) == self.bound:
                return True
            return self.bound in WILDCARD_ADDRESSES and _own_address(address)
        return bool(self.host_name) and host in (self.host_name, self.host_name.split(".")[0])

    def credentials_match(self) -> bool:
        given = request.authorization
        if given is None or given.type != "basic":
            return False
        user_ok = hmac.compare_digest((given.username or "").encode(), self.user.encode())
        password_ok = hmac.compare_digest((given.password or "").encode(), self.password.encode())
        return user_ok & password_ok

    def refusal(self) -> Response | None:
        """The answer that refuses this admin request, or None to let it through."""
        if request.method == "GET" and request.path in OPEN_PATHS:
            return None
        raw_host = request.headers.get("Host")
        if raw_host is not None and not self.host_accepted(normal_host(raw_host)):
            host = normal_host(raw_host)[:MAX_NAME]
            return _refuse(403, "Host", f"the admin API does not answer to the host name {host!r} (a defence against "
                           f"DNS rebinding); start the emulator with --allowed-host {host} "
                           f"(EMULATOR_ALLOWED_HOST) if that name is yours")
        if self.user is not None and not self.credentials_match():
            given = request.authorization is not None
            message = ("wrong user or password for the admin API (--admin-auth)" if given else
                       "the admin API needs HTTP Basic authentication: this emulator runs with --admin-auth")
            response = _refuse(401, "Authorization", message)
            response.headers["WWW-Authenticate"] = f'Basic realm="{REALM}", charset="UTF-8"'
            return response
        if request.method in STATE_CHANGING:
            origin = request.headers.get("Origin")
            if origin is not None and not _same_origin(origin, raw_host):
                return _refuse(403, "Origin", f"the admin API refuses {request.method} from a web page on another "
                               f"origin ({origin}); call it from a script, a test or the dashboard itself")
            mimetype = (request.mimetype or "").lower()
            if mimetype in CROSS_SITE_TYPES:
                return _refuse(415, "Content-Type", f"the admin API refuses {request.method} with Content-Type "
                               f"{mimetype}, which any web page can send to any site; send application/json "
                               "(or YAML as application/yaml to PUT /_emulator/scenario)")
        return None


def _same_origin(origin: str, host: str | None) -> bool:
    """Whether Origin (scheme://host[:port]) names the host:port this request was sent to."""
    scheme, sep, netloc = origin.strip().lower().partition("://")
    if not sep or host is None:
        return False  # "null" (a sandboxed page, a file) or no Host to compare with
    default = {"http": ":80", "https": ":443"}.get(scheme, "")
    host = host.strip().lower()
    return netloc in (host, host.removesuffix(default)) or netloc.removesuffix(default) == host


def _refuse(status: int, field: str, message: str) -> Response:
    response = jsonify({"error": message, "errors": {field: [message]}})
    response.status_code = status
    return response
