"""Small WSGI helpers shared by the local-aws bridges.

Every bridge is a WSGI middleware in front of moto's own application: it either answers
a request itself or hands the (possibly re-wound) request on to moto unchanged.
"""

from __future__ import annotations

import io
import json
import os
import re
import uuid
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WsgiApp = Callable[[Environ, StartResponse], Iterable[bytes]]

DEFAULT_REGION = "us-east-1"
_CREDENTIAL_SCOPE = re.compile(r"Credential=([^/,\s]+)/\d{8}/([a-z0-9-]+)/")

_REASONS = {
    200: "OK",
    202: "Accepted",
    204: "No Content",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Request Entity Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
}


def status_line(code: int) -> str:
    return f"{code} {_REASONS.get(code, 'Unknown')}"


def read_body(environ: Environ) -> bytes:
    """Read the request body and rewind it so moto can read it again if we pass on."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def query_params(environ: Environ) -> dict[str, str]:
    """First value of each query-string parameter."""
    parsed = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    return {key: values[0] for key, values in parsed.items()}


def request_region(environ: Environ) -> str:
    """The region the client signed for (SigV4 credential scope), as moto infers it."""
    match = _CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    return match.group(2) if match else DEFAULT_REGION


def request_account(environ: Environ) -> str:
    """The account moto would attribute this request to (same precedence as moto)."""
    if "MOTO_ACCOUNT_ID" in os.environ:
        return os.environ["MOTO_ACCOUNT_ID"]
    if environ.get("HTTP_X_MOTO_ACCOUNT_ID"):
        return str(environ["HTTP_X_MOTO_ACCOUNT_ID"])
    from moto.iam.models import get_account_id_from

    match = _CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    return get_account_id_from(match.group(1) if match else "AKIAEXAMPLE")


def new_request_id() -> str:
    return str(uuid.uuid4())


def respond(
    start_response: StartResponse,
    code: int,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    content_type: str | None = "application/json",
) -> list[bytes]:
    merged = {"x-amzn-RequestId": new_request_id()}
    if content_type and code != 204:
        merged["Content-Type"] = content_type
    merged.update(headers or {})
    merged["Content-Length"] = str(len(body))
    start_response(status_line(code), list(merged.items()))
    return [body]


def respond_json(
    start_response: StartResponse,
    code: int,
    doc: Any,
    headers: dict[str, str] | None = None,
) -> list[bytes]:
    return respond(start_response, code, json.dumps(doc).encode(), headers)


def rest_json_error(start_response: StartResponse, code: int, error_type: str, message: str) -> list[bytes]:
    """An error shaped like the Lambda (restJson1) service answers it."""
    doc = {"Type": "User" if code < 500 else "Service", "message": message}
    return respond_json(start_response, code, doc, {"x-amzn-ErrorType": error_type})
