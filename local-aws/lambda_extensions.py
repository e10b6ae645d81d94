"""The Extensions API and the Telemetry API of one local execution environment.

External extensions (executables named by the function's env var LOCAL_EXTENSIONS, the way
/opt/extensions holds them in Lambda) start beside the bootstrap and talk to the same
AWS_LAMBDA_RUNTIME_API endpoint:

    POST /2020-01-01/extension/register      Lambda-Extension-Name -> Lambda-Extension-Identifier
    GET  /2020-01-01/extension/event/next    INVOKE / SHUTDOWN events (long poll)
    POST /2020-01-01/extension/init/error    POST /2020-01-01/extension/exit/error
    PUT  /2022-07-01/telemetry               subscribe an HTTP listener to platform/function/
                                             extension records (schema 2022-12-13)

As in Lambda: init ends when the runtime and every extension are waiting for their next
event; an invocation is delivered only when the extensions registered for INVOKE have
finished the previous one; SHUTDOWN gives them 2 seconds; telemetry is batched by the
subscriber's `buffering` and replays what happened before the subscription (the init phase).
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
import urllib.request
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

EXTENSIONS_VAR = "LOCAL_EXTENSIONS"
SHUTDOWN_WINDOW_S = 2.0
SANDBOX_HOSTS = ("sandbox.localdomain", "sandbox")

log = logging.getLogger("local-aws.extensions")


def extension_paths(environment: dict[str, str]) -> tuple[str, ...]:
    """Absolute paths from LOCAL_EXTENSIONS (separated by ':')."""
    raw = environment.get(EXTENSIONS_VAR, "")
    return tuple(p for p in raw.split(os.pathsep) if p.strip())


def iso_now() -> str:
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


# -- Extensions API -------------------------------------------------------------------------------


@dataclass
class _Extension:
    id: str
    name: str
    events: frozenset[str]
    queue: deque[dict[str, Any]] = field(default_factory=deque)
    polling: bool = False  # parked in /event/next, i.e. done with the last event
    shut_down: bool = False  # received SHUTDOWN


class ExtensionHost:
    """Extensions API state. Shares the worker's condition: callers of the `*_locked` methods
    hold it already; the others take it."""

    def __init__(self, cond: threading.Condition, expected: int, registration: dict[str, str]):
        self._cond = cond
        self.expected = expected
        self.registration = registration
        self._by_id: dict[str, _Extension] = {}
        self._closing = False

    # called from Runtime API threads

    def register(self, name: str, events: list[str]) -> str:
        with self._cond:
            ext = _Extension(
                str(uuid.uuid4()), name, frozenset(e for e in events if e in ("INVOKE", "SHUTDOWN"))
            )
            self._by_id[ext.id] = ext
            self._cond.notify_all()
            return ext.id

    def name_of(self, ext_id: str) -> str | None:
        with self._cond:
            ext = self._by_id.get(ext_id)
            return ext.name if ext else None

    def next_event(self, ext_id: str) -> dict[str, Any] | None:
        """Block until the extension's next event; None for an unknown id or a closing host."""
        with self._cond:
            ext = self._by_id.get(ext_id)
            if ext is None:
                return None
            ext.polling = True
            self._cond.notify_all()
            self._cond.wait_for(lambda: bool(ext.queue) or self._closing)
            if not ext.queue:
                return None
            ext.polling = False
            return ext.queue.popleft()

    # called by the worker, holding the condition

    def ready_locked(self) -> bool:
        """Every extension registered and waiting: init is over / the last invoke is done."""
        return len(self._by_id) >= self.expected and all(e.polling for e in self._by_id.values())

    def invoke_locked(self, event: dict[str, Any]) -> None:
        for ext in self._by_id.values():
            if "INVOKE" in ext.events:
                ext.queue.append(event)
        self._cond.notify_all()

    def shutdown_locked(self, reason: str) -> bool:
        """Send SHUTDOWN; True when some extension registered for it (and gets the window)."""
        deadline_ms = int((time.time() + SHUTDOWN_WINDOW_S) * 1000)
        event = {"eventType": "SHUTDOWN", "shutdownReason": reason, "deadlineMs": deadline_ms}
        targets = [e for e in self._by_id.values() if "SHUTDOWN" in e.events]
        for ext in targets:
            ext.queue.append(event)
            ext.polling = False
            ext.shut_down = True
        self._cond.notify_all()
        return bool(targets)

    def shutdown_done_locked(self) -> bool:
        return all(e.polling for e in self._by_id.values() if e.shut_down)

    def close_locked(self) -> None:
        self._closing = True
        self._cond.notify_all()


# -- Telemetry API ----------------------------------------------------------------------------------


def _category(record_type: str) -> str:
    return "platform" if record_type.startswith("platform.") else record_type


def _local_uri(uri: str) -> str:
    """Deliver to sandbox.localdomain on this machine."""
    parts = urlsplit(uri)
    if parts.hostname in SANDBOX_HOSTS:
        netloc = "127.0.0.1" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    return uri


class _Subscription:
    def __init__(self, name: str, uri: str, types: set[str], buffering: dict[str, Any]):
        self.name = name
        self.uri = _local_uri(uri)
        self.types = types
        self.max_items = int(buffering.get("maxItems") or 10_000)
        self.timeout_s = max(int(buffering.get("timeoutMs") or 1000), 25) / 1000
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"telemetry-{name}")
        self._thread.start()

    def put(self, entry: dict[str, Any]) -> None:
        if _category(entry["type"]) in self.types:
            self._queue.put(entry)

    def close(self, timeout_s: float) -> None:
        self._queue.put(None)
        self._thread.join(timeout_s)

    def _run(self) -> None:
        closing = False
        while not closing:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            deadline = time.monotonic() + self.timeout_s
            while len(batch) < self.max_items:
                try:
                    item = self._queue.get(timeout=max(deadline - time.monotonic(), 0))
                except queue.Empty:
                    break
                if item is None:
                    closing = True
                    break
                batch.append(item)
            self._post(batch)

    def _post(self, batch: list[dict[str, Any]]) -> None:
        body = json.dumps(batch).encode()
        req = urllib.request.Request(self.uri, body, {"Content-Type": "application/json"}, method="POST")
        try:
            urllib.request.urlopen(req, timeout=2).read()
        except OSError as err:
            log.warning("telemetry to %s (%s) failed: %s", self.name, self.uri, err)


class Telemetry:
    """Records of one environment, fanned out to the subscribed extensions' listeners."""

    BACKLOG = 10_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._backlog: deque[dict[str, Any]] = deque(maxlen=self.BACKLOG)
        self._subscriptions: list[_Subscription] = []

    def emit(self, record_type: str, record: Any) -> None:
        entry = {"time": iso_now(), "type": record_type, "record": record}
        with self._lock:
            self._backlog.append(entry)
            for sub in self._subscriptions:
                sub.put(entry)

    def subscribe(self, name: str, request: dict[str, Any]) -> None:
        """Validate a subscription request (raises ValueError) and start delivering."""
        destination = request.get("destination") or {}
        uri = destination.get("URI")
        if destination.get("protocol") != "HTTP" or not uri:
            raise ValueError("destination must be {'protocol': 'HTTP', 'URI': ...}")
        types = set(request.get("types") or [])
        if not types or not types <= {"platform", "function", "extension"}:
            raise ValueError("types must be a non-empty subset of platform, function, extension")
        sub = _Subscription(name, uri, types, request.get("buffering") or {})
        with self._lock:
            for entry in self._backlog:
                sub.put(entry)
            self._subscriptions.append(sub)
        self.emit(
            "platform.telemetrySubscription", {"name": name, "state": "Subscribed", "types": sorted(types)}
        )

    def close(self, timeout_s: float = 1.0) -> None:
        """Deliver what is buffered, then stop."""
        with self._lock:
            subs, self._subscriptions = self._subscriptions, []
        for sub in subs:
            sub.close(timeout_s)
