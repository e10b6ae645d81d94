"""One Lambda execution environment on this machine: processes behind a Runtime API.

moto needs Docker to invoke a function. Our functions are custom-runtime `bootstrap`
binaries, so instead each function's real binary (named by its environment variable
LOCAL_BOOTSTRAP, an absolute path) is started as a child process that polls its own
Runtime API server, exactly as it does in AWS:

    GET  /2018-06-01/runtime/invocation/next
    POST /2018-06-01/runtime/invocation/{request-id}/response
    POST /2018-06-01/runtime/invocation/{request-id}/error
    POST /2018-06-01/runtime/init/error

A Worker is one environment: it serves one invocation at a time and answers timeouts,
crashes and errors as Lambda does. External extensions (env var LOCAL_EXTENSIONS) run beside
the bootstrap with the Extensions and Telemetry APIs on the same endpoint (see
lambda_extensions.py). lambda_runner.py keeps environments warm and serves Invoke.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from lambda_extensions import SHUTDOWN_WINDOW_S, ExtensionHost, Telemetry, extension_paths

MAX_RESPONSE_BYTES = 6 * 1024 * 1024
LOG_TAIL_BYTES = 4096
# Inherited from the emulator's own environment when set (function env vars win).
PASSTHROUGH_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "RUST_LOG", "RUST_BACKTRACE", "TMPDIR")
TRACE_ID = "Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=0"


# -- what defines an execution environment --------------------------------------------------


@dataclass(frozen=True)
class FunctionSpec:
    """Everything that, when changed, requires a fresh execution environment."""

    name: str
    arn: str  # unqualified
    version: str
    region: str
    account: str
    bootstrap: str | None
    environment: tuple[tuple[str, str], ...]
    memory_mb: int
    timeout_s: float
    handler: str
    code_sha: str
    bootstrap_stamp: tuple[int, int] | None  # (mtime_ns, size): a rebuilt binary restarts
    extensions: tuple[str, ...]
    extension_stamps: tuple[tuple[int, int] | None, ...]
    log_group: str = field(compare=False)
    reserved_concurrency: int | None = field(compare=False)

    @classmethod
    def from_moto(cls, fn: Any) -> FunctionSpec:
        from moto.utilities.utils import get_partition

        env = {str(k): str(v) for k, v in (fn.environment_vars or {}).items()}
        bootstrap = env.get("LOCAL_BOOTSTRAP")
        extensions = extension_paths(env)
        reserved = fn.reserved_concurrency
        return cls(
            name=fn.function_name,
            arn=f"arn:{get_partition(fn.region)}:lambda:{fn.region}:{fn.account_id}:function:{fn.function_name}",
            version=str(fn.version),
            region=fn.region,
            account=fn.account_id,
            bootstrap=bootstrap,
            environment=tuple(sorted(env.items())),
            memory_mb=int(fn.memory_size or 128),
            timeout_s=float(fn.timeout or 3),
            handler=str(fn.handler or "bootstrap"),
            code_sha=str(getattr(fn, "code_sha_256", "")),
            bootstrap_stamp=_file_stamp(bootstrap),
            extensions=extensions,
            extension_stamps=tuple(_file_stamp(p) for p in extensions),
            log_group=fn.logs_group_name,
            reserved_concurrency=None if reserved in (None, "") else int(reserved),
        )

    @property
    def pool_key(self) -> str:
        return f"{self.arn}:{self.version}"


def _file_stamp(path: str | None) -> tuple[int, int] | None:
    try:
        st = os.stat(path) if path else None
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size) if st else None


@dataclass
class Invocation:
    event: bytes
    invoked_arn: str
    client_context: str | None = None
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    delivered_at: float | None = None
    result: bytes | None = None
    is_error: bool = False
    log_lines: list[str] = field(default_factory=list)


@dataclass
class InvokeResult:
    payload: bytes
    function_error: bool
    executed_version: str
    log_tail: str = ""
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))


def error_payload(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


# -- logs -------------------------------------------------------------------------------------


class FunctionLogs:
    """Per-function log files under the state dir, plus moto's CloudWatch Logs."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self._locks: dict[str, threading.Lock] = defaultdict(threading.Lock)

    def write(self, function_name: str, lines: list[str]) -> None:
        if not lines:
            return
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with self._locks[function_name], open(self.log_dir / f"{function_name}.log", "a") as f:
            f.writelines(line + "\n" for line in lines)

    @staticmethod
    def to_cloudwatch(spec: FunctionSpec, stream: str, lines: list[str]) -> None:
        """Best effort: moto's logs backend is a convenience, never a reason to fail."""
        try:
            from moto.logs.models import logs_backends

            backend = logs_backends[spec.account][spec.region]
            backend.ensure_log_group(spec.log_group)
            if stream not in backend.groups[spec.log_group].streams:
                backend.create_log_stream(spec.log_group, stream)
            now = int(time.time() * 1000)
            events = [{"timestamp": now, "message": line} for line in lines if line]
            if events:
                backend.put_log_events(spec.log_group, stream, events)
        except Exception:  # noqa: BLE001 - logging must not break an invocation
            pass


# -- one execution environment ----------------------------------------------------------------


class Worker:
    """One execution environment: a bootstrap process (and its extensions) with its own
    Runtime API endpoint, serving one invocation at a time."""

    def __init__(
        self,
        spec: FunctionSpec,
        endpoint_url: str,
        logs: FunctionLogs,
        init_timeout_s: float,
        init_type: str = "on-demand",
    ):
        self.spec = spec
        self.init_type = init_type  # or "provisioned-concurrency": initialised before any invoke
        self.endpoint_url = endpoint_url
        self.logs = logs
        self.init_timeout_s = init_timeout_s
        self.log_stream = _log_stream_name(spec.version)
        self.broken = False  # set after a timeout, crash or init error: never reuse
        self._cond = threading.Condition()
        self._pending: Invocation | None = None
        self._current: Invocation | None = None
        self._init_error: bytes | None = None
        self._exit_code: int | None = None
        self._closing = False
        self._stopped = False
        self._shutdown_reason = "spindown"
        self._spawned_at = 0.0
        self._runtime_polling = False  # the runtime is waiting in /invocation/next
        self._first_poll_at: float | None = None  # INIT is over
        self._init_ms: float | None = None  # reported with the first invocation only
        self._proc: subprocess.Popen[bytes] | None = None
        self._ext_procs: list[subprocess.Popen[bytes]] = []
        self.telemetry = Telemetry()
        self.extensions = ExtensionHost(
            self._cond,
            expected=len(spec.extensions),
            registration={
                "functionName": spec.name,
                "functionVersion": spec.version,
                "handler": spec.handler,
            },
        )
        self._server = _RuntimeApiServer(self)

    # lifecycle

    def ensure_started(self) -> None:
        if self._proc is not None:
            return
        assert self.spec.bootstrap
        self._spawned_at = time.monotonic()
        self.telemetry.emit(
            "platform.initStart",
            {
                "initializationType": self.init_type,
                "phase": "init",
                "functionName": self.spec.name,
                "functionVersion": self.spec.version,
            },
        )
        for path in self.spec.extensions:  # Lambda starts extensions first
            self._ext_procs.append(self._spawn(path, "extension"))
        self._proc = self._spawn(self.spec.bootstrap, "function")

    def _spawn(self, path: str, kind: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [path],
            env=self._child_env(),
            cwd=os.path.dirname(path) or None,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            process_group=0,  # its own group in the emulator's session: see _end_process_group
        )
        name = os.path.basename(path)
        threading.Thread(target=self._pump_output, args=(proc, kind), daemon=True, name=f"out-{name}").start()
        threading.Thread(target=self._await_exit, args=(proc, kind), daemon=True, name=f"exit-{name}").start()
        return proc

    def stop(self) -> None:
        """End the environment: SHUTDOWN to the extensions (2 s window), then kill everything."""
        with self._cond:
            if self._stopped:
                return
            self._stopped = True
            self.broken = True
            if self._proc is not None and self.extensions.shutdown_locked(self._shutdown_reason):
                self._cond.wait_for(
                    lambda: self.extensions.shutdown_done_locked() or not self._extensions_alive(),
                    SHUTDOWN_WINDOW_S,
                )
            self._closing = True
            self.extensions.close_locked()
            self._cond.notify_all()
        self.telemetry.close()
        for proc in [self._proc, *self._ext_procs]:
            if proc is not None:
                _end_process_group(proc)
        self._server.close()

    def _extensions_alive(self) -> bool:
        return any(p.poll() is None for p in self._ext_procs)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def _child_env(self) -> dict[str, str]:
        spec = self.spec
        env = {k: os.environ[k] for k in PASSTHROUGH_ENV if k in os.environ}
        env.update(
            {
                "AWS_LAMBDA_RUNTIME_API": self._server.address,
                "AWS_LAMBDA_FUNCTION_NAME": spec.name,
                "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
                "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group,
                "AWS_LAMBDA_LOG_STREAM_NAME": self.log_stream,
                "AWS_LAMBDA_INITIALIZATION_TYPE": self.init_type,
                "AWS_REGION": spec.region,
                "AWS_DEFAULT_REGION": spec.region,
                "AWS_ACCESS_KEY_ID": "test",
                "AWS_SECRET_ACCESS_KEY": "test",
                "AWS_SESSION_TOKEN": "test",
                "AWS_ENDPOINT_URL": self.endpoint_url,
                "LAMBDA_TASK_ROOT": os.path.dirname(spec.bootstrap or ""),
                "TZ": ":UTC",
                "_HANDLER": spec.handler,
            }
        )
        env.update(dict(spec.environment))
        return env

    def _pump_output(self, proc: subprocess.Popen[bytes], kind: str) -> None:
        """Child output goes to the function's log file and to telemetry; the function's own
        lines also to the current invocation (for LogType=Tail and CloudWatch Logs)."""
        assert proc.stdout
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._cond:
                if self._current is not None:
                    self._current.log_lines.append(line)
            self.logs.write(self.spec.name, [line])
            self.telemetry.emit(kind, line)

    def _await_exit(self, proc: subprocess.Popen[bytes], kind: str) -> None:
        code = proc.wait()
        with self._cond:
            self.broken = True
            if kind == "function":
                self._exit_code = code
            elif self._first_poll_at is None and self._init_error is None and not self._closing:
                message = f"extension {os.path.basename(str(proc.args[0]))} exited during INIT with {code}"
                self._init_error = error_payload("Extension.Crash", message)
            self._cond.notify_all()

    # one invocation

    def invoke(self, inv: Invocation) -> InvokeResult:
        with self._cond:
            self._current = inv  # from here on, the child's output belongs to this invocation
        self._log_harness(f"START RequestId: {inv.request_id} Version: {self.spec.version}")
        started = time.monotonic()
        payload, is_error, status = self._run(inv)
        duration_ms = (time.monotonic() - started) * 1000
        self._runtime_done(inv, payload, status, duration_ms)
        self._log_harness(f"END RequestId: {inv.request_id}")
        self._log_harness(self._report(inv, payload, status, duration_ms))
        with self._cond:
            self._current = None
        FunctionLogs.to_cloudwatch(self.spec, self.log_stream, inv.log_lines)
        tail = "\n".join(inv.log_lines).encode()[-LOG_TAIL_BYTES:].decode("utf-8", "replace")
        return InvokeResult(payload, is_error, self.spec.version, tail, inv.request_id)

    def _run(self, inv: Invocation) -> tuple[bytes, bool, str]:
        """(payload, is_error, telemetry status: success | error | timeout | failure)."""
        rid = inv.request_id
        with self._cond:
            self._pending = inv
            self._cond.notify_all()
            self._cond.wait_for(lambda: inv.delivered_at is not None or self._dead(), self.init_timeout_s)
            if inv.delivered_at is None:
                self._pending = None
                self._shutdown_reason = "failure"
                return self._undelivered(rid), True, "failure"
            remaining = self.spec.timeout_s - (time.monotonic() - inv.delivered_at)
            self._cond.wait_for(lambda: inv.result is not None or self._dead(), max(remaining, 0))
            if inv.result is not None:
                return inv.result, inv.is_error, "error" if inv.is_error else "success"
            self.broken = True
            if self._exit_code is None and self._init_error is None:
                self._shutdown_reason = "timeout"
                message = f"RequestId: {rid} Error: Task timed out after {self.spec.timeout_s:.2f} seconds"
                return error_payload("Sandbox.Timedout", message), True, "timeout"
            self._shutdown_reason = "failure"
            return self._died(rid), True, "failure"

    def _dead(self) -> bool:
        return self._exit_code is not None or self._init_error is not None or self._closing

    def _undelivered(self, rid: str) -> bytes:
        self.broken = True
        if self._init_error is not None or self._exit_code is not None:
            return self._died(rid)
        message = (
            f"RequestId: {rid} Error: INIT did not finish within {self.init_timeout_s:.0f} seconds "
            "(the runtime and every extension must poll for their next event)"
        )
        return error_payload("Runtime.InitTimeout", message)

    def _died(self, rid: str) -> bytes:
        if self._init_error is not None:
            return self._init_error
        code = self._exit_code
        if code is None:
            return error_payload(
                "Runtime.ExitError", f"RequestId: {rid} Error: Runtime exited without providing a reason"
            )
        reason = f"signal: {-code}" if code < 0 else f"exit status {code}"
        return error_payload(
            "Runtime.ExitError", f"RequestId: {rid} Error: Runtime exited with error: {reason}"
        )

    def _log_harness(self, line: str) -> None:
        with self._cond:
            if self._current is not None:
                self._current.log_lines.append(line)
        self.logs.write(self.spec.name, [line])

    def _runtime_done(self, inv: Invocation, payload: bytes, status: str, duration_ms: float) -> None:
        record: dict[str, Any] = {
            "requestId": inv.request_id,
            "status": status,
            "metrics": {"durationMs": round(duration_ms, 3), "producedBytes": len(payload)},
        }
        if status != "success":
            record["errorType"] = _error_type(payload)
        self.telemetry.emit("platform.runtimeDone", record)

    def _report(self, inv: Invocation, payload: bytes, status: str, duration_ms: float) -> str:
        """Emit platform.report and return the REPORT log line."""
        metrics: dict[str, Any] = {
            "durationMs": round(duration_ms, 3),
            "billedDurationMs": int(duration_ms) + 1,
            "memorySizeMB": self.spec.memory_mb,
        }
        peak = _peak_rss_mb(self.pid)
        if peak is not None:
            metrics["maxMemoryUsedMB"] = peak
        init_ms, self._init_ms = self._init_ms, None
        if init_ms is not None:
            metrics["initDurationMs"] = round(init_ms, 3)
        record: dict[str, Any] = {"requestId": inv.request_id, "status": status, "metrics": metrics}
        if status != "success":
            record["errorType"] = _error_type(payload)
        self.telemetry.emit("platform.report", record)
        parts = [
            f"REPORT RequestId: {inv.request_id}",
            f"Duration: {duration_ms:.2f} ms",
            f"Billed Duration: {metrics['billedDurationMs']} ms",
            f"Memory Size: {self.spec.memory_mb} MB",
        ]
        if peak is not None:
            parts.append(f"Max Memory Used: {peak} MB")
        if init_ms is not None:
            parts.append(f"Init Duration: {init_ms:.2f} ms")
        if status == "timeout":
            parts.append("Status: timeout")
        return "\t".join(parts)

    # Runtime API callbacks (called from the Runtime API server's threads)

    def next_invocation(self) -> Invocation | None:
        """The runtime's long poll. An event is delivered once INIT is over (the extensions
        wait for their next event) and the extensions are done with the previous one."""
        with self._cond:
            self._runtime_polling = True
            self._cond.notify_all()
            self._cond.wait_for(
                lambda: (self._pending is not None and self.extensions.ready_locked()) or self._closing
            )
            self._runtime_polling = False
            inv, self._pending = self._pending, None
            if inv is None or self._closing:
                return None
            self._finish_init_locked()
            inv.delivered_at = time.monotonic()
            self.telemetry.emit("platform.start", {"requestId": inv.request_id, "version": self.spec.version})
            self.extensions.invoke_locked(
                {
                    "eventType": "INVOKE",
                    "deadlineMs": int((time.time() + self.spec.timeout_s) * 1000),
                    "requestId": inv.request_id,
                    "invokedFunctionArn": inv.invoked_arn,
                    "tracing": {"type": "X-Amzn-Trace-Id", "value": TRACE_ID},
                }
            )
            self._cond.notify_all()
            return inv

    def _finish_init_locked(self) -> None:
        """INIT is over (once): report it; a cold start also reports it with its first invoke."""
        if self._first_poll_at is not None:
            return
        self._first_poll_at = time.monotonic()
        init_ms = (self._first_poll_at - self._spawned_at) * 1000
        self._init_ms = init_ms if self.init_type == "on-demand" else None
        base = {"initializationType": self.init_type, "phase": "init", "status": "success"}
        self.telemetry.emit("platform.initRuntimeDone", base)
        self.telemetry.emit("platform.initReport", {**base, "metrics": {"durationMs": round(init_ms, 3)}})

    def wait_initialized(self) -> str | None:
        """Run INIT without an invocation (provisioned concurrency); an error text on failure."""
        with self._cond:
            done = self._cond.wait_for(
                lambda: (self._runtime_polling and self.extensions.ready_locked()) or self._dead(),
                self.init_timeout_s,
            )
            if done and not self._dead():
                self._finish_init_locked()
                return None
            self.broken = True
            if self._init_error is not None:
                return self._init_error.decode("utf-8", "replace")
            if self._exit_code is not None:
                return f"Runtime exited during INIT with {self._exit_code}"
            return f"INIT did not finish within {self.init_timeout_s:.0f} seconds"

    def post_result(self, request_id: str, body: bytes, is_error: bool) -> bool:
        with self._cond:
            inv = self._current
            if inv is None or inv.request_id != request_id or inv.result is not None:
                return False
            if not is_error and len(body) > MAX_RESPONSE_BYTES:
                message = (
                    f"Response payload size ({len(body)} bytes) exceeded maximum allowed "
                    f"payload size ({MAX_RESPONSE_BYTES} bytes)."
                )
                body, is_error = error_payload("Function.ResponseSizeTooLarge", message), True
            inv.result, inv.is_error = body, is_error
            self._cond.notify_all()
            return True

    def post_init_error(self, body: bytes) -> None:
        with self._cond:
            self._init_error = body
            self.broken = True
            self._cond.notify_all()

    def post_extension_exit_error(self) -> None:
        with self._cond:
            self.broken = True  # Lambda resets the environment


def _error_type(payload: bytes) -> str:
    try:
        doc = json.loads(payload)
    except ValueError:
        return "Unknown"
    return str(doc.get("errorType") or "Unknown") if isinstance(doc, dict) else "Unknown"


def _end_process_group(proc: subprocess.Popen[bytes], grace_s: float = 0.5) -> None:
    """SIGTERM, a short grace, then SIGKILL for the bootstrap's whole process group.

    The group outlives its leader, so this also ends what a crashed bootstrap left behind.
    """
    pgid = proc.pid  # the bootstrap leads its own group (process_group=0)
    with contextlib.suppress(ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(pgid, signal.SIGTERM)
        proc.wait(timeout=grace_s)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    proc.wait()


def _log_stream_name(version: str) -> str:
    today = datetime.now(UTC).strftime("%Y/%m/%d")
    return f"{today}/[{version}]{secrets.token_hex(16)}"


def _peak_rss_mb(pid: int | None) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return max(1, int(line.split()[1]) // 1024)
    except (OSError, ValueError):
        return None
    return None


def _error_body(body: bytes, error_type: str | None) -> bytes:
    """Errors reach the caller as the runtime posted them, if they are a JSON object."""
    try:
        if isinstance(json.loads(body), dict):
            return body
    except ValueError:
        pass
    return error_payload(error_type or "Unknown", body.decode("utf-8", "replace"))


# -- the Runtime API endpoint of one worker ---------------------------------------------------

_RESULT_PATH = re.compile(r"^/2018-06-01/runtime/invocation/(?P<rid>[^/]+)/(?P<kind>response|error)$")


class _RuntimeApiServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, worker: Worker):
        self.worker = worker
        super().__init__(("127.0.0.1", 0), _RuntimeApiHandler)
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"

    def close(self) -> None:
        self.shutdown()
        self.server_close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the child went away mid-request: nothing to report


class _RuntimeApiHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _RuntimeApiServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path == "/2018-06-01/runtime/invocation/next":
            return self._next_invocation()
        if path == "/2020-01-01/extension/event/next":
            return self._next_extension_event()
        self._reply(404, {"errorType": "NotFound", "errorMessage": self.path})

    def do_POST(self) -> None:
        body = self._read_body()
        worker = self.server.worker
        error_type = self.headers.get("Lambda-Runtime-Function-Error-Type") or self.headers.get(
            "Lambda-Extension-Function-Error-Type"
        )
        if self.path == "/2018-06-01/runtime/init/error":
            worker.post_init_error(_error_body(body, error_type))
            return self._reply(202, {"status": "OK"})
        if self.path == "/2020-01-01/extension/register":
            return self._register_extension(body)
        if self.path == "/2020-01-01/extension/init/error":
            worker.post_init_error(_error_body(body, error_type or "Extension.InitError"))
            return self._reply(202, {"status": "OK"})
        if self.path == "/2020-01-01/extension/exit/error":
            worker.post_extension_exit_error()
            return self._reply(202, {"status": "OK"})
        match = _RESULT_PATH.match(self.path)
        if not match:
            return self._reply(404, {"errorType": "NotFound", "errorMessage": self.path})
        is_error = match.group("kind") == "error"
        if is_error:
            body = _error_body(body, error_type)
        if worker.post_result(match.group("rid"), body, is_error):
            return self._reply(202, {"status": "OK"})
        self._reply(400, {"errorType": "InvalidRequestID", "errorMessage": "Invalid request ID"})

    def do_PUT(self) -> None:
        body = self._read_body()
        if self.path.split("?")[0] != "/2022-07-01/telemetry":
            return self._reply(404, {"errorType": "NotFound", "errorMessage": self.path})
        worker = self.server.worker
        name = worker.extensions.name_of(self.headers.get("Lambda-Extension-Identifier", ""))
        if name is None:
            return self._reply(
                403, {"errorType": "Extension.UnknownId", "errorMessage": "unknown extension id"}
            )
        try:
            worker.telemetry.subscribe(name, json.loads(body or b"{}"))
        except (ValueError, AttributeError) as err:
            return self._reply(400, {"errorType": "ValidationError", "errorMessage": str(err)})
        self._send(200, b"OK", {"Content-Type": "text/plain"})

    def _next_invocation(self) -> None:
        inv = self.server.worker.next_invocation()
        if inv is None:  # shutting down
            return self._reply(500, {"errorType": "Shutdown", "errorMessage": "environment is shutting down"})
        spec = self.server.worker.spec
        headers = {
            "Content-Type": "application/json",
            "Lambda-Runtime-Aws-Request-Id": inv.request_id,
            "Lambda-Runtime-Deadline-Ms": str(int((time.time() + spec.timeout_s) * 1000)),
            "Lambda-Runtime-Invoked-Function-Arn": inv.invoked_arn,
            "Lambda-Runtime-Trace-Id": TRACE_ID,
        }
        if inv.client_context:
            headers["Lambda-Runtime-Client-Context"] = inv.client_context
        self._send(200, inv.event, headers)

    def _register_extension(self, body: bytes) -> None:
        name = self.headers.get("Lambda-Extension-Name")
        if not name:
            return self._reply(
                400, {"errorType": "InvalidRequest", "errorMessage": "Lambda-Extension-Name missing"}
            )
        try:
            events = list(json.loads(body or b"{}").get("events") or [])
        except (ValueError, AttributeError):
            return self._reply(400, {"errorType": "InvalidRequest", "errorMessage": "body must be JSON"})
        worker = self.server.worker
        ext_id = worker.extensions.register(name, events)
        worker.telemetry.emit("platform.extension", {"name": name, "state": "Ready", "events": events})
        doc = json.dumps(worker.extensions.registration).encode()
        self._send(200, doc, {"Content-Type": "application/json", "Lambda-Extension-Identifier": ext_id})

    def _next_extension_event(self) -> None:
        event = self.server.worker.extensions.next_event(self.headers.get("Lambda-Extension-Identifier", ""))
        if event is None:
            return self._reply(
                403, {"errorType": "Extension.UnknownId", "errorMessage": "unknown id or shutdown"}
            )
        headers = {"Content-Type": "application/json", "Lambda-Extension-Event-Identifier": str(uuid.uuid4())}
        self._send(200, json.dumps(event).encode(), headers)

    def _read_body(self) -> bytes:
        """Content-Length or chunked (streamed responses and some HTTP clients use chunks)."""
        if "chunked" not in self.headers.get("Transfer-Encoding", "").lower():
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""
        chunks = []
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline()  # the CRLF after each chunk

    def _reply(self, code: int, doc: dict[str, str]) -> None:
        self._send(code, json.dumps(doc).encode(), {"Content-Type": "application/json"})

    def _send(self, code: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(code)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
