"""Builds a ready-to-start EdgeNode from a config: model, publisher, analysers."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import gridwatch
from edge.advice import config_advice
from edge.config import ModelConfig, NodeConfig
from edge.events.builder import EventBuilder
from edge.events.snapshot import Snapshotter
from edge.face_settings import FACE_BLUR_DEFAULTS
from edge.infer.base import BatchDetector
from edge.infer.composite import CompositeDetector
from edge.infer.session import OnnxDetector, select_providers
from edge.media.faces import FaceBlur, FaceModelError, face_blur_settings
from edge.media.stage import MediaPipeline, require_face_model
from edge.metrics import NodeMetrics
from edge.node import EdgeNode
from edge.pipeline.analysis import CameraAnalyser
from edge.pipeline.camera import CameraAnalysis, TrackedRulesAnalyser
from edge.pose.movenet import PoseModels
from edge.publish.base import Publisher
from edge.publish.mqtt import MqttPublisher
from edge.publish.outbox import Outbox
from edge.verify_mqtt import CameraChecks
from gridwatch.contract import ModelInfo, NodeStatusMessage
from models.manifest import NotFoundError, resolve_model

logger = logging.getLogger(__name__)

FACE_MODEL = "yunet_face"
CPU_PROVIDER = "CPUExecutionProvider"
MAX_AUTO_WORKERS = 8


def face_model_path(models_dir: Path | None) -> Path | None:
    """The YuNet file if it can be found (else snapshots blur every head)."""
    try:
        return resolve_model(FACE_MODEL, models_dir)
    except (NotFoundError, OSError) as error:
        logger.warning(
            "face model %s unavailable (%s): blurring heads instead", FACE_MODEL, error
        )
        return None


def load_face_blur(config: NodeConfig) -> FaceBlur:
    """The node's face blur: YuNet loaded once at `media.face_score`, with
    `media.face_margin`, shared by every camera's snapshots and the clips.

    Raises:
        FaceModelError: the model cannot be found or loaded.
    """
    path = require_face_model(FACE_MODEL, config.models_dir)
    return FaceBlur.from_model(
        path, face_blur_settings(config.media), label=f"node {config.node_id}"
    )


def find_face_blur(models_dir: Path | None, *, label: str) -> FaceBlur | None:
    """A face blur at the default settings for tools that may run without the
    model (the eval's images); None, logged, when it is missing or broken."""
    path = face_model_path(models_dir)
    if path is None:
        return None
    try:
        return FaceBlur.from_model(path, FACE_BLUR_DEFAULTS, label=label)
    except FaceModelError as error:
        logger.warning("%s: %s", label, error)
        return None


def build_analysers(
    config: NodeConfig, *, labels: list[str], model: ModelInfo, face_blur: FaceBlur
) -> dict[str, CameraAnalyser]:
    """One tracker + rules + event builder per camera, and a pose stage for the
    cameras with a fall rule (the pose model loads only if one has)."""
    pose_models = PoseModels(
        models_dir=config.models_dir, providers=config.model.providers
    )
    analysers: dict[str, CameraAnalyser] = {}
    for camera in config.cameras:
        analysers[camera.id] = TrackedRulesAnalyser(
            CameraAnalysis.from_camera(camera, labels=labels, pose_models=pose_models),
            EventBuilder.from_camera(
                camera,
                node_id=config.node_id,
                model=model,
                snapshotter=Snapshotter(camera_id=camera.id, face_blur=face_blur),
            ),
        )
    return analysers


def build_publisher(config: NodeConfig, *, model_name: str) -> MqttPublisher:
    outbox = Outbox.from_config(config.outbox, node_id=config.node_id)
    return MqttPublisher(
        node_id=config.node_id,
        broker=config.broker,
        outbox=outbox,
        online_status=NodeStatusMessage(
            node_id=config.node_id,
            state="online",
            version=gridwatch.__version__,
            model=model_name,
            cameras=[c.id for c in config.cameras],
        ),
        track_open_events=True,
    )


def build_node(
    config: NodeConfig,
    *,
    detectors: Sequence[BatchDetector] | None = None,
    publisher: Publisher | None = None,
) -> EdgeNode:
    """Everything the node needs, loaded and checked before any thread starts.

    Raises:
        FaceModelError: the face model cannot be loaded (no snapshot or clip
            may leave the node with faces unblurred, so the node does not start).
        ConfigError: central's token or the monitoring token
            (`http.monitor_token_file` / `_env`) cannot be read.
    """
    face_blur = load_face_blur(config)
    for line in config_advice(config):
        logger.warning("node %s: %s", config.node_id, line)
    loaded = (
        list(detectors)
        if detectors
        else with_extra_models(config, load_detectors(config))
    )
    model = ModelInfo(name=loaded[0].name, version=gridwatch.__version__)
    closers = []
    labels = list(loaded[0].labels)
    camera_checks = None
    if publisher is None:
        mqtt_publisher = build_publisher(config, model_name=loaded[0].name)
        closers.append(mqtt_publisher.outbox.close)
        publisher = mqtt_publisher
        # Central's camera checks come over the same broker (edge/verify.py).
        camera_checks = CameraChecks.for_node(
            config, labels=labels, face_blur=face_blur
        )
    metrics = NodeMetrics()
    return EdgeNode(
        config=config,
        detectors=loaded,
        publisher=publisher,
        analysers=build_analysers(
            config, labels=labels, model=model, face_blur=face_blur
        ),
        closers=closers,
        media=MediaPipeline.from_config(config, metrics=metrics, face_blur=face_blur),
        metrics=metrics,
        camera_checks=camera_checks,
    )


def load_detectors(config: NodeConfig) -> list[OnnxDetector]:
    """One main detector (own onnxruntime session) per inference worker."""
    workers, model = inference_plan(config)
    logger.info(
        "node %s: %d inference workers, %s onnxruntime threads each",
        config.node_id,
        workers,
        model.intra_op_threads or "auto",
    )
    return [OnnxDetector.from_config(model, config.models_dir) for _ in range(workers)]


def with_extra_models(
    config: NodeConfig, detectors: Sequence[OnnxDetector]
) -> list[BatchDetector]:
    """Each worker's detector followed by the node's `extra_models` (sessions of
    its own per worker, threads as the main model's); unchanged without any."""
    if not config.extra_models:
        return list(detectors)
    _, model = inference_plan(config)
    threads = {"intra_op_threads": model.intra_op_threads}
    return [
        CompositeDetector(
            main,
            [
                OnnxDetector.from_config(
                    extra.model_copy(update=threads), config.models_dir
                )
                for extra in config.extra_models
            ],
        )
        for main in detectors
    ]


def inference_plan(config: NodeConfig) -> tuple[int, ModelConfig]:
    """Worker count and per-session settings, resolving `batch.workers: 0` (auto).

    On a CPU, single-threaded sessions on every core outrun one session that
    spreads each image over all cores (its threads stall whenever decoding
    preempts one of them); on an accelerator one session feeds the device.
    """
    if config.batch.workers:
        return config.batch.workers, config.model
    if select_providers(config.model.providers)[0] != CPU_PROVIDER:
        return 1, config.model
    cores = os.cpu_count() or 1
    threads = config.model.intra_op_threads or 1
    model = config.model.model_copy(update={"intra_op_threads": threads})
    return max(1, min(MAX_AUTO_WORKERS, cores // threads)), model
