"""In-process adjustments to moto 5.2.5, applied once before the server starts.

* Step Functions: turn on moto's ASL interpreter so executions really run.
* Lambda: moto's in-process callers (event sources, SNS, EventBridge targets, ...) invoke
  through LambdaFunction._invoke_lambda, which needs Docker; route them to our local runner.
* EventBridge: PutEvents answers 500 when a matching rule targets Lambda or Step Functions
  (moto delivers only to logs, SQS, archives, buses and API destinations). Deliver those as
  AWS does: an asynchronous invoke, or a StartExecution with a unique name.
* CloudWatch: moto answers percentile statistics (p50, p99.9, ...) with a 500 (it computes
  None and its serializer crashes) and ignores GetMetricStatistics' ExtendedStatistics.
  Compute percentiles from the raw values it stores; reject statistics we cannot compute
  with a parseable InvalidParameterValue error instead of a crash. moto also matches a
  GetMetricData query with dimensions in every namespace: keep it to the query's namespace.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import re
import threading
import uuid
from datetime import UTC, datetime
from typing import Any, SupportsFloat

PERCENTILE = re.compile(r"^p(\d{1,2}(?:\.\d+)?|100)$")
BASIC_STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
_query_scope = threading.local()  # the namespace one GetMetricData call is limited to


def enable_step_functions_interpreter() -> None:
    from moto.core.config import default_user_config

    default_user_config["stepfunctions"] = {"execute_state_machine": True}


def route_in_process_invokes(invoker: Any) -> None:
    """moto's own callers get (payload, errored, logs) from our runner instead of Docker."""
    from moto.awslambda.models import LambdaFunction

    def _invoke_lambda(self: Any, event: Any = None) -> tuple[str, bool, str]:
        payload = event if isinstance(event, (str, bytes)) else json.dumps(event if event is not None else {})
        data = payload.encode() if isinstance(payload, str) else payload
        result = invoker.invoke(self, self.function_arn, data)
        return result.payload.decode("utf-8", "replace"), result.function_error, result.log_tail

    LambdaFunction._invoke_lambda = _invoke_lambda  # type: ignore[method-assign]


# -- EventBridge targets -------------------------------------------------------------------------

log = logging.getLogger("local-aws.events")


def deliver_rule_targets(invoker: Any) -> None:
    from moto.events import models

    rule_cls = models.Rule
    original = rule_cls.send_to_targets

    def send_to_targets(self: Any, original_event: dict[str, Any], transform_input: bool = True) -> None:
        if not self.event_pattern.matches_event(original_event):
            return
        ours = [t for t in self.targets if _arn_service(t.get("Arn", "")) in ("lambda", "states")]
        for target in ours:
            payload = _target_payload(target, original_event, transform_input)
            threading.Thread(
                target=_deliver, args=(invoker, target["Arn"], payload), daemon=True, name="event-target"
            ).start()
        rest = [t for t in self.targets if t not in ours]
        if rest:
            moto_view = copy.copy(self)  # moto's own delivery, for the targets it supports
            moto_view.targets = rest
            original(moto_view, original_event, transform_input)

    rule_cls.send_to_targets = send_to_targets  # type: ignore[method-assign]


def _arn_service(arn: str) -> str:
    parts = arn.split(":")
    return parts[2] if len(parts) > 2 else ""


def _target_payload(target: dict[str, Any], event: dict[str, Any], transform_input: bool) -> bytes:
    """The target's input: Input, InputPath, InputTransformer, or the event itself."""
    delivered = {**event}
    delivered.pop("ingestion-time", None)
    if isinstance(delivered.get("time"), (int, float)):
        stamp = datetime.fromtimestamp(float(delivered["time"]), UTC)
        delivered["time"] = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    if "Input" in target:
        return str(target["Input"]).encode()
    if "InputPath" in target:
        from jsonpath_ng.ext import parse

        matches = parse(target["InputPath"]).find(delivered)
        return json.dumps(matches[0].value if matches else None).encode()
    if transform_input and "InputTransformer" in target:
        from moto.events.utils import EventTemplateParser

        transformer = target["InputTransformer"]
        result = EventTemplateParser.parse(
            input_template=transformer.get("InputTemplate"),
            input_paths_map=transformer.get("InputPathsMap", {}),
            event=delivered,
        )
        return (result if isinstance(result, str) else json.dumps(result)).encode()
    return json.dumps(delivered).encode()


def _deliver(invoker: Any, arn: str, payload: bytes) -> None:
    parts = arn.split(":")
    region, account = parts[3], parts[4]
    try:
        if parts[2] == "lambda":
            from lambda_runner import resolve_invocation

            fn, invoked_arn = resolve_invocation(account, region, arn, None)
            invoker.invoke_with_retry(fn, invoked_arn, payload)
        else:
            from moto.stepfunctions.responses import get_backend

            get_backend(account, region).start_execution(
                state_machine_arn=arn, name=str(uuid.uuid4()), execution_input=payload.decode()
            )
    except Exception:  # noqa: BLE001 - a failed delivery is logged, as EventBridge would retry/drop it
        log.exception("EventBridge could not deliver to %s", arn)


# -- CloudWatch percentiles -----------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (CloudWatch's exact estimator is not public)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def _unsupported(stat: str) -> Exception:
    from moto.cloudwatch.exceptions import InvalidParameterValue

    return InvalidParameterValue(
        f"local-aws: the statistic '{stat}' is not supported by the emulator "
        f"(supported: {', '.join(BASIC_STATISTICS)} and percentiles pNN / pNN.N)"
    )


def patch_cloudwatch_statistics() -> None:
    from moto.cloudwatch import models, responses

    stats_cls = models.Statistics
    basic = stats_cls.get_statistics_for_type

    def get_statistics_for_type(self: Any, stat: str) -> SupportsFloat | None:
        match = PERCENTILE.match(stat)
        if match:
            return percentile(self.metric_single_values_list, float(match.group(1)))
        if stat not in BASIC_STATISTICS:
            raise _unsupported(stat)
        return basic(self, stat)

    def extended_statistics(self: Any) -> dict[str, float] | None:
        found = {s: self.get_statistics_for_type(s) for s in self.stats if PERCENTILE.match(s)}
        found = {s: v for s, v in found.items() if v is not None}
        return found or None

    stats_cls.get_statistics_for_type = get_statistics_for_type  # type: ignore[method-assign]
    stats_cls.extended_statistics = property(extended_statistics)  # type: ignore[attr-defined]

    backend_cls = models.CloudWatchBackend
    original_get_metric_data = backend_cls.get_metric_data
    original_get_all_metrics = backend_cls.get_all_metrics

    def get_all_metrics(self: Any) -> list[Any]:
        data = original_get_all_metrics(self)
        namespace = getattr(_query_scope, "namespace", None)
        return data if namespace is None else [md for md in data if md.namespace == namespace]

    def get_metric_data(
        self: Any, queries: list[dict[str, Any]], *args: Any, **kwargs: Any
    ) -> list[dict[str, Any]]:
        """moto ignores the namespace of a MetricStat query that has dimensions: scope it."""
        for query in queries:
            stat = query.get("MetricStat", {}).get("Stat")
            if stat and not PERCENTILE.match(stat) and stat not in BASIC_STATISTICS:
                raise _unsupported(stat)
        namespaces = {q["MetricStat"]["Metric"].get("Namespace") for q in queries if "MetricStat" in q}
        if len(namespaces) == 1:
            _query_scope.namespace = namespaces.pop()
        try:
            results = original_get_metric_data(self, queries, *args, **kwargs)
        finally:
            _query_scope.namespace = None
        return [_without_missing_values(r) for r in results]

    backend_cls.get_all_metrics = get_all_metrics  # type: ignore[method-assign]
    backend_cls.get_metric_data = get_metric_data  # type: ignore[method-assign]

    response_cls = responses.CloudWatchResponse
    original_get_metric_statistics = response_cls.get_metric_statistics

    def get_metric_statistics(self: Any) -> Any:
        """Pass ExtendedStatistics to the backend along with Statistics (moto drops them)."""
        extended = self._get_param("ExtendedStatistics") or []
        for stat in extended:
            if not PERCENTILE.match(stat):
                raise _unsupported(stat)
        if not extended:
            return original_get_metric_statistics(self)
        backend = self.cloudwatch_backend
        datapoints = backend.get_metric_statistics(
            self._get_param("Namespace"),
            self._get_param("MetricName"),
            self._get_param("StartTime"),
            self._get_param("EndTime"),
            self._get_int_param("Period"),
            list(self._get_param("Statistics", [])) + list(extended),
            unit=self._get_param("Unit"),
            dimensions=self._get_param("Dimensions", []),
        )
        from moto.core.responses import ActionResult

        return ActionResult({"Label": self._get_param("MetricName"), "Datapoints": datapoints})

    response_cls.get_metric_statistics = get_metric_statistics  # type: ignore[method-assign]


def _without_missing_values(result: dict[str, Any]) -> dict[str, Any]:
    """A period whose statistic cannot be computed has no datapoint (moto would crash on None)."""
    pairs = [(t, v) for t, v in zip(result["timestamps"], result["values"], strict=True) if v is not None]
    return {**result, "timestamps": [t for t, _ in pairs], "values": [v for _, v in pairs]}


def apply_all(invoker: Any) -> None:
    enable_step_functions_interpreter()
    route_in_process_invokes(invoker)
    deliver_rule_targets(invoker)
    patch_cloudwatch_statistics()
