"""`gridwatch models ...`: list, fetch, verify and make models batch-dynamic."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnx

from edge.config import ModelConfig
from edge.infer import LetterboxSpec, adapter_type_for, letterbox
from models.dynamic_batch import (
    DEFAULT_TOLERANCE,
    BatchMismatchError,
    BatchRewriteError,
    DynamicBatchReport,
    convert,
    read_frames,
)
from models.manifest import (
    ChecksumError,
    DownloadError,
    Kind,
    ModelEntry,
    NotFoundError,
    UnknownEntryError,
    VideoEntry,
    load_manifest,
    resolve_entry,
    resolve_model,
    resolve_video,
)

logger = logging.getLogger(__name__)

DEFAULT_OUT_DIR = Path("var/models")
SAMPLE_VIDEOS = (
    "one-by-one-person-detection.mp4",
    "car-detection.mp4",
    "solidWhiteRight.mp4",
    "bottle-detection.mp4",
)
_ENTRY_ERRORS = (ChecksumError, DownloadError, NotFoundError)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the `models` actions: list, fetch, verify, make-dynamic."""
    actions = parser.add_subparsers(
        dest="models_command", required=True, metavar="ACTION"
    )
    listing = actions.add_parser(
        "list", help="List manifest entries and where they are."
    )
    listing.add_argument("--json", action="store_true", help="Print JSON.")
    fetch = actions.add_parser(
        "fetch", help="Find or download every file, check sha256."
    )
    fetch.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="Data folder (models/, videos/): searched first, downloads go there.",
    )
    verify = actions.add_parser(
        "verify", help="Check local files' sha256, no download."
    )
    verify.add_argument(
        "--dir", type=Path, default=None, help="Data folder (models/, videos/) first."
    )
    _add_make_dynamic(
        actions.add_parser(
            "make-dynamic",
            help="Rewrite a model to a dynamic batch axis and verify it.",
        )
    )


def _add_make_dynamic(dynamic: argparse.ArgumentParser) -> None:
    dynamic.add_argument(
        "model", metavar="NAME_OR_PATH", help="Manifest name or ONNX file."
    )
    dynamic.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT_DIR,
        help="Output .onnx file or folder (<stem>_dynamic.onnx); default var/models/.",
    )
    dynamic.add_argument(
        "--verify-batch",
        type=int,
        default=4,
        metavar="K",
        help="Compare K real frames batched against one by one; 0 skips.",
    )
    dynamic.add_argument(
        "--tolerance",
        type=float,
        default=DEFAULT_TOLERANCE,
        help="Largest allowed absolute difference (default 1e-3).",
    )
    dynamic.add_argument(
        "--videos-dir", type=Path, default=None, help="Where the sample clips are."
    )
    dynamic.add_argument("--json", action="store_true", help="Print JSON.")


def run_cli(args: argparse.Namespace) -> int:
    """Run the chosen `models` action; returns the process exit code."""
    handlers: dict[str, Callable[[argparse.Namespace], int]] = {
        "list": _run_list,
        "fetch": _run_fetch,
        "verify": _run_verify,
        "make-dynamic": _run_make_dynamic,
    }
    handler = handlers[str(args.models_command)]
    return handler(args)


def _entries() -> list[tuple[Kind, ModelEntry | VideoEntry]]:
    manifest = load_manifest()
    return [("models", m) for m in manifest.models] + [
        ("videos", v) for v in manifest.videos
    ]


def _label(entry: ModelEntry | VideoEntry) -> str:
    return entry.name if isinstance(entry, ModelEntry) else entry.file


def _status(kind: Kind, entry: ModelEntry | VideoEntry, folder: Path | None) -> str:
    try:
        return str(resolve_entry(entry, kind, folder, download=False))
    except NotFoundError:
        return "missing"
    except ChecksumError as error:
        return f"bad: {error}"


def _run_list(args: argparse.Namespace) -> int:
    rows = [
        {
            "kind": kind,
            "name": _label(entry),
            "file": entry.file,
            "role": str(entry.role) if isinstance(entry, ModelEntry) else "video",
            "licence": entry.licence,
            "status": _status(kind, entry, None),
        }
        for kind, entry in _entries()
    ]
    if args.json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return 0
    for row in rows:
        sys.stdout.write(
            f"{row['kind']:<7} {row['name']:<34} {row['role']:<14} "
            f"{row['licence']:<11} {row['status']}\n"
        )
    return 0


def _run_fetch(args: argparse.Namespace) -> int:
    failed = 0
    for kind, entry in _entries():
        target = args.dir / kind if args.dir is not None else None
        try:
            path = resolve_entry(entry, kind, target, download_dir=target)
        except _ENTRY_ERRORS as error:
            failed += 1
            sys.stdout.write(f"FAIL {entry.file}: {error}\n")
            continue
        sys.stdout.write(f"ok   {entry.file}: {path}\n")
    return 1 if failed else 0


def _run_verify(args: argparse.Namespace) -> int:
    failed = 0
    for kind, entry in _entries():
        folder = args.dir / kind if args.dir is not None else None
        status = _status(kind, entry, folder)
        is_ok = status not in ("missing",) and not status.startswith("bad")
        failed += 0 if is_ok else 1
        sys.stdout.write(f"{'ok  ' if is_ok else 'FAIL'} {entry.file}: {status}\n")
    return 1 if failed else 0


def _source_model(target: str) -> tuple[Path, ModelEntry | None]:
    manifest = load_manifest()
    path = Path(target)
    if path.is_file():
        try:
            return path, manifest.model(path.name)
        except UnknownEntryError:
            return path, None
    return resolve_model(target), manifest.model(target)


def _output_path(out: Path, source: Path) -> Path:
    if out.suffix == ".onnx":
        return out
    return out / f"{source.stem}_dynamic.onnx"


def _input_size(source: Path) -> int:
    graph = onnx.load(str(source), load_external_data=False).graph
    weights = {init.name for init in graph.initializer}
    first_input = next(value for value in graph.input if value.name not in weights)
    shape = [int(d.dim_value) for d in first_input.type.tensor_type.shape.dim]
    if len(shape) != 4 or shape[1] != 3 or shape[2] != shape[3] or shape[2] <= 0:
        raise BatchRewriteError(f"{source.name}: want input (1, 3, S, S), got {shape}")
    return shape[2]


def _batch_maker(
    source: Path, entry: ModelEntry | None, count: int, videos_dir: Path | None
) -> Callable[[], npt.NDArray[np.float32]]:
    """Builds K preprocessed real frames the way the model's family expects."""
    size = _input_size(source)

    def make() -> npt.NDArray[np.float32]:
        videos = [resolve_video(name, videos_dir) for name in SAMPLE_VIDEOS]
        frames = read_frames(videos, count)
        if entry is not None and entry.family is not None:
            config = ModelConfig(name=entry.name, family=entry.family, input_size=size)
            adapter = adapter_type_for(entry.family)(
                config=config, labels=entry.classes
            )
            return adapter.preprocess(frames)[0]
        logger.warning(
            "%s: unknown family, verifying with plain 0-255 BGR", source.name
        )
        spec = LetterboxSpec(size_px=size)
        canvases = np.stack([letterbox(frame, spec)[0] for frame in frames])
        return canvases.transpose(0, 3, 1, 2).astype(np.float32)

    return make


def _report_json(report: DynamicBatchReport, tolerance: float) -> str:
    verify = report.verify
    return json.dumps(
        {
            "source": str(report.source),
            "output": str(report.output),
            "batch": verify.batch if verify else None,
            "max_abs_diff": verify.max_abs_diff if verify else None,
            "per_output": verify.per_output if verify else None,
            "tolerance": tolerance,
            "reshapes_rewritten": report.summary.reshapes,
            "resizes_rewritten": report.summary.resizes,
            "initializer_inputs_dropped": report.summary.initializer_inputs_dropped,
        },
        indent=2,
    )


def _report_text(report: DynamicBatchReport, tolerance: float) -> str:
    summary = report.summary
    line = (
        f"wrote {report.output} ({summary.reshapes} Reshape and {summary.resizes} "
        f"Resize nodes rewritten)"
    )
    if report.verify is None:
        return f"{line}; not verified"
    return (
        f"{line}; batch {report.verify.batch} vs one by one: max abs diff "
        f"{report.verify.max_abs_diff:.3g} (tolerance {tolerance:g})"
    )


def _run_make_dynamic(args: argparse.Namespace) -> int:
    if args.verify_batch < 0:
        sys.stderr.write("--verify-batch must be >= 0\n")
        return 2
    try:
        source, entry = _source_model(args.model)
        maker = (
            _batch_maker(source, entry, args.verify_batch, args.videos_dir)
            if args.verify_batch
            else None
        )
        output = _output_path(args.out, source)
        report = convert(source, output, make_batch=maker, tolerance=args.tolerance)
    except (
        UnknownEntryError,
        BatchRewriteError,
        BatchMismatchError,
        *_ENTRY_ERRORS,
    ) as error:
        sys.stderr.write(f"make-dynamic failed: {error}\n")
        return 1
    render = _report_json if args.json else _report_text
    sys.stdout.write(render(report, args.tolerance) + "\n")
    return 0
