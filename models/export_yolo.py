"""Export an ultralytics YOLO model (e.g. YOLO11n) to ONNX for benchmarking.

Benchmark/export tool only: ultralytics is AGPL-3.0 and an *optional* dependency, imported lazily
inside ``export()``; gridwatch runtime code never imports it. Run it with the bench venv::

    .venv-bench/bin/python models/export_yolo.py --cfg yolo11n.yaml --imgsz 416 --dynamic \
        --out var/models/yolo11n_random.onnx

``--cfg yolo11n.yaml`` builds the network from ultralytics' bundled model yaml with *random*
weights (no download; fine for speed measurements, useless for accuracy). Pass a ``.pt`` file
instead to export trained weights. ``--dynamic`` makes batch, height and width dynamic
(ultralytics' ``dynamic=True``), which batched multi-stream inference needs.

Resulting graph (YOLO11n, detect): input ``images`` f32 [B,3,H,W] RGB 0-1 (letterbox pad 114),
output ``output0`` f32 [B,84,A]: per anchor cx,cy,w,h (input pixels) + 80 sigmoided class scores,
no objectness, NMS not included (A = 3549 at 416x416, 8400 at 640x640).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def export(cfg: str, imgsz: int, dynamic: bool, out: Path, opset: int | None, simplify: bool, seed: int = 0) -> dict:
    os.environ.setdefault("YOLO_OFFLINE", "1")  # no telemetry, no auto-pip-install
    os.environ.setdefault("YOLO_CONFIG_DIR", str(Path(tempfile.gettempdir()) / "gridwatch-ultralytics"))
    try:
        import ultralytics
        from ultralytics import YOLO
    except ImportError as e:
        raise SystemExit(
            "ultralytics is not installed in this interpreter. It is an optional, AGPL-licensed "
            "benchmark/export dependency: install it in the separate bench venv (.venv-bench) and "
            "run this script with .venv-bench/bin/python. Install recipe:\n"
            "  python3 -m venv .venv-bench\n"
            "  .venv-bench/bin/pip install torch==2.13.0\n"
            "  .venv-bench/bin/pip install -c <(echo torch==2.13.0) ultralytics onnx onnxslim onnxruntime"
        ) from e

    # torchvision from PyPI is a CUDA build that fails to import next to the CPU torch wheel;
    # use the same stand-in as the multi-stream benchmark (see ensure_torchvision's docstring).
    sys.path.insert(0, str(REPO_ROOT))
    from gridwatch.bench.ultralytics_multistream import ensure_torchvision

    tv_mode = ensure_torchvision()

    if Path(cfg).exists():  # a local file: make it survive the chdir below
        cfg = str(Path(cfg).resolve())  # (bare "yolo11n.yaml" resolves to ultralytics' bundled cfg)
    out = out.resolve()
    t0 = time.perf_counter()
    # Export in a scratch dir: ultralytics writes next to the model "file" (the cwd for a yaml).
    with tempfile.TemporaryDirectory(prefix="gridwatch-export-") as tmp:
        cwd = os.getcwd()
        os.chdir(tmp)
        try:
            import torch

            torch.manual_seed(seed)  # reproducible random weights for a yaml cfg
            model = YOLO(cfg, task="detect")
            kwargs = dict(format="onnx", imgsz=imgsz, dynamic=dynamic, simplify=simplify, device="cpu")
            if opset:
                kwargs["opset"] = opset
            written = Path(tmp, model.export(**kwargs))  # ultralytics returns a cwd-relative path
        finally:
            os.chdir(cwd)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(written), out)

    import onnx

    m = onnx.load(str(out))

    def dims(vi):  # noqa: ANN001
        return [d.dim_param or d.dim_value for d in vi.type.tensor_type.shape.dim]

    return {
        "out": str(out),
        "bytes": out.stat().st_size,
        "cfg": cfg,
        "imgsz": imgsz,
        "dynamic": dynamic,
        "opset": m.opset_import[0].version,
        "inputs": {i.name: dims(i) for i in m.graph.input},
        "outputs": {o.name: dims(o) for o in m.graph.output},
        "ultralytics_version": ultralytics.__version__,
        "torchvision": tv_mode,
        "seed": seed,
        "seconds": round(time.perf_counter() - t0, 1),
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="Export a YOLO model to ONNX with ultralytics (bench venv only).")
    p.add_argument("--cfg", default="yolo11n.yaml", help="model yaml (random weights) or .pt weights")
    p.add_argument("--imgsz", type=int, default=416, help="export/input size (416 matches yolox_nano)")
    p.add_argument("--dynamic", action="store_true", help="dynamic batch/height/width axes")
    p.add_argument("--opset", type=int, default=None, help="ONNX opset (default: ultralytics' choice)")
    p.add_argument("--no-simplify", action="store_true", help="skip onnxslim graph simplification")
    p.add_argument("--seed", type=int, default=0, help="torch seed for the random weights of a yaml cfg")
    p.add_argument("--out", type=Path, default=Path("var/models/yolo11n_random.onnx"))
    a = p.parse_args(argv)
    # ultralytics logs to stdout: route it to stderr so stdout carries only the JSON summary
    sys.stdout.flush()
    json_fd = os.dup(1)
    os.dup2(2, 1)
    try:
        info = export(a.cfg, a.imgsz, a.dynamic, a.out, a.opset, not a.no_simplify, a.seed)
    finally:
        sys.stdout.flush()
        os.dup2(json_fd, 1)
        os.close(json_fd)
    print(json.dumps(info, indent=2))


if __name__ == "__main__":
    main()
