"""Prometheus metrics of one edge node (own registry, so nodes can share a process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class NodeMetrics:
    """All metrics the node exports on /metrics."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.fps_in = Gauge(
            "gw_camera_fps_in", "Decoded frames per second", ["camera"], registry=r
        )
        self.fps_analysed = Gauge(
            "gw_camera_fps_analysed",
            "Analysed frames per second",
            ["camera"],
            registry=r,
        )
        self.frames_dropped = Gauge(
            "gw_camera_frames_dropped",
            "Decoded frames not analysed",
            ["camera"],
            registry=r,
        )
        self.reconnects = Gauge(
            "gw_camera_reconnects", "Reconnects since start", ["camera"], registry=r
        )
        self.camera_online = Gauge(
            "gw_camera_online",
            "1 online, 0.5 stalled, 0 offline",
            ["camera"],
            registry=r,
        )
        self.inference_ms = Histogram(
            "gw_inference_ms",
            "Detector time per batch (ms)",
            buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
            registry=r,
        )
        self.batch_size = Histogram(
            "gw_batch_size",
            "Frames per inference batch",
            buckets=(1, 2, 4, 8, 16, 32, 64),
            registry=r,
        )
        self.post_dropped = Counter(
            "gw_post_dropped_total", "Results dropped: analysis queue full", registry=r
        )
        self.outbox_depth = Gauge(
            "gw_outbox_depth", "Messages waiting in the outbox", registry=r
        )
        self.outbox_bytes = Gauge(
            "gw_outbox_bytes", "Bytes of the messages waiting in the outbox", registry=r
        )
        self.events_refused = Gauge(
            "gw_events_refused",
            "Events not stored because the outbox was full (since start)",
            registry=r,
        )
        self.events = Counter(
            "gw_events_total", "Events raised", ["camera", "type", "phase"], registry=r
        )
        self.frame_latency_ms = Histogram(
            "gw_frame_latency_ms",
            "Frame captured to analysis done (ms)",
            buckets=(5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000),
            registry=r,
        )
        self.mqtt_reconnects = Gauge(
            "gw_mqtt_reconnects", "Broker reconnects", registry=r
        )
        self._add_media_metrics(r)

    def _add_media_metrics(self, r: CollectorRegistry) -> None:
        self.clips_written = Counter(
            "gw_clips_written_total", "Event clips written", ["camera"], registry=r
        )
        self.clips_dropped = Counter(
            "gw_clips_dropped_total",
            "Event clips not made (busy, queue_full, no_frames, error)",
            ["camera", "reason"],
            registry=r,
        )
        self.clip_seconds = Histogram(
            "gw_clip_seconds",
            "Time to blur and encode one clip (s)",
            buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
            registry=r,
        )
        self.faces_blurred = Counter(
            "gw_clip_faces_blurred_total",
            "Face regions obscured in clip frames",
            ["camera"],
            registry=r,
        )
        self.uploads_pending = Gauge(
            "gw_media_uploads_pending", "Media uploads waiting for central", registry=r
        )
        self.uploads_done = Counter(
            "gw_media_uploads_done_total", "Media uploads central has", registry=r
        )
        self.uploads_failed = Counter(
            "gw_media_uploads_failed_total",
            "Media uploads central refused for good (dropped)",
            registry=r,
        )
        self.upload_retries = Counter(
            "gw_media_upload_retries_total",
            "Media upload tries that will be retried",
            registry=r,
        )
