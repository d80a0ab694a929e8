"""The HTTP client under the `twilio` REST client: urllib3, one keep-alive pool.

twilio's own `TwilioHttpClient` goes through `requests`, which on every call rebuilds the
request (hooks, cookies, auth object), re-reads the proxy and CA settings from the
environment and wraps the response: about half the CPU of a delivered reply in `make bench`
(`docs/benchmarks.md`). Every call goes to one host with the same settings, so this client
settles them once and sends through urllib3 (the library `requests` itself sends with),
keeping the `twilio.http.HttpClient` contract the `twilio` client is written against.

`base_url` sends every call for a Twilio host (api.twilio.com, content.twilio.com) to
another host (local fakes, an egress gateway), paths unchanged; proxies (`HTTPS_PROXY`,
`NO_PROXY`) and the CA bundle (`REQUESTS_CA_BUNDLE`, as with `requests`, else certifi's)
come from the environment at start-up.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.request
from typing import Any
from urllib.parse import urlencode, urlsplit

import certifi
import urllib3
from twilio.http import HttpClient
from twilio.http.response import Response
from urllib3.exceptions import ProtocolError, ProxyError, TimeoutError

TWILIO_API = "https://api.twilio.com"
POOL_SIZE = 32  # connections kept per host: every web thread and deliverer can hold one
_JSON = ("application/json", "application/scim+json")
# Failures of the network on the way: the WhatsApp sender retries these at once.
NETWORK_ERRORS = (ProtocolError, TimeoutError, ProxyError)

log = logging.getLogger("twilio.http_client")


def pool_for(target: str) -> urllib3.PoolManager:
    """A pool for `target`'s host, through the environment's proxy for it, if any."""
    url = urlsplit(target)
    bypass = urllib.request.proxy_bypass(url.hostname or "")
    proxy = None if bypass else urllib.request.getproxies().get(url.scheme)
    options: dict[str, Any] = {
        "maxsize": POOL_SIZE,
        "retries": False,  # the sender retries (tenacity), with backoff and a log line
        "ca_certs": os.environ.get("REQUESTS_CA_BUNDLE") or certifi.where(),
    }
    return urllib3.ProxyManager(proxy, **options) if proxy else urllib3.PoolManager(**options)


class TwilioHttp(HttpClient):
    """Sends the `twilio` client's REST calls through one urllib3 pool."""

    def __init__(self, base_url: str = "", timeout: float = 10.0) -> None:
        super().__init__(log, is_async=False, timeout=timeout)
        self.base_url = base_url.rstrip("/")
        self.pool = pool_for(self.base_url or TWILIO_API)

    def request(
        self,
        method: str,
        uri: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        """One call, as `TwilioHttpClient.request` makes it; network failures raise
        urllib3's `HTTPError`s (`NETWORK_ERRORS` for the ones worth retrying)."""
        if self.base_url:  # every Twilio host (api., content.) answers at base_url
            url = urlsplit(uri)
            if url.hostname and url.hostname.endswith(".twilio.com"):
                uri = self.base_url + url.path + (f"?{url.query}" if url.query else "")
        if params:
            uri += "?" + urlencode(params, doseq=True)
        headers = dict(headers or {})
        if auth:
            headers.update(urllib3.make_headers(basic_auth=":".join(auth)))
        body: str | None = None
        if data is not None:
            if headers.get("Content-Type") in _JSON:
                body = json.dumps(data)
            else:
                body = urlencode(data, doseq=True)
                headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        response = self.pool.request(
            method.upper(),
            uri,
            body=body,
            headers=headers,
            timeout=timeout or self.timeout,
            redirect=allow_redirects,
        )
        log.debug("%s %s -> %s", method.upper(), uri, response.status)
        return Response(response.status, response.data.decode("utf-8", "replace"), response.headers)
