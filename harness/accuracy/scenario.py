"""Scenario files: a clip, the camera section that watches it, and its ground truth."""

from __future__ import annotations

import fnmatch
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import AfterValidator, Field, ValidationError, model_validator

from edge.config import CameraConfig
from edge.rules.registry import event_types
from gridwatch.contract import EventTypeName
from gridwatch.validation import StrictModel, validation_problems

SCENARIO_SUFFIXES = (".yaml", ".yml")
ALL_ZONES = "all"
# The harness sets where the camera reads from; a scenario only says what it sees.
HARNESS_CAMERA_KEYS = frozenset({"id", "url", "kind"})
DEFAULT_LOCATION = {"lat": 23.1291, "lon": 113.2644}
PLACEHOLDER_URL = "rtsp://127.0.0.1:8554/eval"

BoxNorm = tuple[float, float, float, float]


class ScenarioError(ValueError):
    """A scenario file cannot be used; the message names the file and each field."""

    def __init__(self, path: Path, problems: Sequence[str]) -> None:
        self.path = path
        self.problems = tuple(problems)
        super().__init__(f"{path}: " + "; ".join(self.problems))


def _raised_by_a_rule(event_type: str) -> str:
    """`event_type` unchanged when a registered rule raises it."""
    known = sorted(set(event_types().values()))
    if event_type not in known:
        raise ValueError(
            f"no rule raises event type {event_type!r} (known: {', '.join(known)})"
        )
    return event_type


class ExpectedEvent(StrictModel):
    """One incident the pipeline should report, with when (and where) it may."""

    type: Annotated[EventTypeName, AfterValidator(_raised_by_a_rule)] = Field(
        description="Event type a rule raises, e.g. crowding, intrusion, fall."
    )
    window: tuple[float, float] = Field(
        description="Clip seconds [start, end] in which the event should be raised; "
        "latency is measured from start."
    )
    region: BoxNorm | None = Field(
        default=None,
        description="Normalised x1 y1 x2 y2 the event's image_box must overlap.",
    )
    note: str | None = Field(default=None, description="What happens (free text).")

    @model_validator(mode="after")
    def verify_window_and_region(self) -> ExpectedEvent:
        start, end = self.window
        if start < 0 or end < start:
            raise ValueError(
                f"window must be 0 <= start <= end, got {list(self.window)}"
            )
        if self.region is not None:
            x1, y1, x2, y2 = self.region
            if not all(0.0 <= v <= 1.0 for v in self.region):
                raise ValueError(f"region must be within 0..1, got {list(self.region)}")
            if not (x1 < x2 and y1 < y2):
                raise ValueError(
                    f"region must be x1 < x2 and y1 < y2, got {list(self.region)}"
                )
        return self


class ExpectedCount(StrictModel):
    """How many objects of a label a zone holds at one clip time."""

    t: float = Field(ge=0, description="Clip seconds.")
    zone: str = Field(
        default=ALL_ZONES, min_length=1, description="Zone id, or `all` (sum)."
    )
    label: str = Field(default="person", min_length=1)
    count: int = Field(ge=0)
    tolerance: int = Field(
        default=0, ge=0, description="Largest error still counted as right."
    )
    note: str | None = None


class Expected(StrictModel):
    events: list[ExpectedEvent] = Field(default_factory=list)
    counts: list[ExpectedCount] = Field(default_factory=list)


class Scenario(StrictModel):
    """The YAML document of one scenario file."""

    clip: str = Field(min_length=1, description="Clip path relative to --media.")
    camera: dict[str, Any] = Field(
        description="The node config's camera section, without id and url."
    )
    expected: Expected = Field(default_factory=Expected)
    composited: str | None = Field(
        default=None, description="Which parts of the clip are composited, if any."
    )
    description: str | None = Field(
        default=None, description="What the clip shows; how the truth was found."
    )


@dataclass(frozen=True, slots=True)
class LoadedScenario:
    """A valid scenario, ready to replay.

    Attributes:
        name: Path relative to the scenarios folder, without suffix
            (``people/one_by_one``).
        path: The scenario file.
        scenario: The validated document.
        camera: The validated camera section (placeholder id and url; the
            harness sets the real ones).
        clip_path: The clip file (resolved against the media folder).
    """

    name: str
    path: Path
    scenario: Scenario
    camera: CameraConfig
    clip_path: Path


@dataclass(frozen=True, slots=True)
class ScenarioLoad:
    """What loading a folder gave: usable scenarios and per-file errors."""

    scenarios: tuple[LoadedScenario, ...]
    errors: tuple[tuple[str, ScenarioError], ...]


def find_scenario_files(root: Path) -> list[Path]:
    """Every scenario file under `root` (searched recursively), or `root` itself.

    Raises:
        FileNotFoundError: `root` does not exist.
    """
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise FileNotFoundError(f"scenarios folder not found: {root}")
    return sorted(
        p for p in root.rglob("*") if p.is_file() and p.suffix in SCENARIO_SUFFIXES
    )


def scenario_name(path: Path, root: Path) -> str:
    """``people/one_by_one`` for ``<root>/people/one_by_one.yaml``."""
    if root.is_file():
        return path.stem
    return path.relative_to(root).with_suffix("").as_posix()


def is_selected(name: str, only: str | None) -> bool:
    """Whether a scenario name matches `--only` (a glob on the name or last part)."""
    if only is None:
        return True
    return fnmatch.fnmatch(name, only) or fnmatch.fnmatch(name.rsplit("/", 1)[-1], only)


def load_scenario_sets(
    roots: Sequence[Path], *, media_dir: Path | None, only: str | None = None
) -> ScenarioLoad:
    """Load several folders or files into one run.

    With more than one, a folder's scenarios are named from its parent
    (``scenarios/people`` and ``scenarios/falls`` give ``people/one_by_one``
    and ``falls/...``, as loading ``scenarios`` would); a file seen twice is
    loaded once.

    Raises:
        FileNotFoundError: a root does not exist.
    """
    if len(roots) == 1:
        return load_scenarios(roots[0], media_dir=media_dir, only=only)
    loaded: list[LoadedScenario] = []
    errors: list[tuple[str, ScenarioError]] = []
    seen: set[Path] = set()
    for root in roots:
        load = load_scenarios(
            root,
            media_dir=media_dir,
            only=only,
            name_root=root if root.is_file() else root.parent,
            skip=seen,
        )
        loaded += load.scenarios
        errors += load.errors
        seen |= {s.path.resolve() for s in load.scenarios}
        seen |= {error.path.resolve() for _, error in load.errors}
    return ScenarioLoad(scenarios=tuple(loaded), errors=tuple(errors))


def load_scenarios(
    root: Path,
    *,
    media_dir: Path | None,
    only: str | None = None,
    name_root: Path | None = None,
    skip: Collection[Path] = (),
) -> ScenarioLoad:
    """Load every scenario under `root`; a bad file becomes an error, not an exception.

    Args:
        root: Scenarios folder (subfolders included) or one scenario file.
        media_dir: Folder the clips are relative to; None skips the clip check.
        only: Glob selecting scenarios by name (see `is_selected`).
        name_root: Folder the names are relative to (default `root`).
        skip: Resolved paths of files not to load again.

    Raises:
        FileNotFoundError: `root` does not exist.
    """
    loaded: list[LoadedScenario] = []
    errors: list[tuple[str, ScenarioError]] = []
    for path in find_scenario_files(root):
        if path.resolve() in skip:
            continue
        name = scenario_name(path, name_root or root)
        if not is_selected(name, only):
            continue
        try:
            loaded.append(load_scenario(path, name=name, media_dir=media_dir))
        except ScenarioError as error:
            errors.append((name, error))
    return ScenarioLoad(scenarios=tuple(loaded), errors=tuple(errors))


def load_scenario(path: Path, *, name: str, media_dir: Path | None) -> LoadedScenario:
    """Read, validate and cross-check one scenario file.

    Raises:
        ScenarioError: naming the file and every bad field.
    """
    document = _read_yaml(path)
    try:
        scenario = Scenario.model_validate(document)
    except ValidationError as error:
        raise ScenarioError(path, validation_problems(error)) from None
    camera = camera_config(scenario.camera, path=path)
    problems = verify_counts_measurable(scenario.expected.counts, camera)
    clip_path = (media_dir / scenario.clip) if media_dir is not None else None
    if clip_path is not None and not clip_path.is_file():
        problems.append(f"clip: file not found: {clip_path}")
    if problems:
        raise ScenarioError(path, problems)
    return LoadedScenario(
        name=name,
        path=path,
        scenario=scenario,
        camera=camera,
        clip_path=clip_path if clip_path is not None else Path(scenario.clip),
    )


def _read_yaml(path: Path) -> object:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ScenarioError(path, [f"cannot read: {error.strerror}"]) from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ScenarioError(path, [f"not valid YAML: {error}"]) from None
    if not isinstance(document, dict):
        raise ScenarioError(path, ["must be a mapping (clip, camera, expected)"])
    return document


def camera_config(section: Mapping[str, Any], *, path: Path) -> CameraConfig:
    """Validate a scenario's camera section with the node's own camera model.

    Raises:
        ScenarioError: the section sets id/url/kind, or fails the node's checks
            (an unknown rule type among them).
    """
    reserved = sorted(HARNESS_CAMERA_KEYS & set(section))
    if reserved:
        raise ScenarioError(
            path,
            [f"camera.{key}: set by the harness; leave it out" for key in reserved],
        )
    data = {"location": DEFAULT_LOCATION, **section}
    data.update(id="eval", url=PLACEHOLDER_URL)
    try:
        return CameraConfig.model_validate(data)
    except ValidationError as error:
        raise ScenarioError(path, validation_problems(error, prefix="camera")) from None


def occupancy_labels(camera: CameraConfig) -> dict[str, set[str]]:
    """Zone id -> labels counted by the zone's occupancy rules."""
    counted: dict[str, set[str]] = {}
    for zone in camera.zones:
        for rule in zone.rules:
            if rule.type == "occupancy":
                counted.setdefault(zone.id, set()).update(getattr(rule, "labels", []))
    return counted


def verify_counts_measurable(
    counts: Iterable[ExpectedCount], camera: CameraConfig
) -> list[str]:
    """Problems with count checks the camera's occupancy rules cannot answer."""
    counted = occupancy_labels(camera)
    problems: list[str] = []
    for index, check in enumerate(counts):
        where = f"expected.counts.{index}"
        if check.zone == ALL_ZONES:
            if not any(check.label in labels for labels in counted.values()):
                problems.append(
                    f"{where}: no zone has an occupancy rule counting {check.label!r}"
                )
        elif check.zone not in counted:
            problems.append(
                f"{where}.zone: {check.zone!r} has no occupancy rule "
                f"(zones with one: {sorted(counted)})"
            )
        elif check.label not in counted[check.zone]:
            problems.append(
                f"{where}.label: zone {check.zone!r} does not count {check.label!r}"
            )
    return problems


def rule_types(camera: CameraConfig) -> set[str]:
    """Rule types configured on any zone of the camera."""
    return {str(rule.type) for zone in camera.zones for rule in zone.rules}


def unconfigured_types(scenario: LoadedScenario) -> list[str]:
    """Expected event types with no rule of the same name: likely all misses."""
    configured = rule_types(scenario.camera)
    wanted = {event.type for event in scenario.scenario.expected.events}
    return sorted(wanted - configured)
