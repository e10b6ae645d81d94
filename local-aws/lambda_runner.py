"""Lambda Invoke on local processes: warm environments, provisioned concurrency, the route.

Execution environments (lambda_environment.Worker) stay warm: one is reused invocation after
invocation and replaced when the function's configuration, code or binaries change; a
concurrent invoke gets a second one; a timeout or a crash discards it, as Lambda discards
the execution environment. Provisioned concurrency initialises environments ahead of any
invoke. The Invoke route answers like Lambda (RequestResponse, Event, DryRun, Tail logs,
weighted aliases, reserved-concurrency throttling); moto's in-process callers use the same
invoker (see moto_patches.py).
"""

from __future__ import annotations

import base64
import json
import random
import re
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from lambda_environment import (
    FunctionLogs,
    FunctionSpec,
    Invocation,
    InvokeResult,
    Worker,
    error_payload,
)
from wsgi_util import (
    Environ,
    StartResponse,
    WsgiApp,
    query_params,
    read_body,
    request_account,
    request_region,
    respond,
    rest_json_error,
)


class Throttled(Exception):
    """The function's reserved concurrency is exhausted."""


# -- the pool of warm environments ------------------------------------------------------------


class WarmPool:
    """Idle workers per function version; busy counts per function for reserved concurrency."""

    def __init__(self, endpoint_url: str, log_dir: Path, init_timeout_s: float = 10.0, max_idle: int = 4):
        self.endpoint_url = endpoint_url
        self.logs = FunctionLogs(log_dir)
        self.init_timeout_s = init_timeout_s
        self.max_idle = max_idle
        self._idle: dict[str, list[Worker]] = defaultdict(list)
        self._busy: dict[str, int] = defaultdict(int)
        self._all: set[Worker] = set()
        # (pool key, qualifier) -> environments initialised for provisioned concurrency
        self._provisioned: dict[tuple[str, str], list[Worker]] = {}
        self._lock = threading.Lock()

    def acquire(self, spec: FunctionSpec) -> Worker:
        stale: list[Worker] = []
        with self._lock:
            if spec.reserved_concurrency is not None and self._busy[spec.arn] >= spec.reserved_concurrency:
                raise Throttled()
            idle = self._idle[spec.pool_key]
            stale = [w for w in idle if w.spec != spec or w.broken]
            fresh = [w for w in idle if w not in stale]
            worker = fresh.pop() if fresh else Worker(spec, self.endpoint_url, self.logs, self.init_timeout_s)
            self._idle[spec.pool_key] = fresh
            self._busy[spec.arn] += 1
            self._all.add(worker)
        self._stop(stale)
        return worker

    def release(self, worker: Worker) -> None:
        with self._lock:
            self._busy[worker.spec.arn] -= 1
            idle = self._idle[worker.spec.pool_key]
            keep = not worker.broken and len(idle) < self.max_idle + self._provisioned_count(
                worker.spec.pool_key
            )
            if keep:
                idle.append(worker)
        if not keep:
            self._stop([worker])

    def stop_all(self) -> None:
        with self._lock:
            workers = list(self._all)
            self._idle.clear()
            self._provisioned.clear()
        self._stop(workers, wait=True)

    def provision(self, spec: FunctionSpec, qualifier: str, count: int) -> str | None:
        """Initialise `count` environments ahead of any invoke (blocking); an error text if
        INIT failed. They join the idle pool of the version the qualifier points to."""
        self.unprovision(spec.pool_key, qualifier)
        workers = [
            Worker(spec, self.endpoint_url, self.logs, self.init_timeout_s, "provisioned-concurrency")
            for _ in range(count)
        ]
        with self._lock:
            self._all.update(workers)
            self._provisioned[(spec.pool_key, qualifier)] = workers
        errors = [_start_error(w) for w in workers]
        errors = [e or w.wait_initialized() for e, w in zip(errors, workers, strict=True)]
        with self._lock:
            current = self._provisioned.get((spec.pool_key, qualifier)) is workers
            ready = [w for w in workers if not w.broken] if current else []
            self._idle[spec.pool_key].extend(ready)
        self._stop([w for w in workers if w not in ready])
        return next((e for e in errors if e), None)

    def unprovision(self, pool_key: str, qualifier: str) -> None:
        with self._lock:
            workers = self._provisioned.pop((pool_key, qualifier), [])
            idle = self._idle[pool_key]
            for worker in workers:
                worker.broken = True  # retire: a busy one is stopped when released
            gone = [w for w in idle if w in workers]
            self._idle[pool_key] = [w for w in idle if w not in workers]
        self._stop(gone)

    def _provisioned_count(self, pool_key: str) -> int:
        return sum(len(ws) for (key, _), ws in self._provisioned.items() if key == pool_key)

    def _stop(self, workers: list[Worker], wait: bool = False) -> None:
        """Stop environments in parallel (each may give its extensions a SHUTDOWN window)."""
        threads = [threading.Thread(target=self._stop_one, args=(w,), daemon=True) for w in workers]
        for thread in threads:
            thread.start()
        if wait:
            for thread in threads:
                thread.join()

    def _stop_one(self, worker: Worker) -> None:
        worker.stop()
        with self._lock:
            self._all.discard(worker)


def _start_error(worker: Worker) -> str | None:
    try:
        worker.ensure_started()
    except OSError as err:
        worker.broken = True
        return f"cannot start {err.filename or worker.spec.bootstrap}: {err}"
    return None


@dataclass
class Allocation:
    """Provisioned environments being initialised: `done` is set when INIT is over."""

    done: threading.Event = field(default_factory=threading.Event)
    error: str | None = None


class Provisioner:
    """What provisioned concurrency does to execution environments (see ProvisionedConcurrency)."""

    def __init__(self, pool: WarmPool):
        self.pool = pool

    def provision(self, fn: Any, qualifier: str, count: int) -> Allocation:
        allocation = Allocation()
        spec = FunctionSpec.from_moto(fn)
        if not spec.bootstrap or spec.bootstrap_stamp is None:
            allocation.done.set()  # nothing runnable: the config is bookkeeping only
            return allocation

        def run() -> None:
            try:
                allocation.error = self.pool.provision(spec, qualifier, count)
            finally:
                allocation.done.set()

        threading.Thread(target=run, daemon=True, name=f"provision-{spec.name}").start()
        return allocation

    def unprovision(self, fn: Any, qualifier: str) -> None:
        self.pool.unprovision(FunctionSpec.from_moto(fn).pool_key, qualifier)


# -- invoking a moto function -----------------------------------------------------------------


class LambdaInvoker:
    def __init__(self, pool: WarmPool):
        self.pool = pool

    def invoke(
        self, fn: Any, invoked_arn: str, event: bytes, client_context: str | None = None
    ) -> InvokeResult:
        spec = FunctionSpec.from_moto(fn)
        if not spec.bootstrap or spec.bootstrap_stamp is None:
            message = (
                f"local-aws: function {spec.name} needs the environment variable LOCAL_BOOTSTRAP "
                f"set to the absolute path of an existing bootstrap executable (got {spec.bootstrap!r})"
            )
            return InvokeResult(error_payload("Runtime.InvalidEntrypoint", message), True, spec.version)
        worker = self.pool.acquire(spec)
        try:
            worker.ensure_started()
            return worker.invoke(Invocation(event, invoked_arn, client_context))
        except OSError as err:  # not executable, bad interpreter, ...
            worker.broken = True
            message = f"local-aws: cannot start {err.filename or spec.bootstrap}: {err}"
            return InvokeResult(error_payload("Runtime.InvalidEntrypoint", message), True, spec.version)
        finally:
            self.pool.release(worker)

    def invoke_with_retry(self, fn: Any, invoked_arn: str, event: bytes, budget_s: float = 300.0) -> None:
        """Asynchronous invocations wait out throttling, as Lambda's internal queue does."""
        deadline = time.monotonic() + budget_s
        while True:
            try:
                self.invoke(fn, invoked_arn, event)
                return
            except Throttled:
                if time.monotonic() > deadline:
                    return
                time.sleep(0.1)


# -- the Invoke route (HTTP) ------------------------------------------------------------------

_INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations/?$")


def split_function_name(name: str) -> tuple[str, str | None]:
    """name | name:qualifier | account:function:name[:q] | arn:...:function:name[:q]."""
    parts = name.split(":")
    if parts[0] == "arn" and len(parts) >= 7:
        return parts[6], parts[7] if len(parts) > 7 else None
    if len(parts) >= 3 and parts[1] == "function":
        return parts[2], parts[3] if len(parts) > 3 else None
    if len(parts) == 2:
        return parts[0], parts[1]
    return name, None


def resolve_invocation(account: str, region: str, name: str, qualifier: str | None) -> tuple[Any, str]:
    """The moto function (version) an invoke runs, and the ARN it was invoked as.

    Aliases with weighted routing pick a version at random by weight, as Lambda does.
    Raises moto's own errors for unknown functions, versions and aliases.
    """
    from moto.awslambda.utils import get_backend
    from moto.core.exceptions import JsonRESTError

    backend = get_backend(account, region)
    base, name_qualifier = split_function_name(name)
    qualifier = name_qualifier or qualifier
    fn = backend.get_function(base, qualifier)
    unqualified = FunctionSpec.from_moto(fn).arn
    if qualifier and qualifier.upper() != "$LATEST":
        try:
            alias = backend.get_alias(qualifier, base)
        except JsonRESTError:
            alias = None
        weights = ((alias.routing_config or {}) if alias else {}).get("AdditionalVersionWeights") or {}
        if weights:
            roll, chosen = random.random(), None
            for version, weight in weights.items():
                roll -= float(weight)
                if roll < 0:
                    chosen = version
                    break
            if chosen is not None:
                fn = backend.get_function(base, chosen)
    return fn, f"{unqualified}:{qualifier}" if qualifier else unqualified


class LambdaInvokeRoute:
    """WSGI middleware serving Invoke with local processes; everything else goes to moto."""

    def __init__(self, app: WsgiApp, invoker: LambdaInvoker, log: Any = None):
        self.app = app
        self.invoker = invoker
        self.log = log

    def __call__(self, environ: Environ, start_response: StartResponse):
        match = _INVOKE_PATH.match(environ.get("PATH_INFO", ""))
        if not match or environ["REQUEST_METHOD"] != "POST":
            return self.app(environ, start_response)
        from moto.core.exceptions import JsonRESTError

        body = read_body(environ)
        qualifier = query_params(environ).get("Qualifier")
        try:
            fn, invoked_arn = resolve_invocation(
                request_account(environ), request_region(environ), unquote(match.group("name")), qualifier
            )
        except JsonRESTError:
            return self.app(environ, start_response)  # moto answers with its own error
        event = body or b"{}"
        try:
            json.loads(event)
        except ValueError:
            return rest_json_error(
                start_response,
                400,
                "InvalidRequestContentException",
                "Could not parse request body into json: Unexpected character",
            )
        invocation_type = environ.get("HTTP_X_AMZ_INVOCATION_TYPE", "RequestResponse")
        if invocation_type == "DryRun":
            return respond(start_response, 204, content_type=None)
        if invocation_type == "Event":
            threading.Thread(
                target=self._invoke_async, args=(fn, invoked_arn, event), daemon=True, name="async-invoke"
            ).start()
            return respond(start_response, 202, content_type=None)
        return self._invoke_sync(environ, start_response, fn, invoked_arn, event)

    def _invoke_sync(
        self, environ: Environ, start_response: StartResponse, fn: Any, invoked_arn: str, event: bytes
    ):
        try:
            result = self.invoker.invoke(fn, invoked_arn, event, _client_context(environ))
        except Throttled:
            return rest_json_error(start_response, 429, "TooManyRequestsException", "Rate Exceeded.")
        # As in Lambda, the API request id is the invocation's request id.
        headers = {"X-Amz-Executed-Version": result.executed_version, "x-amzn-RequestId": result.request_id}
        if result.function_error:
            headers["X-Amz-Function-Error"] = "Unhandled"
        if environ.get("HTTP_X_AMZ_LOG_TYPE") == "Tail":
            headers["X-Amz-Log-Result"] = base64.b64encode(result.log_tail.encode()).decode()
        return respond(start_response, 200, result.payload, headers)

    def _invoke_async(self, fn: Any, invoked_arn: str, event: bytes) -> None:
        try:
            self.invoker.invoke_with_retry(fn, invoked_arn, event)
        except Exception:  # noqa: BLE001 - a background invoke must not kill its thread noisily
            if self.log:
                self.log.exception("asynchronous invoke of %s failed", invoked_arn)


def _client_context(environ: Environ) -> str | None:
    raw = environ.get("HTTP_X_AMZ_CLIENT_CONTEXT")
    if not raw:
        return None
    try:
        return base64.b64decode(raw).decode()
    except ValueError:
        return None
