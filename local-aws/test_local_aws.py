"""Tests of the local-aws harness, over real HTTP against a launcher subprocess.

Run with the harness's own virtualenv:  .venv/local-aws/bin/python -m unittest -v test_local_aws
(or `scripts/local-aws.sh selftest`).
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import io
import json
import os
import re
import signal
import struct
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest
import urllib.error
import urllib.request
import uuid
import zipfile
from pathlib import Path
from typing import Any

import boto3
import cbor2
from botocore.config import Config
from botocore.exceptions import ClientError

HERE = Path(__file__).resolve().parent
REGION = "eu-west-1"
ACCOUNT = "123456789012"
# moto does not check signatures; the credential scope tells it the region and service.
FAKE_AUTH = (
    f"AWS4-HMAC-SHA256 Credential=test/20250101/{REGION}/{{service}}/aws4_request, "
    "SignedHeaders=host, Signature=0"
)

# A custom runtime that speaks the Lambda Runtime API and counts its invocations in memory.
BOOTSTRAP = textwrap.dedent(
    """\
    #!{python}
    import http.client, json, os, subprocess, sys, time, urllib.request

    API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"
    count = 0
    helper = subprocess.Popen(["sleep", "600"])  # a child of the bootstrap: must end with it
    print("init pid", os.getpid(), "helper", helper.pid, flush=True)

    def post(path, doc, headers=None):
        req = urllib.request.Request(API + path, json.dumps(doc).encode(), headers or {{}}, method="POST")
        urllib.request.urlopen(req).read()

    while True:
        with urllib.request.urlopen(API + "/invocation/next") as resp:
            rid = resp.headers["Lambda-Runtime-Aws-Request-Id"]
            arn = resp.headers["Lambda-Runtime-Invoked-Function-Arn"]
            event = json.loads(resp.read())
        count += 1
        action = event.get("action") if isinstance(event, dict) else None
        print("handling", rid, action, flush=True)
        if action == "error":
            post("/invocation/" + rid + "/error", {{"errorType": "Boom", "errorMessage": "it failed"}},
                 {{"Lambda-Runtime-Function-Error-Type": "Boom"}})
            continue
        if action == "sleep":
            time.sleep(event["seconds"])
        if action == "exit":
            sys.exit(3)
        if action == "touch":
            open(event["path"], "w").write("ran")
        if action == "chunked":  # a response body sent with Transfer-Encoding: chunked
            host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
            conn = http.client.HTTPConnection(host, int(port))
            parts = [b'{{"chunked": ', b'true, "count": ', str(count).encode(), b'}}']
            conn.request("POST", "/2018-06-01/runtime/invocation/" + rid + "/response", iter(parts),
                         encode_chunked=True)
            conn.getresponse().read()
            continue
        keys = ("MODE", "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_REGION", "AWS_ENDPOINT_URL",
                "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_ACCESS_KEY_ID", "AWS_LAMBDA_INITIALIZATION_TYPE")
        post("/invocation/" + rid + "/response", {{
            "event": event, "count": count, "pid": os.getpid(), "helper": helper.pid, "arn": arn, "rid": rid,
            "env": {{k: os.environ.get(k) for k in keys}},
        }})
    """
)


# An external extension: registers for INVOKE and SHUTDOWN, subscribes a listener to the
# Telemetry API, and records everything it receives (one JSON document a line) in $EXT_OUT.
EXTENSION = textwrap.dedent(
    """\
    #!{python}
    import json, os, sys, threading, time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.request import Request, urlopen

    API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"]
    lock = threading.Lock()

    def record(doc):
        with lock, open(os.environ["EXT_OUT"], "a") as f:
            f.write(json.dumps(doc) + "\\n")

    class Listener(BaseHTTPRequestHandler):
        def do_POST(self):
            for rec in json.loads(self.rfile.read(int(self.headers["Content-Length"]))):
                record({{"telemetry": rec}})
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Listener)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    body = json.dumps({{"events": ["INVOKE", "SHUTDOWN"]}}).encode()
    name = {{"Lambda-Extension-Name": os.path.basename(sys.argv[0])}}
    resp = urlopen(Request(API + "/2020-01-01/extension/register", body, name, method="POST"))
    ext_id = resp.headers["Lambda-Extension-Identifier"]
    record({{"registered": json.loads(resp.read()), "pid": os.getpid()}})
    subscription = {{
        "schemaVersion": "2022-12-13",
        "destination": {{"protocol": "HTTP", "URI": "http://sandbox.localdomain:%d" % server.server_port}},
        "types": ["platform", "function"],
        "buffering": {{"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 25}},
    }}
    headers = {{"Lambda-Extension-Identifier": ext_id, "Content-Type": "application/json"}}
    body = json.dumps(subscription).encode()
    urlopen(Request(API + "/2022-07-01/telemetry", body, headers, method="PUT")).read()
    print("extension ready", flush=True)
    while True:
        req = Request(API + "/2020-01-01/extension/event/next", headers=headers)
        event = json.loads(urlopen(req).read())
        record({{"event": event}})
        if event["eventType"] == "SHUTDOWN":
            time.sleep(0.3)  # the last telemetry batch is still on its way
            sys.exit(0)
    """
)


class Emulator:
    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="local-aws-test-"))
        self.state_dir = self.tmp / "state"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(HERE / "local_aws.py"),
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--state-dir",
                str(self.state_dir),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        started = time.monotonic()
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        self.startup_s = time.monotonic() - started
        if not line.startswith("local-aws ready on "):
            raise RuntimeError(f"launcher did not start: {line!r}\n{self.proc.stdout.read()}")
        self.url = line.removeprefix("local-aws ready on ")
        self.pids_seen: set[int] = set()

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(retries={"max_attempts": 1}, read_timeout=60),
        )

    def raw(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        service: str = "lambda",
    ) -> tuple[int, dict[str, str], bytes]:
        req = urllib.request.Request(
            self.url + path,
            data=body,
            method=method,
            headers={"Authorization": FAKE_AUTH.format(service=service), **(headers or {})},
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
        except urllib.error.HTTPError as err:
            return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise


EMU: Emulator
ROLE_ARN = ""


def setUpModule() -> None:
    global EMU, ROLE_ARN
    EMU = Emulator()
    iam = EMU.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    ROLE_ARN = iam.create_role(RoleName="local-aws-test", AssumeRolePolicyDocument=json.dumps(trust))["Role"][
        "Arn"
    ]


def tearDownModule() -> None:
    code = EMU.stop()
    time.sleep(0.2)
    alive = [pid for pid in EMU.pids_seen if _alive(pid)]
    assert code == 0, f"launcher exited with {code}"
    assert not alive, f"bootstrap processes survived the launcher: {alive}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is not alive
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _ends(pid: int, within_s: float = 5.0) -> bool:
    deadline = time.monotonic() + within_s
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def make_bootstrap() -> str:
    path = EMU.tmp / unique("bootstrap")
    path.write_text(BOOTSTRAP.format(python=sys.executable))
    path.chmod(0o755)
    return str(path)


def make_extension(text: str = EXTENSION) -> str:
    directory = EMU.tmp / unique("extensions")
    directory.mkdir()
    path = directory / "test-extension"
    path.write_text(text.format(python=sys.executable))
    path.chmod(0o755)
    return str(path)


def dummy_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("bootstrap", "#!/bin/sh\n")
    return buf.getvalue()


def create_function(timeout: int = 10, env: dict[str, str] | None = None) -> str:
    name = unique("fn")
    EMU.client("lambda").create_function(
        FunctionName=name,
        Runtime="provided.al2023",
        Role=ROLE_ARN,
        Handler="bootstrap",
        Code={"ZipFile": dummy_zip()},
        Timeout=timeout,
        MemorySize=256,
        Environment={"Variables": {"LOCAL_BOOTSTRAP": make_bootstrap(), "MODE": "a", **(env or {})}},
    )
    return name


def invoke(name: str, event: Any, **kwargs: Any) -> tuple[dict[str, Any], Any]:
    resp = EMU.client("lambda").invoke(FunctionName=name, Payload=json.dumps(event).encode(), **kwargs)
    body = resp["Payload"].read()
    doc = json.loads(body) if body else None
    if isinstance(doc, dict) and "pid" in doc:
        EMU.pids_seen.update((doc["pid"], doc["helper"]))
    return resp, doc


class ProvisionedConcurrencyTest(unittest.TestCase):
    def setUp(self) -> None:
        self.lam = EMU.client("lambda")
        self.name = create_function()
        self.version = self.lam.publish_version(FunctionName=self.name)["Version"]
        self.lam.create_alias(FunctionName=self.name, Name="live", FunctionVersion=self.version)

    def test_put_is_in_progress_then_get_is_ready(self) -> None:
        put = self.lam.put_provisioned_concurrency_config(
            FunctionName=self.name, Qualifier="live", ProvisionedConcurrentExecutions=3
        )
        self.assertEqual(put["ResponseMetadata"]["HTTPStatusCode"], 202)
        self.assertEqual(put["Status"], "IN_PROGRESS")
        self.assertEqual(put["RequestedProvisionedConcurrentExecutions"], 3)
        self.assertEqual(put["AllocatedProvisionedConcurrentExecutions"], 0)
        self.assertRegex(put["LastModified"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$")
        got = self.lam.get_provisioned_concurrency_config(FunctionName=self.name, Qualifier="live")
        self.assertEqual(got["Status"], "READY")
        self.assertEqual(got["AvailableProvisionedConcurrentExecutions"], 3)
        self.assertEqual(got["AllocatedProvisionedConcurrentExecutions"], 3)

    def test_list_and_delete(self) -> None:
        self.lam.put_provisioned_concurrency_config(
            FunctionName=self.name, Qualifier=self.version, ProvisionedConcurrentExecutions=2
        )
        self.lam.put_provisioned_concurrency_config(
            FunctionName=self.name, Qualifier="live", ProvisionedConcurrentExecutions=1
        )
        listed = self.lam.list_provisioned_concurrency_configs(FunctionName=self.name)[
            "ProvisionedConcurrencyConfigs"
        ]
        arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.name}"
        self.assertEqual(
            sorted(c["FunctionArn"] for c in listed), sorted([f"{arn}:{self.version}", f"{arn}:live"])
        )
        self.assertTrue(all(c["Status"] == "READY" for c in listed))
        deleted = self.lam.delete_provisioned_concurrency_config(FunctionName=self.name, Qualifier="live")
        self.assertEqual(deleted["ResponseMetadata"]["HTTPStatusCode"], 204)
        listed = self.lam.list_provisioned_concurrency_configs(FunctionName=self.name)[
            "ProvisionedConcurrencyConfigs"
        ]
        self.assertEqual([c["FunctionArn"] for c in listed], [f"{arn}:{self.version}"])

    def test_latest_is_rejected(self) -> None:
        with self.assertRaises(ClientError) as ctx:
            self.lam.put_provisioned_concurrency_config(
                FunctionName=self.name, Qualifier="$LATEST", ProvisionedConcurrentExecutions=1
            )
        self.assertEqual(ctx.exception.response["Error"]["Code"], "InvalidParameterValueException")
        self.assertEqual(ctx.exception.response["ResponseMetadata"]["HTTPStatusCode"], 400)

    def test_unknown_function_or_qualifier_is_not_found(self) -> None:
        for function, qualifier in ((unique("missing"), "1"), (self.name, "99"), (self.name, "nosuchalias")):
            with self.subTest(function=function, qualifier=qualifier), self.assertRaises(ClientError) as ctx:
                self.lam.put_provisioned_concurrency_config(
                    FunctionName=function, Qualifier=qualifier, ProvisionedConcurrentExecutions=1
                )
            self.assertEqual(ctx.exception.response["Error"]["Code"], "ResourceNotFoundException")
            self.assertEqual(ctx.exception.response["ResponseMetadata"]["HTTPStatusCode"], 404)

    def test_missing_config_is_config_not_found(self) -> None:
        with self.assertRaises(ClientError) as ctx:
            self.lam.get_provisioned_concurrency_config(FunctionName=self.name, Qualifier="live")
        self.assertEqual(
            ctx.exception.response["Error"]["Code"], "ProvisionedConcurrencyConfigNotFoundException"
        )
        self.assertEqual(ctx.exception.response["ResponseMetadata"]["HTTPStatusCode"], 404)

    def test_provisioned_environments_are_warm_before_the_first_invoke(self) -> None:
        self.lam.put_provisioned_concurrency_config(
            FunctionName=self.name, Qualifier="live", ProvisionedConcurrentExecutions=2
        )
        got = self.lam.get_provisioned_concurrency_config(FunctionName=self.name, Qualifier="live")
        self.assertEqual(got["Status"], "READY")
        log = EMU.state_dir / "lambda" / f"{self.name}.log"
        self.assertEqual(log.read_text().count("init pid"), 2, "two environments ran INIT before any invoke")
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            docs = list(
                pool.map(
                    lambda _: invoke(self.name, {"action": "sleep", "seconds": 0.5}, Qualifier="live")[1],
                    range(2),
                )
            )
        self.assertEqual(
            {d["env"]["AWS_LAMBDA_INITIALIZATION_TYPE"] for d in docs}, {"provisioned-concurrency"}
        )
        self.assertEqual(log.read_text().count("init pid"), 2, "no cold start")
        self.assertNotIn("Init Duration", log.read_text())
        self.lam.delete_provisioned_concurrency_config(FunctionName=self.name, Qualifier="live")
        self.assertTrue(all(_ends(d["pid"]) for d in docs), "deleting the config ends its environments")

    def test_init_failure_is_failed_status(self) -> None:
        name = create_function(env={"LOCAL_EXTENSIONS": make_extension("#!/bin/sh\nexit 1\n")})
        version = self.lam.publish_version(FunctionName=name)["Version"]
        self.lam.put_provisioned_concurrency_config(
            FunctionName=name, Qualifier=version, ProvisionedConcurrentExecutions=1
        )
        got = self.lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier=version)
        self.assertEqual(got["Status"], "FAILED")
        self.assertIn("FUNCTION_ERROR_INIT_FAILURE", got["StatusReason"])

    def test_error_wire_shape(self) -> None:
        status, headers, body = EMU.raw(
            "GET", f"/2019-09-30/functions/{self.name}/provisioned-concurrency?Qualifier=live"
        )
        self.assertEqual(status, 404)
        self.assertEqual(headers["x-amzn-errortype"], "ProvisionedConcurrencyConfigNotFoundException")
        doc = json.loads(body)
        self.assertEqual(doc["Type"], "User")
        self.assertIn("message", doc)

    def test_more_than_reserved_concurrency_is_rejected(self) -> None:
        self.lam.put_function_concurrency(FunctionName=self.name, ReservedConcurrentExecutions=2)
        with self.assertRaises(ClientError) as ctx:
            self.lam.put_provisioned_concurrency_config(
                FunctionName=self.name, Qualifier="live", ProvisionedConcurrentExecutions=3
            )
        self.assertEqual(ctx.exception.response["Error"]["Code"], "InvalidParameterValueException")


class LambdaInvokeTest(unittest.TestCase):
    def setUp(self) -> None:
        self.lam = EMU.client("lambda")

    def test_returns_event_and_stays_warm(self) -> None:
        name = create_function()
        resp, first = invoke(name, {"hello": "world"})
        self.assertEqual(resp["StatusCode"], 200)
        self.assertNotIn("FunctionError", resp)
        self.assertEqual(resp["ExecutedVersion"], "$LATEST")
        self.assertEqual(first["event"], {"hello": "world"})
        self.assertEqual(first["count"], 1)
        _, second = invoke(name, {"n": 2})
        self.assertEqual(second["count"], 2, "the second invoke must reuse the warm process")
        self.assertEqual(second["pid"], first["pid"])
        env = first["env"]
        self.assertEqual(env["AWS_LAMBDA_FUNCTION_NAME"], name)
        self.assertEqual(env["AWS_LAMBDA_FUNCTION_VERSION"], "$LATEST")
        self.assertEqual(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "256")
        self.assertEqual(env["AWS_LAMBDA_LOG_GROUP_NAME"], f"/aws/lambda/{name}")
        self.assertEqual(env["AWS_REGION"], REGION)
        self.assertEqual(env["AWS_ENDPOINT_URL"], EMU.url)
        self.assertEqual(env["AWS_ACCESS_KEY_ID"], "test")
        self.assertEqual(first["arn"], f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}")
        log_file = EMU.state_dir / "lambda" / f"{name}.log"
        self.assertIn("init pid", log_file.read_text())
        self.assertIn("REPORT RequestId:", log_file.read_text())

    def test_concurrent_invokes_get_separate_processes(self) -> None:
        name = create_function()
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            docs = list(pool.map(lambda _: invoke(name, {"action": "sleep", "seconds": 1})[1], range(2)))
        self.assertNotEqual(docs[0]["pid"], docs[1]["pid"])
        _, third = invoke(name, {})
        self.assertIn(third["pid"], {d["pid"] for d in docs}, "both stay warm")

    def test_restarts_after_configuration_change(self) -> None:
        name = create_function()
        _, first = invoke(name, {})
        env = self.lam.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
        self.lam.update_function_configuration(
            FunctionName=name, Environment={"Variables": {**env, "MODE": "b"}}
        )
        _, second = invoke(name, {})
        self.assertNotEqual(second["pid"], first["pid"])
        self.assertEqual(second["count"], 1)
        self.assertEqual(second["env"]["MODE"], "b")
        self.assertTrue(_ends(first["pid"]), "the stale process must be stopped")
        self.assertTrue(_ends(first["helper"]), "and whatever it started")

    def test_chunked_response_body(self) -> None:
        name = create_function()
        _, doc = invoke(name, {"action": "chunked"})
        self.assertEqual(doc, {"chunked": True, "count": 1})

    def test_function_error_is_unhandled(self) -> None:
        name = create_function()
        resp, doc = invoke(name, {"action": "error"})
        self.assertEqual(resp["FunctionError"], "Unhandled")
        self.assertEqual(doc, {"errorType": "Boom", "errorMessage": "it failed"})
        _, after = invoke(name, {})
        self.assertEqual(after["count"], 2, "a handled error keeps the environment")

    def test_timeout(self) -> None:
        name = create_function(timeout=1)
        started = time.monotonic()
        resp, doc = invoke(name, {"action": "sleep", "seconds": 5})
        self.assertLess(time.monotonic() - started, 4)
        self.assertEqual(resp["FunctionError"], "Unhandled")
        self.assertEqual(doc["errorType"], "Sandbox.Timedout")
        self.assertIn("Task timed out after 1.00 seconds", doc["errorMessage"])
        _, after = invoke(name, {})
        self.assertEqual(after["count"], 1, "a timed-out environment is replaced")

    def test_crash(self) -> None:
        name = create_function()
        resp, doc = invoke(name, {"action": "exit"})
        self.assertEqual(resp["FunctionError"], "Unhandled")
        self.assertEqual(doc["errorType"], "Runtime.ExitError")
        self.assertIn("exit status 3", doc["errorMessage"])
        log = (EMU.state_dir / "lambda" / f"{name}.log").read_text()
        helper = int(re.search(r"init pid \d+ helper (\d+)", log).group(1))
        self.assertTrue(_ends(helper), "a crashed environment is discarded whole")

    def test_event_and_dry_run(self) -> None:
        name = create_function()
        marker = EMU.tmp / unique("marker")
        resp = self.lam.invoke(
            FunctionName=name,
            InvocationType="Event",
            Payload=json.dumps({"action": "touch", "path": str(marker)}),
        )
        self.assertEqual(resp["StatusCode"], 202)
        deadline = time.monotonic() + 10
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertTrue(marker.exists(), "the asynchronous invocation must run")
        self.assertEqual(self.lam.invoke(FunctionName=name, InvocationType="DryRun")["StatusCode"], 204)

    def test_alias_and_version(self) -> None:
        name = create_function()
        version = self.lam.publish_version(FunctionName=name)["Version"]
        self.lam.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
        resp, doc = invoke(name, {}, Qualifier="live")
        self.assertEqual(resp["ExecutedVersion"], version)
        self.assertEqual(doc["env"]["AWS_LAMBDA_FUNCTION_VERSION"], version)
        self.assertTrue(doc["arn"].endswith(f":{name}:live"))

    def test_weighted_alias_routes_to_both_versions(self) -> None:
        name = create_function()
        first = self.lam.publish_version(FunctionName=name)["Version"]
        env = self.lam.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
        self.lam.update_function_configuration(
            FunctionName=name, Environment={"Variables": {**env, "MODE": "b"}}
        )
        second = self.lam.publish_version(FunctionName=name)["Version"]
        self.lam.create_alias(
            FunctionName=name,
            Name="canary",
            FunctionVersion=first,
            RoutingConfig={"AdditionalVersionWeights": {second: 0.5}},
        )
        seen = {invoke(name, {}, Qualifier="canary")[0]["ExecutedVersion"] for _ in range(30)}
        self.assertEqual(seen, {first, second})

    def test_reserved_concurrency_zero_throttles(self) -> None:
        name = create_function()
        self.lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
        with self.assertRaises(ClientError) as ctx:
            invoke(name, {})
        self.assertEqual(ctx.exception.response["Error"]["Code"], "TooManyRequestsException")

    def test_unknown_function_is_moto_404(self) -> None:
        with self.assertRaises(ClientError) as ctx:
            invoke(unique("missing"), {})
        self.assertEqual(ctx.exception.response["Error"]["Code"], "ResourceNotFoundException")


class ExtensionsTest(unittest.TestCase):
    def records(self, path: Path) -> list[dict[str, Any]]:
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def wait_for(self, path: Path, predicate: Any, within_s: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + within_s
        while not predicate(self.records(path)) and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.records(path)

    def test_invoke_and_shutdown_events_with_telemetry(self) -> None:
        out = EMU.tmp / unique("ext-out")
        name = create_function(env={"LOCAL_EXTENSIONS": make_extension(), "EXT_OUT": str(out)})
        _, first = invoke(name, {"n": 1})
        _, second = invoke(name, {"n": 2})
        self.assertEqual((first["count"], second["count"]), (1, 2), "extensions do not break warm reuse")
        rid1, rid2 = first["rid"], second["rid"]

        def has_report(rid: str) -> Any:
            return lambda recs: any(
                r.get("telemetry", {}).get("type") == "platform.report"
                and r["telemetry"]["record"]["requestId"] == rid
                for r in recs
            )

        records = self.wait_for(out, has_report(rid2))
        registered = next(r for r in records if "registered" in r)
        EMU.pids_seen.add(registered["pid"])
        self.assertEqual(registered["registered"]["functionName"], name)
        invokes = [
            r["event"]["requestId"] for r in records if r.get("event", {}).get("eventType") == "INVOKE"
        ]
        self.assertEqual(invokes, [rid1, rid2])
        telemetry = [r["telemetry"] for r in records if "telemetry" in r]
        types = [t["type"] for t in telemetry]
        for expected in ("platform.initStart", "platform.initRuntimeDone", "platform.initReport"):
            self.assertIn(expected, types, "init records reach a subscriber that came later")
        reports = {t["record"]["requestId"]: t["record"] for t in telemetry if t["type"] == "platform.report"}
        self.assertEqual(reports[rid1]["status"], "success")
        self.assertIn("initDurationMs", reports[rid1]["metrics"], "the cold start reports its init")
        self.assertNotIn("initDurationMs", reports[rid2]["metrics"])
        self.assertEqual(reports[rid2]["metrics"]["memorySizeMB"], 256)
        done = [t["record"] for t in telemetry if t["type"] == "platform.runtimeDone"]
        self.assertEqual([d["requestId"] for d in done], [rid1, rid2])
        self.assertTrue(any(t["type"] == "function" and rid1 in t["record"] for t in telemetry))
        self.assertTrue(all(t["time"].endswith("Z") for t in telemetry))

        env = self.lam().get_function_configuration(FunctionName=name)["Environment"]["Variables"]
        self.lam().update_function_configuration(
            FunctionName=name, Environment={"Variables": {**env, "MODE": "b"}}
        )
        invoke(name, {})
        records = self.wait_for(
            out, lambda recs: any(r.get("event", {}).get("eventType") == "SHUTDOWN" for r in recs)
        )
        shutdown = next(r["event"] for r in records if r.get("event", {}).get("eventType") == "SHUTDOWN")
        self.assertEqual(shutdown["shutdownReason"], "spindown")
        self.assertGreater(shutdown["deadlineMs"], time.time() * 1000 - 5000)

    def test_extension_crash_fails_init(self) -> None:
        crashing = make_extension("#!/bin/sh\nexit 1\n")
        name = create_function(env={"LOCAL_EXTENSIONS": crashing})
        resp, doc = invoke(name, {})
        self.assertEqual(resp["FunctionError"], "Unhandled")
        self.assertEqual(doc["errorType"], "Extension.Crash")

    @staticmethod
    def lam() -> Any:
        return EMU.client("lambda")


class StepFunctionsTest(unittest.TestCase):
    def run_machine(self, definition: dict[str, Any], payload: Any) -> dict[str, Any]:
        sfn = EMU.client("stepfunctions")
        machine = sfn.create_state_machine(
            name=unique("sm"), definition=json.dumps(definition), roleArn=ROLE_ARN
        )["stateMachineArn"]
        execution = sfn.start_execution(
            stateMachineArn=machine, name=unique("run"), input=json.dumps(payload)
        )["executionArn"]
        deadline = time.monotonic() + 30
        while True:
            described = sfn.describe_execution(executionArn=execution)
            if described["status"] != "RUNNING" or time.monotonic() > deadline:
                return described
            time.sleep(0.1)

    def test_task_state_runs_the_lambda(self) -> None:
        name = create_function()
        fn_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
        definition = {
            "StartAt": "Call",
            "States": {
                "Call": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": fn_arn, "Payload.$": "$"},
                    "ResultSelector": {"echo.$": "$.Payload.event", "count.$": "$.Payload.count"},
                    "End": True,
                }
            },
        }
        described = self.run_machine(definition, {"x": 41})
        self.assertEqual(described["status"], "SUCCEEDED", described)
        self.assertEqual(json.loads(described["output"]), {"echo": {"x": 41}, "count": 1})

    def test_function_error_reaches_catch(self) -> None:
        name = create_function()
        definition = {
            "StartAt": "Call",
            "States": {
                "Call": {
                    "Type": "Task",
                    "Resource": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}",
                    "Catch": [{"ErrorEquals": ["Boom"], "ResultPath": "$.caught", "Next": "Handled"}],
                    "End": True,
                },
                "Handled": {"Type": "Pass", "End": True},
            },
        }
        described = self.run_machine(definition, {"action": "error"})
        self.assertEqual(described["status"], "SUCCEEDED", described)
        self.assertEqual(json.loads(described["output"])["caught"]["Error"], "Boom")


class EventBridgeTest(unittest.TestCase):
    def test_rule_targets_lambda_and_state_machine(self) -> None:
        events, sfn = EMU.client("events"), EMU.client("stepfunctions")
        name = create_function()
        marker = EMU.tmp / unique("event-marker")
        definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
        machine = sfn.create_state_machine(
            name=unique("sm"), definition=json.dumps(definition), roleArn=ROLE_ARN
        )["stateMachineArn"]
        source = unique("local.test")
        rule = unique("rule")
        events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))
        fn_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
        events.put_targets(
            Rule=rule,
            Targets=[
                {"Id": "fn", "Arn": fn_arn, "Input": json.dumps({"action": "touch", "path": str(marker)})},
                {"Id": "sm", "Arn": machine, "RoleArn": ROLE_ARN},
            ],
        )
        sent = events.put_events(
            Entries=[{"Source": source, "DetailType": "t", "Detail": json.dumps({"k": 1})}]
        )
        self.assertEqual(sent["FailedEntryCount"], 0)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            executions = sfn.list_executions(stateMachineArn=machine)["executions"]
            if marker.exists() and executions and executions[0]["status"] == "SUCCEEDED":
                break
            time.sleep(0.1)
        self.assertTrue(marker.exists(), "the Lambda target ran with the rule's Input")
        self.assertEqual(len(executions), 1)
        output = json.loads(sfn.describe_execution(executionArn=executions[0]["executionArn"])["output"])
        self.assertEqual((output["source"], output["detail"]), (source, {"k": 1}))
        self.assertRegex(output["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def cbor_call(operation: str, request: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
    """A request exactly as aws-sdk-cloudwatch (Smithy RPC v2 CBOR) sends it."""
    status, headers, body = EMU.raw(
        "POST",
        f"/service/GraniteServiceVersion20100801/operation/{operation}",
        cbor2.dumps(request),
        {"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor", "Accept": "application/cbor"},
        service="monitoring",
    )
    return status, headers, cbor2.loads(body) if body else None


def ts(value: dt.datetime) -> cbor2.CBORTag:
    """Timestamps on the wire: CBOR tag 1 wrapping float64 epoch seconds."""
    return cbor2.CBORTag(1, value.timestamp())


class CloudWatchCborTest(unittest.TestCase):
    def setUp(self) -> None:
        self.namespace = unique("LocalAwsTest")
        self.now = dt.datetime.now(dt.UTC).replace(microsecond=0)

    def put_values(self, values: list[float]) -> None:
        status, headers, doc = cbor_call(
            "PutMetricData",
            {
                "Namespace": self.namespace,
                "MetricData": [
                    {
                        "MetricName": "Duration",
                        "Dimensions": [{"Name": "Function", "Value": "f"}],
                        "Timestamp": ts(self.now),
                        "Values": values,
                        "Unit": "Milliseconds",
                    }
                ],
            },
        )
        self.assertEqual(status, 200, doc)
        self.assertEqual(headers["smithy-protocol"], "rpc-v2-cbor")

    def query(self, stat: str) -> dict[str, Any]:
        return {
            "Id": "q",
            "MetricStat": {
                "Metric": {
                    "Namespace": self.namespace,
                    "MetricName": "Duration",
                    "Dimensions": [{"Name": "Function", "Value": "f"}],
                },
                "Period": 60,
                "Stat": stat,
            },
        }

    def get_metric_data(self, *stats: str) -> tuple[int, dict[str, str], Any]:
        queries = [{**self.query(s), "Id": f"q{i}"} for i, s in enumerate(stats)]
        start, end = self.now - dt.timedelta(minutes=5), self.now + dt.timedelta(minutes=5)
        return cbor_call(
            "GetMetricData", {"MetricDataQueries": queries, "StartTime": ts(start), "EndTime": ts(end)}
        )

    def test_put_then_get_metric_data_round_trip(self) -> None:
        self.put_values([10.0, 20.0, 30.0])
        status, headers, doc = self.get_metric_data("Sum", "Maximum")
        self.assertEqual(status, 200, doc)
        self.assertEqual(headers["content-type"], "application/cbor")
        results = {r["Id"]: r for r in doc["MetricDataResults"]}
        self.assertEqual(results["q0"]["Values"], [60.0])
        self.assertEqual(results["q1"]["Values"], [30.0])
        self.assertEqual(results["q0"]["StatusCode"], "Complete")
        stamp = results["q0"]["Timestamps"][0]
        self.assertIsInstance(stamp, dt.datetime, "timestamps must be CBOR tag 1")
        self.assertLessEqual(abs((stamp - self.now).total_seconds()), 60)

    def test_timestamps_are_tag_1_float64(self) -> None:
        self.put_values([1.0])
        start, end = self.now - dt.timedelta(minutes=5), self.now + dt.timedelta(minutes=5)
        _, _, body = EMU.raw(
            "POST",
            "/service/GraniteServiceVersion20100801/operation/GetMetricData",
            cbor2.dumps(
                {"MetricDataQueries": [self.query("Sum")], "StartTime": ts(start), "EndTime": ts(end)}
            ),
            {
                "smithy-protocol": "rpc-v2-cbor",
                "Content-Type": "application/cbor",
                "Accept": "application/cbor",
            },
            service="monitoring",
        )
        stamps = cbor2.loads(body)["MetricDataResults"][0]["Timestamps"]
        self.assertEqual(len(stamps), 1)
        # 0xc1 = tag 1, 0xfb = float64: what the Rust SDK's decoder requires
        self.assertIn(b"\xc1\xfb" + struct.pack(">d", stamps[0].timestamp()), body)

    def test_percentiles_are_computed(self) -> None:
        self.put_values([float(v) for v in range(1, 101)])
        status, _, doc = self.get_metric_data("p50", "p99", "p99.9")
        self.assertEqual(status, 200, doc)
        values = {r["Id"]: r["Values"] for r in doc["MetricDataResults"]}
        self.assertEqual(values, {"q0": [50.0], "q1": [99.0], "q2": [100.0]})

    def test_get_metric_statistics_and_list_metrics(self) -> None:
        self.put_values([5.0, 7.0])
        start, end = self.now - dt.timedelta(minutes=5), self.now + dt.timedelta(minutes=5)
        status, _, doc = cbor_call(
            "GetMetricStatistics",
            {
                "Namespace": self.namespace,
                "MetricName": "Duration",
                "Dimensions": [{"Name": "Function", "Value": "f"}],
                "StartTime": ts(start),
                "EndTime": ts(end),
                "Period": 60,
                "Statistics": ["Average", "SampleCount"],
                "ExtendedStatistics": ["p90"],
            },
        )
        self.assertEqual(status, 200, doc)
        point = doc["Datapoints"][0]
        self.assertEqual(
            (point["Average"], point["SampleCount"], point["ExtendedStatistics"]), (6.0, 2.0, {"p90": 7.0})
        )
        self.assertIsInstance(point["Timestamp"], dt.datetime)
        status, _, doc = cbor_call("ListMetrics", {"Namespace": self.namespace})
        self.assertEqual(status, 200, doc)
        self.assertEqual([m["MetricName"] for m in doc["Metrics"]], ["Duration"])

    def test_unsupported_statistic_is_a_parseable_error(self) -> None:
        self.put_values([1.0])
        status, headers, doc = self.get_metric_data("tm99")
        self.assertEqual(status, 400)
        self.assertEqual(doc["__type"], "com.amazonaws.cloudwatch#InvalidParameterValueException")
        self.assertIn("tm99", doc["message"])
        self.assertEqual(headers["x-amzn-query-error"], "InvalidParameterValue;Sender")

    def test_not_found_error_shape(self) -> None:
        status, headers, doc = cbor_call("GetDashboard", {"DashboardName": unique("missing")})
        self.assertEqual(status, 404)
        self.assertTrue(doc["__type"].startswith("com.amazonaws.cloudwatch#"), doc)
        self.assertEqual(headers["x-amzn-query-error"], "ResourceNotFound;Sender")


class HarnessTest(unittest.TestCase):
    def test_console_is_quiet_and_requests_are_logged(self) -> None:
        self.assertTrue((EMU.state_dir / "requests.log").read_text().strip())
        self.assertEqual((EMU.state_dir / "endpoint").read_text().strip(), EMU.url)

    def test_startup_time(self) -> None:
        print(f"\nlauncher start-up: {EMU.startup_s:.2f}s", file=sys.stderr)
        self.assertLess(EMU.startup_s, 30)


def main() -> int:
    """Verbose run that ends with a plain `N passed, N failed` line (what CI looks for)."""
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    passed = result.testsRun - failed - len(result.skipped)
    print(
        f"selftest: {passed} passed, {failed} failed"
        + (f", {len(result.skipped)} skipped" if result.skipped else "")
    )
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
