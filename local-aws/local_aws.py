#!/usr/bin/env python3
"""local-aws: moto's server plus the bridges this project needs, without Docker or an account.

    python local_aws.py --host 127.0.0.1 --port PORT --state-dir DIR

`--port 0` lets the kernel choose a free port. Once listening, the launcher writes the
endpoint URL to DIR/endpoint and prints one line: `local-aws ready on http://HOST:PORT`.
Everything else goes to files in DIR: requests.log (one line per request), local-aws.log
(warnings, moto tracebacks) and lambda/<function>.log (each function's stdout/stderr).

Layers, outermost first (each answers its own routes and passes everything else on):
    RequestLog -> ResetHook -> ProvisionedConcurrency -> LambdaInvokeRoute -> CborBridge -> moto
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from wsgi_util import Environ, StartResponse, WsgiApp  # noqa: E402

log = logging.getLogger("local-aws")


class RequestLog:
    """One line per request (method, path, status, milliseconds) in requests.log."""

    def __init__(self, app: WsgiApp, path: Path):
        self.app = app
        self._file = open(path, "a", buffering=1)  # noqa: SIM115 - open for the server's lifetime
        self._lock = threading.Lock()

    def __call__(self, environ: Environ, start_response: StartResponse):
        started = time.monotonic()
        seen: dict[str, str] = {}

        def recording(status: str, headers: Any, exc_info: Any = None) -> Any:
            seen["status"] = status.split()[0]
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        try:
            return self.app(environ, recording)
        finally:
            self._write(environ, seen.get("status", "-"), (time.monotonic() - started) * 1000)

    def _write(self, environ: Environ, status: str, millis: float) -> None:
        query = environ.get("QUERY_STRING")
        target = environ.get("HTTP_X_AMZ_TARGET")
        fields = [
            time.strftime("%H:%M:%S"),
            str(environ.get("REQUEST_METHOD")),
            environ.get("PATH_INFO", "") + (f"?{query}" if query else ""),
            *([target] if target else []),
            status,
            f"{millis:.0f}ms",
        ]
        with self._lock:
            self._file.write(" ".join(fields) + "\n")


class ResetHook:
    """`POST /moto-api/reset` also forgets our own state and stops warm functions."""

    def __init__(self, app: WsgiApp, *on_reset: Any):
        self.app = app
        self.on_reset = on_reset

    def __call__(self, environ: Environ, start_response: StartResponse):
        if environ.get("PATH_INFO") == "/moto-api/reset" and environ.get("REQUEST_METHOD") == "POST":
            for callback in self.on_reset:
                callback()
        return self.app(environ, start_response)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--state-dir", type=Path, default=Path(".local-aws"))
    parser.add_argument(
        "--pc-ready-delay",
        type=float,
        default=float(env("LOCAL_AWS_PC_READY_DELAY_S", "0")),
        help="seconds before a provisioned-concurrency config may report READY (default 0: on the next read)",
    )
    parser.add_argument(
        "--lambda-init-timeout",
        type=float,
        default=float(env("LOCAL_AWS_LAMBDA_INIT_TIMEOUT_S", "10")),
        help="seconds a bootstrap may take before its first poll for an event",
    )
    parser.add_argument(
        "--new-session",
        action="store_true",
        help="lead a new process group (scripts/local-aws.sh stop then ends every bootstrap with it)",
    )
    parser.add_argument(
        "--max-warm",
        type=int,
        default=int(env("LOCAL_AWS_MAX_WARM", "4")),
        help="idle processes kept per function version",
    )
    return parser.parse_args(argv)


def configure_logging(state_dir: Path) -> None:
    handler = logging.FileHandler(state_dir / "local-aws.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    logging.captureWarnings(True)
    # werkzeug's own per-request lines duplicate requests.log; keep its errors.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)


def build_app(endpoint_url: str, state_dir: Path, args: argparse.Namespace) -> tuple[WsgiApp, Any]:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    import moto_patches
    from cbor_bridge import CborBridge
    from lambda_runner import LambdaInvoker, LambdaInvokeRoute, Provisioner, WarmPool
    from provisioned_concurrency import ProvisionedConcurrency

    pool = WarmPool(endpoint_url, state_dir / "lambda", args.lambda_init_timeout, args.max_warm)
    invoker = LambdaInvoker(pool)
    moto_patches.apply_all(invoker)

    app: WsgiApp = DomainDispatcherApplication(create_backend_app)
    app = CborBridge(app, log)
    app = LambdaInvokeRoute(app, invoker, log)
    pc = ProvisionedConcurrency(app, args.pc_ready_delay, Provisioner(pool), args.lambda_init_timeout + 5)
    app = ResetHook(pc, pc.reset, pool.stop_all)
    app = RequestLog(app, state_dir / "requests.log")
    return app, pool


def start_new_session() -> None:
    # PermissionError: already a process-group leader (started by a shell with job control)
    with contextlib.suppress(PermissionError):
        os.setsid()


def write_atomically(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.new_session:
        start_new_session()
    state_dir: Path = args.state_dir.resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    configure_logging(state_dir)

    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import make_server

    class QuietHandler(MotoRequestHandler):
        def log_request(self, code: Any = "-", size: Any = "-") -> None:
            pass  # RequestLog writes one line per request

    # Bind first (port 0 -> a free port), then build the app: the Lambda children and the Step
    # Functions interpreter both need the real port.
    server = make_server(
        args.host, args.port, lambda e, s: app(e, s), threaded=True, request_handler=QuietHandler
    )
    port = server.server_address[1]
    public_host = "127.0.0.1" if args.host in ("0.0.0.0", "") else args.host
    endpoint = f"http://{public_host}:{port}"
    os.environ["MOTO_PORT"] = str(port)  # moto's Step Functions interpreter calls localhost:MOTO_PORT
    app, pool = build_app(endpoint, state_dir, args)

    def shutdown(signum: int, _frame: Any) -> None:
        log.info("signal %d: shutting down", signum)
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)

    endpoint_file = state_dir / "endpoint"
    write_atomically(endpoint_file, endpoint + "\n")
    log.info("listening on %s (pid %d)", endpoint, os.getpid())
    print(f"local-aws ready on {endpoint}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        pool.stop_all()
        server.server_close()
        if endpoint_file.exists() and endpoint_file.read_text().strip() == endpoint:
            endpoint_file.unlink()
        log.info("stopped")
    return 0


if __name__ == "__main__":
    status = main()
    # Everything is stopped and flushed: skip the interpreter's teardown of moto's many
    # modules (close to a second), so `stop` and test fixtures return quickly.
    logging.shutdown()
    sys.stdout.flush()
    os._exit(status)
