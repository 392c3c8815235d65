"""Serving: model versions deployed as endpoints with dynamic batching, quotas and metering."""

from aicommons.serving.endpoints import (
    delete_endpoint,
    deploy,
    get_endpoint,
    hourly_usage,
    list_endpoint_page,
    list_endpoints,
    resolve_target,
    serving_version,
    update_endpoint,
    usage,
)
from aicommons.serving.host import EndpointHost, Payload, app_host, app_request_latency
from aicommons.serving.metrics import LatencyHistogram
from aicommons.serving.schemas import EndpointCreate, EndpointRead, EndpointUpdate, HourlyUsageRead, PredictRequest, PredictResponse, UsageRead

__all__ = [
    "EndpointCreate", "EndpointHost", "EndpointRead", "EndpointUpdate", "HourlyUsageRead", "LatencyHistogram", "Payload",
    "PredictRequest", "PredictResponse", "UsageRead", "app_host", "app_request_latency", "delete_endpoint", "deploy", "get_endpoint", "hourly_usage",
    "list_endpoint_page", "list_endpoints", "resolve_target", "serving_version", "update_endpoint", "usage",
]
