"""Lambda provisioned-concurrency routes, which moto 5.2.5 does not implement (it answers 404).

Routes (restJson1, as aws-sdk-lambda sends them):
    PUT    /2019-09-30/functions/{name}/provisioned-concurrency?Qualifier=q   -> 202 IN_PROGRESS
    GET    /2019-09-30/functions/{name}/provisioned-concurrency?Qualifier=q   -> 200 (READY once read)
    DELETE /2019-09-30/functions/{name}/provisioned-concurrency?Qualifier=q   -> 204
    GET    /2019-09-30/functions/{name}/provisioned-concurrency?List=ALL      -> 200 list

Only the configurations are kept here. Functions, versions and aliases are always looked up in
moto's own Lambda backend, so a function deleted in moto loses its configurations too.

With a provisioner (the Lambda runner), a configuration also initialises that many execution
environments ahead of any invoke (initializationType provisioned-concurrency); a read waits
for their INIT, so READY means they are warm, and FAILED reports an INIT failure.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import unquote

from wsgi_util import (
    Environ,
    StartResponse,
    WsgiApp,
    query_params,
    read_body,
    request_account,
    request_region,
    respond,
    respond_json,
    rest_json_error,
)

_PATH = re.compile(r"^/2019-09-30/functions/(?P<name>[^/]+)/provisioned-concurrency/?$")

# (account, region, unqualified function ARN, qualifier)
ConfigKey = tuple[str, str, str, str]


def _aws_timestamp() -> str:
    """Lambda's string timestamp format, e.g. 2024-05-01T12:00:00.000+0000."""
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}+0000"


class Allocation(Protocol):
    done: threading.Event
    error: str | None


class Provisioner(Protocol):
    def provision(self, fn: Any, qualifier: str, count: int) -> Allocation: ...

    def unprovision(self, fn: Any, qualifier: str) -> None: ...


@dataclass
class PcConfig:
    requested: int
    ready_after: float  # monotonic time from which a read may report READY
    allocation: Allocation | None = None
    last_modified: str = field(default_factory=_aws_timestamp)
    status: str = "IN_PROGRESS"
    reason: str | None = None

    def observe(self, wait_s: float) -> None:
        """A read after the put (and after the configured delay) finds the allocation done;
        it waits (up to wait_s, outside any lock) for the environments' INIT."""
        if self.status != "IN_PROGRESS":
            return
        if self.allocation is not None:
            if not self.allocation.done.wait(wait_s):
                return
            if self.allocation.error:
                self.status, self.reason = "FAILED", f"FUNCTION_ERROR_INIT_FAILURE: {self.allocation.error}"
                return
        if time.monotonic() >= self.ready_after:
            self.status = "READY"

    def to_json(self) -> dict[str, Any]:
        allocated = self.requested if self.status == "READY" else 0
        doc: dict[str, Any] = {
            "RequestedProvisionedConcurrentExecutions": self.requested,
            "AvailableProvisionedConcurrentExecutions": allocated,
            "AllocatedProvisionedConcurrentExecutions": allocated,
            "Status": self.status,
            "LastModified": self.last_modified,
        }
        if self.reason:
            doc["StatusReason"] = self.reason
        return doc


class LambdaApiError(Exception):
    def __init__(self, status: int, error_type: str, message: str):
        super().__init__(message)
        self.status, self.error_type, self.message = status, error_type, message


class ProvisionedConcurrency:
    """WSGI middleware answering the provisioned-concurrency routes in front of moto."""

    def __init__(
        self,
        app: WsgiApp,
        ready_delay_s: float = 0.0,
        provisioner: Provisioner | None = None,
        init_wait_s: float = 15.0,
    ):
        self.app = app
        self.ready_delay_s = ready_delay_s
        self.provisioner = provisioner
        self.init_wait_s = init_wait_s
        self._configs: dict[ConfigKey, PcConfig] = {}
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self._configs.clear()

    def __call__(self, environ: Environ, start_response: StartResponse):
        match = _PATH.match(environ.get("PATH_INFO", ""))
        if not match:
            return self.app(environ, start_response)
        try:
            return self._dispatch(environ, start_response, unquote(match.group("name")))
        except LambdaApiError as err:
            return rest_json_error(start_response, err.status, err.error_type, err.message)

    # -- routing -------------------------------------------------------------------------

    def _dispatch(self, environ: Environ, start_response: StartResponse, name: str):
        method = environ["REQUEST_METHOD"]
        params = query_params(environ)
        account, region = request_account(environ), request_region(environ)
        function = _resolve_function(account, region, name)
        if method == "GET" and "List" in params:
            return respond_json(start_response, 200, self._list(account, region, function, params))
        qualifier = _checked_qualifier(account, region, function, params.get("Qualifier"))
        key = (account, region, _unqualified_arn(function), qualifier)
        version = _lambda_backend(account, region).get_function(function.function_name, qualifier)
        if method == "PUT":
            doc = self._put(key, function, version, _requested_executions(read_body(environ)))
            return respond_json(start_response, 202, doc)
        if method == "GET":
            return respond_json(start_response, 200, self._get(key))
        if method == "DELETE":
            self._delete(key, version)
            return respond(start_response, 204, content_type=None)
        raise LambdaApiError(405, "MethodNotAllowedException", f"{method} is not supported here")

    # -- operations ----------------------------------------------------------------------

    def _put(self, key: ConfigKey, function: Any, version: Any, requested: int) -> dict[str, Any]:
        with self._lock:
            _check_reserved_concurrency(function, key, requested, self._configs)
            config = PcConfig(requested, ready_after=time.monotonic() + self.ready_delay_s)
            self._configs[key] = config
        if self.provisioner is not None:
            config.allocation = self.provisioner.provision(version, key[3], requested)
        return config.to_json()

    def _get(self, key: ConfigKey) -> dict[str, Any]:
        with self._lock:
            config = self._configs.get(key)
        if config is None:
            raise LambdaApiError(
                404,
                "ProvisionedConcurrencyConfigNotFoundException",
                "No Provisioned Concurrency Config found for this function",
            )
        config.observe(self.init_wait_s)
        return config.to_json()

    def _delete(self, key: ConfigKey, version: Any) -> None:
        with self._lock:
            self._configs.pop(key, None)
        if self.provisioner is not None:
            self.provisioner.unprovision(version, key[3])

    def _list(self, account: str, region: str, function: Any, params: dict[str, str]) -> dict[str, Any]:
        arn = _unqualified_arn(function)
        with self._lock:
            keys = sorted(k for k in self._configs if k[:3] == (account, region, arn))
            for key in keys:
                if not _qualifier_exists(account, region, function, key[3]):
                    del self._configs[key]  # the version or alias is gone in moto
            configs = [(key, self._configs[key]) for key in keys if key in self._configs]
        items = []
        for key, config in configs:
            config.observe(self.init_wait_s)
            items.append({"FunctionArn": f"{arn}:{key[3]}", **config.to_json()})
        start = int(params.get("Marker") or 0)
        size = int(params.get("MaxItems") or 50)
        doc: dict[str, Any] = {"ProvisionedConcurrencyConfigs": items[start : start + size]}
        if start + size < len(items):
            doc["NextMarker"] = str(start + size)
        return doc


# -- lookups in moto's Lambda backend ------------------------------------------------------


def _lambda_backend(account: str, region: str) -> Any:
    from moto.awslambda.utils import get_backend

    return get_backend(account, region)


def _resolve_function(account: str, region: str, name: str) -> Any:
    from moto.core.exceptions import JsonRESTError

    try:
        return _lambda_backend(account, region).get_function(name)
    except JsonRESTError as err:
        raise LambdaApiError(err.code, err.error_type, err.message) from err


def _unqualified_arn(function: Any) -> str:
    return function.function_arn.split(":$LATEST")[0]


def _qualifier_exists(account: str, region: str, function: Any, qualifier: str) -> bool:
    from moto.core.exceptions import JsonRESTError

    try:
        _lambda_backend(account, region).get_function(function.function_name, qualifier)
        return True
    except JsonRESTError:
        return False


def _alias(account: str, region: str, function: Any, qualifier: str) -> Any | None:
    from moto.core.exceptions import JsonRESTError

    try:
        return _lambda_backend(account, region).get_alias(qualifier, function.function_name)
    except JsonRESTError:
        return None


def _checked_qualifier(account: str, region: str, function: Any, qualifier: str | None) -> str:
    if not qualifier:
        raise LambdaApiError(400, "InvalidParameterValueException", "Qualifier is required.")
    if qualifier.upper() == "$LATEST":
        raise LambdaApiError(
            400,
            "InvalidParameterValueException",
            "Provisioned Concurrency Configs cannot be applied to unpublished function versions.",
        )
    if not _qualifier_exists(account, region, function, qualifier):
        raise LambdaApiError(
            404, "ResourceNotFoundException", f"Function not found: {_unqualified_arn(function)}:{qualifier}"
        )
    alias = _alias(account, region, function, qualifier)
    weights = ((alias.routing_config or {}) if alias else {}).get("AdditionalVersionWeights")
    if weights:
        raise LambdaApiError(
            400,
            "InvalidParameterValueException",
            "Alias with weights can not be used with Provisioned Concurrency",
        )
    return qualifier


def _requested_executions(body: bytes) -> int:
    try:
        requested = int(json.loads(body or b"{}").get("ProvisionedConcurrentExecutions", 0))
    except (ValueError, TypeError, AttributeError) as err:
        raise LambdaApiError(
            400, "InvalidRequestContentException", "Could not parse request body into json"
        ) from err
    if requested < 1:
        raise LambdaApiError(
            400,
            "ValidationException",
            f"1 validation error detected: Value '{requested}' at 'provisionedConcurrentExecutions' "
            "failed to satisfy constraint: Member must have value greater than or equal to 1",
        )
    return requested


def _check_reserved_concurrency(
    function: Any, key: ConfigKey, requested: int, configs: dict[ConfigKey, PcConfig]
) -> None:
    """Lambda refuses more provisioned than reserved concurrency (summed over qualifiers)."""
    reserved = getattr(function, "reserved_concurrency", None)
    if reserved in (None, ""):
        return
    others = sum(c.requested for k, c in configs.items() if k[:3] == key[:3] and k != key)
    if others + requested > int(reserved):
        raise LambdaApiError(
            400,
            "InvalidParameterValueException",
            "Requested Provisioned Concurrency should not be greater than the "
            "reservedConcurrentExecution for function",
        )
