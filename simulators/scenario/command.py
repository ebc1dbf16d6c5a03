"""`gridwatch sim scenario build`: composite the test scenes and their truth.

No freely licensed clip shows littering, an abandoned bag or a large crowd;
these scenes are made from the shared real footage: real object cut-outs
(GrabCut on frames of the shared clips) carried, put down and left by the real
people of another clip, and real people cut out and stood together for crowds.
Each scene gives an MP4 (H.264, yuv420p) and a scenario YAML with the ground
truth, which `gridwatch eval` reads.
"""

from __future__ import annotations

import argparse
import fnmatch
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from simulators.scenario.assets import (
    OBJECT_SOURCES,
    PERSON_SOURCES,
    Cutout,
    PersonSource,
    Sprite,
    cut_object,
    cut_people,
    save_cutout,
)
from simulators.scenario.compositing import SceneRenderer
from simulators.scenario.scenes import SCENES, SceneSpec
from simulators.scenario.writing import Mp4Writer, scenario_document
from simulators.transcode import probe_clip

logger = logging.getLogger(__name__)

CLIP_FOLDER = "composited"
DEFAULT_SEED = 20240611


@dataclass(frozen=True, slots=True)
class BuiltScene:
    """One written scene.

    Attributes:
        name: Scene name.
        clip: The MP4.
        scenario: The scenario YAML.
        frames: Frames written.
        seconds: Wall-clock time it took.
    """

    name: str
    clip: Path
    scenario: Path
    frames: int
    seconds: float


def add_actions(
    actions: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    """The `build` and `list` actions (the harness adds `check`)."""
    build = actions.add_parser(
        "build", help="Write the composited clips and scenarios.", description=__doc__
    )
    build.add_argument(
        "--media", type=Path, required=True, help="Folder of the shared real clips."
    )
    build.add_argument(
        "--out",
        type=Path,
        required=True,
        help=f"Output folder; clips go to OUT/{CLIP_FOLDER}/, cut-outs to "
        f"OUT/{CLIP_FOLDER}/assets/.",
    )
    build.add_argument(
        "--scenarios",
        type=Path,
        required=True,
        help="Folder for the scenario YAMLs (e.g. scenarios/composited).",
    )
    build.add_argument("--only", help="Glob on scene names, e.g. 'litter_*'.")
    build.add_argument("--seed", type=int, default=DEFAULT_SEED, help="Random seed.")
    actions.add_parser("list", help="List the scenes.")


def run_cli(args: argparse.Namespace) -> int:
    if args.action == "list":
        for scene in SCENES:
            _say(f"{scene.name} ({scene.kind}, {scene.duration_s:.0f} s)")
        return 0
    scenes = select_scenes(args.only)
    if not scenes:
        logger.error("no scene matches %r", args.only)
        return 2
    try:
        build_scenes(
            scenes,
            media_dir=args.media,
            out_dir=args.out,
            scenarios_dir=args.scenarios,
            seed=args.seed,
        )
    except (FileNotFoundError, ValueError, RuntimeError, OSError) as error:
        logger.error("scenario build failed: %s", error)
        return 1
    return 0


def select_scenes(only: str | None) -> list[SceneSpec]:
    """The scenes whose name matches the glob `only` (all when None)."""
    return [s for s in SCENES if only is None or fnmatch.fnmatch(s.name, only)]


def build_scenes(
    scenes: list[SceneSpec],
    *,
    media_dir: Path,
    out_dir: Path,
    scenarios_dir: Path,
    seed: int = DEFAULT_SEED,
) -> list[BuiltScene]:
    """Cut the assets the scenes need, then render and write each scene.

    Raises:
        FileNotFoundError: A shared clip is missing.
        ValueError: A scene cannot be made (e.g. nobody to carry its object).
        RuntimeError: ffmpeg is missing or failed.
    """
    clips_dir = out_dir / CLIP_FOLDER
    cutouts = cut_objects(
        scenes, media_dir=media_dir, folder=clips_dir / "assets", seed=seed
    )
    sprites = cut_crowd(scenes, media_dir=media_dir)
    built = []
    for index, scene in enumerate(scenes):
        started = time.perf_counter()
        renderer = SceneRenderer(
            scene,
            media_dir=media_dir,
            cutouts=cutouts,
            sprites=sprites,
            seed=seed + index,
        )
        clip = clips_dir / f"{scene.name}.mp4"
        with Mp4Writer(
            clip, resolution_wh=renderer.resolution_wh, fps=scene.fps
        ) as out:
            for frame in renderer.frames():
                out.write(frame)
        truth = renderer.truth()
        scenarios_dir.mkdir(parents=True, exist_ok=True)
        scenario = scenarios_dir / f"{scene.name}.yaml"
        text = scenario_document(scene, truth, clip=f"{CLIP_FOLDER}/{clip.name}")
        scenario.write_text(text, encoding="utf-8")
        seconds = time.perf_counter() - started
        built.append(BuiltScene(scene.name, clip, scenario, truth.frame_count, seconds))
        _say(
            f"[{index + 1}/{len(scenes)}] {scene.name}: {scene.kind}, "
            f"{truth.frame_count / truth.fps:.1f} s, {truth.frame_count} frames "
            f"-> {clip} ({seconds:.1f} s)"
        )
    return built


def cut_objects(
    scenes: list[SceneSpec], *, media_dir: Path, folder: Path, seed: int
) -> dict[str, Cutout]:
    """The object cut-outs the scenes use, also written as PNGs to `folder`."""
    wanted = {d.asset for s in scenes for d in s.drops}
    wanted |= {p.asset for s in scenes for p in s.placed}
    wanted |= {m.asset for s in scenes for m in s.movers}
    cutouts = {}
    for source in OBJECT_SOURCES:
        if source.name in wanted:
            cutout = cut_object(media_dir, source, seed=seed)
            save_cutout(cutout, folder)
            cutouts[source.name] = cutout
    return cutouts


def cut_crowd(scenes: list[SceneSpec], *, media_dir: Path) -> dict[str, Sprite]:
    """The person sprites the crowd scenes and the walkers use."""
    wanted = {m.person for s in scenes for m in s.crowd}
    wanted |= {w.person for s in scenes for w in s.walkers}
    by_clip: dict[str, list[PersonSource]] = {}
    for source in PERSON_SOURCES:
        if source.name in wanted:
            by_clip.setdefault(source.clip, []).append(source)
    sprites: dict[str, Sprite] = {}
    for clip, sources in by_clip.items():
        fps = float(probe_clip(media_dir / clip).fps)
        for sprite in cut_people(media_dir, sources, fps=fps):
            sprites[sprite.name] = sprite
    return sprites


def _say(line: str) -> None:
    sys.stderr.write(f"scenario: {line}\n")
    sys.stderr.flush()
