"""URLs as they may be published: without credentials and without signed-URL secrets.

A URL manifest may hold ``https://user:password@host/...`` or a signed URL (S3's
``X-Amz-Signature``, Google Cloud's ``X-Goog-Signature``, Azure's ``sig``, CloudFront's
``Signature``/``Policy``, ``token=``, ``access_token=``, ``api_key=``, ``key=``...). The full URL
is used to download; every place that records a URL (photo sidecars, which go into the packed
tars, the sources report, the card, Croissant) records ``public_url(url)``: scheme, host, port,
path and the query parameters not known to carry a secret; user name, password and fragment
dropped. ``redact_urls(text)`` does the same to every URL inside a message (a download error
names its URL).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Query parameter names (lower case) that carry a secret or a signature.
SECRET_PARAMS = frozenset(
    {
        "sig", "signature", "token", "access_token", "id_token", "refresh_token", "auth",
        "authorization", "api_key", "apikey", "key", "secret", "client_secret", "password",
        "passwd", "pwd", "policy", "key-pair-id", "awsaccesskeyid", "credential", "session",
        "sessionid", "code", "sv", "se", "sp", "spr", "srt", "ss", "st", "skoid", "sktid", "skt",
        "ske", "sks", "skv", "expires",
    }
)  # fmt: skip
# ... and names that hold one of these words, or a provider's signing prefix.
_SECRET_NAME = re.compile(
    r"^(x-amz-|x-goog-|x-ms-)|token|secret|passw|signature|api[_-]?key|access[_-]?key|credential"
)
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")


def _secret(name: str) -> bool:
    name = name.lower()
    return name in SECRET_PARAMS or _SECRET_NAME.search(name) is not None


def public_url(url: str | None) -> str | None:
    """``url`` without user name, password, fragment and secret query parameters (``None`` and
    text that is not a URL with a host pass unchanged, less anything before an ``@``)."""
    if not url:
        return url
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError:  # not a URL one can split: keep no part that may hold a secret
        return url.split("?", 1)[0].split("#", 1)[0].rsplit("@", 1)[-1]
    if not parts.scheme or host is None:
        return url.split("?", 1)[0].split("#", 1)[0]
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _secret(k)]
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(kept), ""))


def redact_urls(text: str) -> str:
    """``text`` with every URL in it replaced by its ``public_url``."""
    return _URL_IN_TEXT.sub(_public_match, text)


def _public_match(match: re.Match[str]) -> str:
    url = match.group(0)
    trail = len(url) - len(url.rstrip(".,;:!?)]}"))
    url, tail = (url[:-trail], url[-trail:]) if trail else (url, "")
    return (public_url(url) or "") + tail
