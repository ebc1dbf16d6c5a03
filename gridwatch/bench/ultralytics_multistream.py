"""Baseline: ultralytics' own multi-stream predict on the same RTSP streams and ONNX model.

This is a *standalone benchmark tool*, not runtime code. ultralytics is AGPL-3.0 and is only an
optional benchmark/export dependency: it is imported lazily inside functions here and must never
be imported by anything under ``gridwatch`` that the edge runtime loads. Run it with the separate
benchmark venv (``.venv-bench``, see ``docs`` / the bench report for the install recipe)::

    .venv-bench/bin/python gridwatch/bench/ultralytics_multistream.py \
        --model var/models/yolo11n_random.onnx --imgsz 416 --duration 30 \
        rtsp://127.0.0.1:8599/cam0 rtsp://127.0.0.1:8599/cam1

    # or with a ready-made ultralytics ``.streams`` file (one URL per line)
    .venv-bench/bin/python gridwatch/bench/ultralytics_multistream.py \
        --model var/models/yolo11n_random.onnx --streams-file list.streams --duration 30

It prints one JSON object on stdout (ultralytics' own logging is silenced or sent to stderr).
The measurement window is ``--duration`` seconds of steady state: it starts ``--warmup`` seconds
after the first batch came out (model load, ORT session warm-up and stream opening are reported
separately as ``startup_s``), and the process always exits after the window, even though the
streams are infinite (a stuck capture cannot keep it alive: it ends with ``os._exit``).

How ultralytics does multi-stream (``LoadStreams``, ultralytics 8.4): one reader thread per
stream, each keeping only its latest decoded frame (``stream_buffer=False``); every batch takes
exactly one fresh frame from every stream, so the batch size is N (the number of streams) and a
batch waits for the slowest stream. Frames that arrive while a batch is being inferred are
dropped, so ``analysed_fps`` is what the model keeps up with, capped at N x source fps.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.machinery
import json
import os
import sys
import tempfile
import threading
import time
import types
import warnings
from pathlib import Path
from typing import Any


def _missing_ultralytics_error() -> SystemExit:
    return SystemExit(
        "ultralytics is not installed in this interpreter. It is an optional, AGPL-licensed "
        "benchmark dependency; install it in the separate bench venv, e.g.\n"
        "  python3 -m venv .venv-bench\n"
        "  .venv-bench/bin/pip install torch==2.13.0\n"
        "  .venv-bench/bin/pip install -c <(echo torch==2.13.0) ultralytics onnx onnxslim onnxruntime\n"
        "and run this script with .venv-bench/bin/python."
    )


def ensure_torchvision() -> str:
    """Make ``import torchvision`` work for ultralytics' detect predict/export paths.

    PyPI only has CUDA builds of torchvision. torchvision 0.28.0 pins torch==2.13.0 and installs
    next to the CPU torch 2.13.0 wheel, but its ``_C.so`` links ``libtorch_cuda.so`` /
    ``libc10_cuda.so``, which the CPU torch lacks, so ``import torchvision`` raises
    ``RuntimeError: operator torchvision::nms does not exist``. ultralytics imports torchvision
    unconditionally for stream sources and for ONNX warm-up, but for detection it only *uses*
    ``torchvision.ops.nms``. When the real package cannot be imported we register a minimal
    in-process stand-in whose ``ops.nms`` is ultralytics' own pure-torch ``TorchNMS.nms`` (which
    ultralytics documents as matching torchvision's result exactly). The installed torchvision
    dist-info still supplies the version string ultralytics reads via importlib.metadata.

    Returns "real" or "shim" (reported in the benchmark JSON).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Failed to load image Python extension" etc.
        try:
            import torchvision  # noqa: F401

            return "real"
        except Exception:  # noqa: BLE001 - any failure means: fall back to the stand-in
            for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
                del sys.modules[name]

    def nms(boxes: Any, scores: Any, iou_threshold: float) -> Any:
        from ultralytics.utils.nms import TorchNMS

        return TorchNMS.nms(boxes, scores, iou_threshold)

    try:
        from importlib.metadata import version

        tv_version = version("torchvision")
    except Exception:  # noqa: BLE001
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


def _quiet_ultralytics() -> None:
    # No telemetry, no auto-pip-install of missing requirements, no settings sync; keep the
    # ultralytics settings file out of the user's home.
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_VERBOSE", "False")
    os.environ.setdefault("YOLO_CONFIG_DIR", str(Path(tempfile.gettempdir()) / "gridwatch-ultralytics"))


def _write_streams_file(urls: list[str]) -> str:
    fd, path = tempfile.mkstemp(prefix="gridwatch-bench-", suffix=".streams")
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(urls) + "\n")
    return path


def _mean(xs: list[float]) -> float | None:
    return round(sum(xs) / len(xs), 3) if xs else None


def run(args: argparse.Namespace) -> dict[str, Any]:
    _quiet_ultralytics()
    if args.rtsp_transport != "auto":
        # ultralytics opens streams with cv2.VideoCapture (FFmpeg backend); FFmpeg's default is
        # UDP-then-TCP. Pin it so the comparison with the edge runtime uses the same transport.
        os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", f"rtsp_transport;{args.rtsp_transport}")
    try:
        import ultralytics
    except ImportError as e:
        raise _missing_ultralytics_error() from e
    tv_mode = ensure_torchvision()
    import psutil
    from ultralytics import YOLO

    if args.streams_file:
        streams_path = args.streams_file
        urls = Path(streams_path).read_text(encoding="utf-8-sig").split()
    else:
        urls = list(args.urls)
        streams_path = _write_streams_file(urls)
    if not urls:
        raise SystemExit("no stream URLs given")

    proc = psutil.Process()
    t_start = time.perf_counter()
    model = YOLO(args.model, task="detect")
    common = dict(
        source=streams_path,
        stream=True,
        imgsz=args.imgsz,
        device="cpu",
        verbose=False,
        conf=args.conf,
        # rect=True (ultralytics' default) letterboxes a dynamic-shape ONNX model to the smallest
        # stride-multiple rectangle (768x432 -> 416x256 at imgsz 416); rect=False pads to square.
        rect=args.rect,
    )
    input_shapes: set[tuple[int, ...]] = set()

    def _record_input_shape(predictor: Any) -> None:
        orig = predictor.preprocess

        def preprocess(im: Any) -> Any:
            t = orig(im)
            input_shapes.add(tuple(t.shape))
            return t

        predictor.preprocess = preprocess

    model.add_callback("on_predict_start", _record_input_shape)
    if args.mode == "track":
        gen = model.track(persist=True, tracker=args.tracker, **common)
    else:
        gen = model.predict(**common)

    # (t_done, batch_size, preprocess_ms, inference_ms, postprocess_ms per image, detections)
    batches: list[tuple[float, int, float, float, float, int]] = []
    stop = threading.Event()
    first = threading.Event()
    error: list[BaseException] = []

    def worker() -> None:
        try:
            pending: list[Any] = []
            for r in gen:
                pending.append(r)
                # results of one batch are yielded one by one; batch size == number of streams
                if len(pending) < len(urls):
                    continue
                sp = pending[0].speed
                dets = sum(len(x.boxes) if x.boxes is not None else 0 for x in pending)
                batches.append(
                    (time.perf_counter(), len(pending), sp["preprocess"], sp["inference"], sp["postprocess"], dets)
                )
                pending = []
                first.set()
                if stop.is_set():
                    break
        except BaseException as e:  # noqa: BLE001 - reported in the JSON
            error.append(e)
        finally:
            first.set()
            try:
                gen.close()  # runs ultralytics' finally: LoadStreams.close() stops reader threads
            except Exception:  # noqa: BLE001
                pass

    th = threading.Thread(target=worker, name="ultralytics-predict", daemon=True)
    th.start()
    if not first.wait(args.startup_timeout) or error or not batches:
        stop.set()
        msg = repr(error[0]) if error else f"no batch within {args.startup_timeout}s"
        return {"error": msg, "streams": len(urls), "ultralytics_version": ultralytics.__version__}
    startup_s = batches[0][0] - t_start

    time.sleep(max(0.0, args.warmup))
    proc.cpu_percent(None)
    psutil.cpu_percent(None)
    cpu_t0 = proc.cpu_times()
    t0 = time.perf_counter()
    deadline = t0 + args.duration
    while time.perf_counter() < deadline and th.is_alive():
        time.sleep(min(0.2, max(0.0, deadline - time.perf_counter())))
    t1 = time.perf_counter()
    cpu_proc = proc.cpu_percent(None)
    cpu_sys = psutil.cpu_percent(None)
    cpu_t1 = proc.cpu_times()
    stop.set()

    window = [b for b in batches if t0 < b[0] <= t1]
    elapsed = t1 - t0
    frames = sum(b[1] for b in window)
    sizes = sorted({b[1] for b in window})
    fps_src: list[float] = []
    try:
        fps_src = [float(x) for x in model.predictor.dataset.fps]  # type: ignore[union-attr]
    except Exception:  # noqa: BLE001
        pass
    import onnxruntime
    import torch

    out: dict[str, Any] = {
        "tool": "ultralytics",
        "mode": args.mode,
        "streams": len(urls),
        "batch_size": sizes[0] if len(sizes) == 1 else sizes,
        "model": str(args.model),
        "imgsz": args.imgsz,
        "rect": args.rect,
        "input_shapes": sorted(list(x) for x in input_shapes),
        "duration_s": round(elapsed, 3),
        "startup_s": round(startup_s, 3),
        "warmup_s": args.warmup,
        "batches": len(window),
        "frames_processed": frames,
        "analysed_fps": round(frames / elapsed, 3) if elapsed > 0 else 0.0,
        "per_stream_fps": round(frames / elapsed / len(urls), 3) if elapsed > 0 else 0.0,
        "source_fps": fps_src,
        # ultralytics' Results.speed is per image (batch time / batch size); x batch size = per batch
        "inference_ms_per_batch": _mean([b[3] * b[1] for b in window]),
        "inference_ms_per_image": _mean([b[3] for b in window]),
        "preprocess_ms_per_image": _mean([b[2] for b in window]),
        "postprocess_ms_per_image": _mean([b[4] for b in window]),
        "detections_per_frame": round(sum(b[5] for b in window) / frames, 3) if frames else None,
        # psutil Process.cpu_percent: 100 == one core fully busy (can exceed 100)
        "cpu_percent": round(cpu_proc, 1),
        "cpu_cores_used": round(
            (cpu_t1.user + cpu_t1.system - cpu_t0.user - cpu_t0.system) / elapsed, 3
        ) if elapsed > 0 else None,
        # whole machine, 0-100 averaged over all cores (includes e.g. an RTSP server on this host)
        "cpu_percent_system": round(cpu_sys, 1),
        "cpu_count": psutil.cpu_count(),
        # CPU used by everything else on the host during the window (RTSP server, other jobs),
        # in the same units as cpu_percent; a large value means the figures are contended
        "cpu_percent_others": round(max(0.0, cpu_sys * (psutil.cpu_count() or 1) - cpu_proc), 1),
        "loadavg_1m": round(os.getloadavg()[0], 2),
        "ultralytics_version": ultralytics.__version__,
        "torch_version": torch.__version__,
        "onnxruntime_version": onnxruntime.__version__,
        "torchvision": tv_mode,
        "rtsp_transport": args.rtsp_transport,
    }
    if error:
        out["error"] = repr(error[0])
    th.join(timeout=args.close_timeout)
    return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("urls", nargs="*", help="RTSP/HTTP URLs or video files, one per stream")
    p.add_argument("--streams-file", help="ultralytics .streams file (whitespace-separated URLs)")
    p.add_argument("--model", required=True, help="ONNX (or .pt) model path, e.g. var/models/yolo11n_random.onnx")
    p.add_argument("--duration", type=float, default=30.0, help="measurement window in seconds (default 30)")
    p.add_argument("--warmup", type=float, default=3.0, help="seconds after the first batch before measuring")
    p.add_argument("--imgsz", type=int, default=416)
    p.add_argument("--conf", type=float, default=0.25)
    p.add_argument(
        "--rect",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="ultralytics' rect letterbox (default); --no-rect feeds imgsz x imgsz squares",
    )
    p.add_argument("--mode", choices=("predict", "track"), default="predict")
    p.add_argument("--tracker", default="bytetrack.yaml", help="ultralytics tracker config for --mode track")
    p.add_argument("--rtsp-transport", choices=("tcp", "udp", "auto"), default="tcp")
    p.add_argument("--startup-timeout", type=float, default=120.0)
    p.add_argument("--close-timeout", type=float, default=5.0, help="seconds to let reader threads stop")
    p.add_argument("--json-out", help="also write the JSON here")
    return p


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if bool(args.urls) == bool(args.streams_file):
        build_parser().error("give stream URLs or --streams-file (exactly one of them)")
    # ultralytics logs to stdout; send everything (Python and C level) to stderr so that stdout
    # carries only the JSON result.
    sys.stdout.flush()
    json_fd = os.dup(1)
    os.dup2(2, 1)
    try:
        out = run(args)
    except SystemExit as e:
        out = {"error": str(e.code)}
    except Exception as e:  # noqa: BLE001 - always answer with JSON
        import traceback

        traceback.print_exc()
        out = {"error": repr(e)}
    text = json.dumps(out, indent=2)
    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_out).write_text(text + "\n")
    sys.stdout.flush()
    sys.stderr.flush()
    os.write(json_fd, (text + "\n").encode())
    # Streams are infinite and a cv2 capture can block in read(); never wait for it.
    os._exit(1 if "error" in out else 0)


if __name__ == "__main__":
    main()
