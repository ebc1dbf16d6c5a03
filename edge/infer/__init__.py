"""Detector back-ends: per-family letterbox, decode and NMS; the onnxruntime session."""

from edge.infer.base import (
    Candidates,
    DetectorAdapter,
    UnknownFamilyError,
    adapter_type_for,
)
from edge.infer.letterbox import LetterboxMeta, LetterboxSpec, letterbox
from edge.infer.nanodet import NanodetAdapter
from edge.infer.nms import nms_class_aware
from edge.infer.session import InferTimings, OnnxDetector, select_providers
from edge.infer.yolov8 import Yolov8Adapter
from edge.infer.yolox import YoloxAdapter

__all__ = [
    "Candidates",
    "DetectorAdapter",
    "InferTimings",
    "LetterboxMeta",
    "LetterboxSpec",
    "NanodetAdapter",
    "OnnxDetector",
    "UnknownFamilyError",
    "Yolov8Adapter",
    "YoloxAdapter",
    "adapter_type_for",
    "letterbox",
    "nms_class_aware",
    "select_providers",
]
