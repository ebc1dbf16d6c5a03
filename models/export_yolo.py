"""Export an ultralytics YOLO model (e.g. YOLO11n) to ONNX for benchmarking.

Benchmark/export tool only: ultralytics is AGPL-3.0 and an *optional* dependency,
imported lazily inside ``export()``; gridwatch runtime code never imports it. Run it
with the bench venv (install recipe: ``models.ultralytics_env.INSTALL_HINT``)::

    .venv-bench/bin/python models/export_yolo.py --cfg yolo11n.yaml --imgsz 416 \\
        --dynamic --out var/models/yolo11n_random.onnx

``--cfg yolo11n.yaml`` builds the network from ultralytics' bundled model yaml with
*random* weights (seeded, no download; fine for speed, useless for accuracy). Pass a
``.pt`` file instead to export trained weights. ``--dynamic`` makes batch, height and
width dynamic (ultralytics' ``dynamic=True``), which batched multi-stream inference
needs. 416 matches yolox_nano's input size.

Resulting graph (YOLO11n detect, opset 18): input ``images`` f32 [B,3,H,W], RGB 0-1,
letterboxed with pad 114; output ``output0`` f32 [B,84,A]: per anchor cx,cy,w,h in input
pixels + 80 class scores (already sigmoided), no objectness, no NMS in the graph
(A = 3549 at 416x416, 2184 at 416x256, 8400 at 640x640).

stdout carries one JSON summary; ultralytics' own log goes to stderr.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]


def export(
    cfg: str,
    imgsz: int,
    dynamic: bool,
    out: Path,
    opset: int | None = None,
    simplify: bool = True,
    seed: int = 0,
) -> dict[str, Any]:
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    from models.ultralytics_env import (
        INSTALL_HINT,
        ensure_torchvision,
        quiet_ultralytics,
    )

    quiet_ultralytics()  # no telemetry, no auto-pip-install
    try:
        ultralytics = importlib.import_module("ultralytics")
    except ImportError as e:
        raise SystemExit(INSTALL_HINT) from e
    # PyPI's torchvision is a CUDA build that cannot import next to the CPU torch wheel;
    # same stand-in as the multi-stream benchmark (see ensure_torchvision's docstring).
    tv_mode = ensure_torchvision()
    torch = importlib.import_module("torch")
    onnx = importlib.import_module("onnx")

    if Path(cfg).exists():  # a local file must survive the chdir below; a bare
        cfg = str(Path(cfg).resolve())  # "yolo11n.yaml" is ultralytics' bundled cfg
    out = out.resolve()
    t0 = time.perf_counter()
    # Export in a scratch dir: ultralytics writes next to the model "file" (cwd for a
    # yaml) and returns a cwd-relative path.
    with tempfile.TemporaryDirectory(prefix="gridwatch-export-") as tmp:
        cwd = os.getcwd()
        os.chdir(tmp)
        try:
            torch.manual_seed(seed)  # reproducible random weights for a yaml cfg
            model = ultralytics.YOLO(cfg, task="detect")
            kwargs: dict[str, Any] = {
                "format": "onnx",
                "imgsz": imgsz,
                "dynamic": dynamic,
                "simplify": simplify,
                "device": "cpu",
            }
            if opset:
                kwargs["opset"] = opset
            written = Path(tmp, model.export(**kwargs))
        finally:
            os.chdir(cwd)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(written), out)

    m = onnx.load(str(out))

    def dims(vi: Any) -> list[int | str]:
        return [d.dim_param or d.dim_value for d in vi.type.tensor_type.shape.dim]

    return {
        "out": str(out),
        "bytes": out.stat().st_size,
        "cfg": cfg,
        "imgsz": imgsz,
        "dynamic": dynamic,
        "seed": seed,
        "opset": m.opset_import[0].version,
        "inputs": {i.name: dims(i) for i in m.graph.input},
        "outputs": {o.name: dims(o) for o in m.graph.output},
        "ultralytics_version": ultralytics.__version__,
        "torch_version": torch.__version__,
        "torchvision": tv_mode,
        "seconds": round(time.perf_counter() - t0, 1),
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        description="Export a YOLO model to ONNX with ultralytics (bench venv only)."
    )
    p.add_argument("--cfg", default="yolo11n.yaml", help="model yaml or .pt weights")
    p.add_argument("--imgsz", type=int, default=416, help="416 matches yolox_nano")
    p.add_argument("--dynamic", action="store_true", help="dynamic batch/H/W axes")
    p.add_argument("--opset", type=int, default=None, help="default: ultralytics'")
    p.add_argument("--no-simplify", action="store_true", help="skip onnxslim")
    p.add_argument("--seed", type=int, default=0, help="torch seed for a yaml cfg")
    p.add_argument("--out", type=Path, default=Path("var/models/yolo11n_random.onnx"))
    a = p.parse_args(argv)
    # ultralytics logs to stdout: route it to stderr so stdout is only the JSON summary
    sys.stdout.flush()
    json_fd = os.dup(1)
    os.dup2(2, 1)
    try:
        info = export(
            a.cfg, a.imgsz, a.dynamic, a.out, a.opset, not a.no_simplify, a.seed
        )
    finally:
        sys.stdout.flush()
        os.dup2(json_fd, 1)
        os.close(json_fd)
    sys.stdout.write(json.dumps(info, indent=2) + "\n")


if __name__ == "__main__":
    main()
