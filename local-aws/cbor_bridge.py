"""Smithy RPC v2 CBOR in front of moto's AWS JSON 1.0 protocol.

The Rust aws-sdk-cloudwatch speaks only Smithy RPC v2 CBOR:

    POST /service/GraniteServiceVersion20100801/operation/<Operation>
    smithy-protocol: rpc-v2-cbor
    Content-Type: application/cbor          Accept: application/cbor
    body: CBOR map; timestamps are CBOR tag 1 + float64 epoch seconds, blobs are byte strings

moto 5.2.5 serves CloudWatch over Query and JSON only. This middleware decodes the CBOR
request into the equivalent JSON document, replays it through moto as
`X-Amz-Target: GraniteServiceVersion20100801.<Operation>`, and encodes moto's JSON answer
back to CBOR, typed by the botocore service model (timestamps -> tag 1 float, doubles ->
float, blobs -> bytes). Errors keep their HTTP status, become `{"__type": "<ns>#<Shape>",
"message": ...}` and keep the awsQueryCompatible header `x-amzn-query-error: Code;Sender`
that the SDK uses to pick the error variant.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import re
import threading
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import cbor2

from wsgi_util import Environ, StartResponse, WsgiApp, new_request_id, read_body, status_line


@dataclass(frozen=True)
class CborService:
    botocore_name: str
    shape_namespace: str


# Smithy service shape name (the URI segment) -> service. Add entries as the project needs them;
# moto must serve the service over AWS JSON 1.0 for the bridge to work.
SERVICES: dict[str, CborService] = {
    "GraniteServiceVersion20100801": CborService("cloudwatch", "com.amazonaws.cloudwatch"),
}

_PATH = re.compile(r"^/service/(?P<service>[A-Za-z0-9_.]+)/operation/(?P<operation>[A-Za-z0-9_]+)$")
_models: dict[str, Any] = {}
_models_lock = threading.Lock()


def service_model(name: str) -> Any:
    with _models_lock:
        if name not in _models:
            import botocore.session

            _models[name] = botocore.session.get_session().get_service_model(name)
        return _models[name]


# -- CBOR request -> JSON document --------------------------------------------------------------


def to_json_value(value: Any) -> Any:
    """Plain JSON from decoded CBOR: timestamps become epoch seconds, bytes become base64."""
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return aware.timestamp()
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, cbor2.CBORTag):
        return to_json_value(value.value)
    if isinstance(value, dict):
        return {str(k): to_json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json_value(v) for v in value]
    if value is cbor2.undefined:
        return None
    return value


# -- JSON response -> typed CBOR ----------------------------------------------------------------


def _epoch_seconds(value: Any) -> float:
    if isinstance(value, (int, float)):
        return float(value)
    parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)).timestamp()


def to_cbor_value(value: Any, shape: Any) -> Any:
    """Type a JSON value by its botocore shape so the SDK's strict CBOR decoder accepts it."""
    if value is None or shape is None:
        return value
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        members = shape.members
        return {k: to_cbor_value(v, members.get(k)) for k, v in value.items() if v is not None}
    if kind == "list" and isinstance(value, list):
        return [to_cbor_value(v, shape.member) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: to_cbor_value(v, shape.value) for k, v in value.items()}
    if kind == "timestamp":
        return cbor2.CBORTag(1, _epoch_seconds(value))
    if kind in ("double", "float") and isinstance(value, (int, float, str)):
        return float(value)
    if kind in ("integer", "long", "short", "byte") and isinstance(value, (float, str)):
        return int(float(value))
    if kind == "blob" and isinstance(value, str):
        return base64.b64decode(value)
    return value


def encode(doc: Any) -> bytes:
    return cbor2.dumps(doc)


# -- errors ----------------------------------------------------------------------------------------


def _error_shape_name(model: Any, code: str) -> str:
    """The modeled error shape for an awsQuery error code (or the code itself)."""
    candidates = [s.name for s in model.error_shapes if (s.metadata.get("error") or {}).get("code") == code]
    if code in candidates or not candidates:
        return code
    return candidates[0]


def error_document(service: CborService, code: str, message: str) -> dict[str, str]:
    shape = _error_shape_name(service_model(service.botocore_name), code)
    return {"__type": f"{service.shape_namespace}#{shape}", "message": message}


# -- the middleware --------------------------------------------------------------------------------


@dataclass
class _Captured:
    status: str = "500 Internal Server Error"
    headers: list[tuple[str, str]] | None = None


class CborBridge:
    def __init__(self, app: WsgiApp, log: Any = None):
        self.app = app
        self.log = log

    def __call__(self, environ: Environ, start_response: StartResponse):
        match = _PATH.match(environ.get("PATH_INFO", ""))
        if not match or environ.get("HTTP_SMITHY_PROTOCOL", "").lower() != "rpc-v2-cbor":
            return self.app(environ, start_response)
        service = SERVICES.get(match.group("service"))
        operation = match.group("operation")
        if service is None:
            return self._answer(
                start_response,
                404,
                {
                    "__type": "UnknownOperationException",
                    "message": f"local-aws: no CBOR bridge for service {match.group('service')}",
                },
            )
        try:
            request = cbor2.loads(read_body(environ) or cbor2.dumps({}))
        except (cbor2.CBORDecodeError, ValueError) as err:
            doc = error_document(
                service, "SerializationException", f"local-aws: request body is not valid CBOR: {err}"
            )
            return self._answer(start_response, 400, doc)
        try:
            model = service_model(service.botocore_name).operation_model(operation)
        except Exception:  # noqa: BLE001 - botocore raises OperationNotFoundError
            return self._answer(
                start_response,
                404,
                {
                    "__type": "UnknownOperationException",
                    "message": f"local-aws: unknown operation {operation}",
                },
            )
        status, headers, body = self._call_moto(
            environ, match.group("service"), operation, to_json_value(request)
        )
        return self._translate(start_response, service, model, operation, status, headers, body)

    def _call_moto(
        self, environ: Environ, target: str, operation: str, doc: Any
    ) -> tuple[str, list[tuple[str, str]], bytes]:
        payload = json.dumps(doc).encode()
        inner = dict(environ)
        inner.pop("HTTP_SMITHY_PROTOCOL", None)
        inner.update(
            {
                "PATH_INFO": "/",
                "RAW_URI": "/",
                "REQUEST_URI": "/",
                "QUERY_STRING": "",
                "CONTENT_TYPE": "application/x-amz-json-1.0",
                "HTTP_ACCEPT": "application/json",
                "HTTP_X_AMZ_TARGET": f"{target}.{operation}",
                "CONTENT_LENGTH": str(len(payload)),
                "wsgi.input": io.BytesIO(payload),
            }
        )
        captured = _Captured()

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured.status, captured.headers = status, headers
            return lambda _data: None

        chunks = self.app(inner, capture)
        try:
            body = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close:
                close()
        return captured.status, captured.headers or [], body

    def _translate(
        self,
        start_response: StartResponse,
        service: CborService,
        model: Any,
        operation: str,
        status: str,
        headers: list[tuple[str, str]],
        body: bytes,
    ):
        code = int(status.split()[0])
        extra = {k: v for k, v in headers if k.lower() in ("x-amzn-requestid", "x-amzn-query-error")}
        try:
            doc = json.loads(body) if body.strip() else {}
        except ValueError:
            doc = None
        if 200 <= code < 300 and isinstance(doc, dict):
            if model.output_shape is None:
                return self._answer(start_response, code, None, extra)
            return self._answer(start_response, code, to_cbor_value(doc, model.output_shape), extra)
        if isinstance(doc, dict) and (doc.get("__type") or doc.get("code")):
            error_code = str(doc.get("__type") or doc.get("code")).split("#")[-1]
            message = str(doc.get("message") or doc.get("Message") or "")
            return self._answer(start_response, code, error_document(service, error_code, message), extra)
        # moto crashed (500 HTML page) or answered something that is not JSON
        if self.log:
            self.log.warning(
                "moto failed on %s.%s: %s %s", service.botocore_name, operation, status, body[:300]
            )
        message = f"local-aws: moto could not serve {operation} (HTTP {code}); see the emulator log"
        extra["x-amzn-query-error"] = "InternalServiceError;Receiver"
        return self._answer(
            start_response, 500, error_document(service, "InternalServiceError", message), extra
        )

    @staticmethod
    def _answer(
        start_response: StartResponse, code: int, doc: Any, extra: dict[str, str] | None = None
    ) -> list[bytes]:
        payload = b"" if doc is None else encode(doc)
        headers = {"x-amzn-RequestId": new_request_id(), **(extra or {})}
        headers["smithy-protocol"] = "rpc-v2-cbor"
        if payload:  # an operation without output answers an empty body and no Content-Type
            headers["Content-Type"] = "application/cbor"
        headers["Content-Length"] = str(len(payload))
        start_response(status_line(code), list(headers.items()))
        return [payload]
