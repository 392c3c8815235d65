"""Serving: model versions deployed as endpoints with dynamic batching, quotas and metering."""

from aicommons.serving.endpoints import delete_endpoint, deploy, get_endpoint, list_endpoints, resolve_target, update_endpoint, usage
from aicommons.serving.host import EndpointHost, Payload
from aicommons.serving.schemas import EndpointCreate, EndpointRead, EndpointUpdate, PredictRequest, PredictResponse, UsageRead

__all__ = [
    "EndpointCreate", "EndpointHost", "EndpointRead", "EndpointUpdate", "Payload", "PredictRequest", "PredictResponse",
    "UsageRead", "delete_endpoint", "deploy", "get_endpoint", "list_endpoints", "resolve_target", "update_endpoint", "usage",
]
