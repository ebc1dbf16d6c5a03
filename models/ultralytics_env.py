"""Running ultralytics (AGPL, optional) quietly and offline: the export tool and the
multi-stream benchmark both use it, from the separate bench venv only."""

from __future__ import annotations

import importlib
import importlib.machinery
import os
import sys
import tempfile
import types
import warnings
from pathlib import Path
from typing import Any

INSTALL_HINT = (
    "ultralytics is not installed in this interpreter. It is an optional, "
    "AGPL-licensed benchmark dependency: install it in the separate bench venv and "
    "run this with "
    ".venv-bench/bin/python:\n"
    "  python3 -m venv .venv-bench\n"
    "  .venv-bench/bin/pip install torch==2.13.0   # local CPU wheel, first\n"
    "  echo torch==2.13.0 > /tmp/bench-constraints.txt\n"
    "  .venv-bench/bin/pip install -c /tmp/bench-constraints.txt \\\n"
    "      ultralytics==8.4.190 onnx onnxslim onnxruntime 'lap>=0.5.12'"
)


def ensure_torchvision() -> str:
    """Make ``import torchvision`` work for ultralytics' detect predict/export paths.

    PyPI only has CUDA builds of torchvision. torchvision 0.28.0 pins torch==2.13.0 and
    installs next to the CPU torch 2.13.0 wheel, but its ``_C.so`` links
    ``libtorch_cuda.so``/``libc10_cuda.so``, which the CPU torch lacks, so ``import
    torchvision`` raises ``RuntimeError: operator torchvision::nms does not exist``.
    ultralytics imports torchvision for stream sources and for ONNX warm-up, but for
    detection it only *uses* ``torchvision.ops.nms``. When the real package cannot be
    imported, register a minimal in-process stand-in whose ``ops.nms`` is ultralytics'
    own pure-torch ``TorchNMS.nms`` (documented by ultralytics to match torchvision's
    result). The installed torchvision dist-info still supplies the version string
    that ultralytics reads with importlib.metadata at import (so keep it installed).

    Returns "real" or "shim" (reported in the benchmark JSON).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Failed to load image Python extension" etc.
        try:
            importlib.import_module("torchvision")
            return "real"
        except Exception:  # any failure: fall back to the stand-in
            for name in list(sys.modules):
                if name == "torchvision" or name.startswith("torchvision."):
                    del sys.modules[name]

    def nms(boxes: Any, scores: Any, iou_threshold: float) -> Any:
        from ultralytics.utils.nms import TorchNMS

        return TorchNMS.nms(boxes, scores, iou_threshold)

    try:
        from importlib.metadata import version

        tv_version = version("torchvision")
    except Exception:
        tv_version = "0.0.0"
    tv = types.ModuleType("torchvision")
    tv.__version__ = tv_version  # type: ignore[attr-defined]
    tv.__spec__ = importlib.machinery.ModuleSpec("torchvision", None)
    ops = types.ModuleType("torchvision.ops")
    ops.nms = nms  # type: ignore[attr-defined]
    ops.__spec__ = importlib.machinery.ModuleSpec("torchvision.ops", None)
    tv.ops = ops  # type: ignore[attr-defined]
    sys.modules["torchvision"] = tv
    sys.modules["torchvision.ops"] = ops
    return "shim"


def quiet_ultralytics() -> None:
    """No telemetry, no auto-pip-install of missing requirements, settings in /tmp."""
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_VERBOSE", "False")
    cfg_dir = Path(tempfile.gettempdir()) / "gridwatch-ultralytics"
    os.environ.setdefault("YOLO_CONFIG_DIR", str(cfg_dir))
