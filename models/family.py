"""Detector model families: how the edge decodes a model's output; the manifest
names each model's family."""

from __future__ import annotations

from enum import StrEnum


class ModelFamily(StrEnum):
    YOLOX = "yolox"
    NANODET = "nanodet"
    YOLOV8 = "yolov8"
