"""`GET /metrics`: Prometheus text for staff (a monitoring login), never anonymous."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.process_collector import ProcessCollector

from central.api.deps import StaffDep
from central.context import CentralContext
from central.ingest.replicas import ReplicaCollector
from central.ingest.stats import IngestCollector

router = APIRouter(tags=["health"])


def build_metrics_registry(context: CentralContext) -> CollectorRegistry:
    """This process's metrics: ingest counters and gauges, memory, CPU, open files."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(IngestCollector(context.ingest_stats))
    registry.register(ReplicaCollector(lambda: context.replicas))
    ProcessCollector(registry=registry)
    return registry


@router.get(
    "/metrics",
    summary="Prometheus metrics of this process (ingest, memory, open files)",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
)
def metrics(request: Request, _actor: StaffDep) -> Response:
    registry: CollectorRegistry = request.app.state.metrics_registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
