"""Edge node configuration (YAML validated with pydantic; unknown keys are errors)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gridwatch.contract import DEFAULT_TOPIC_PREFIX
from models.family import ModelFamily


class ConfigError(ValueError):
    """A node config could not be read or is invalid; the message names the problem."""


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


PointNorm = tuple[
    Annotated[float, Field(ge=0.0, le=1.0)], Annotated[float, Field(ge=0.0, le=1.0)]
]


class SourceKind(StrEnum):
    RTSP = "rtsp"
    FILE = "file"
    SNAPSHOT = "snapshot"


class GeoPoint(StrictModel):
    lat: float = Field(ge=-90, le=90, title="Latitude", description="WGS84 degrees.")
    lon: float = Field(ge=-180, le=180, title="Longitude", description="WGS84 degrees.")


class HomographyConfig(StrictModel):
    """Reference points pairing normalised image positions with ground positions."""

    image_points_norm: list[PointNorm] = Field(min_length=4)
    ground_points: list[GeoPoint] = Field(min_length=4)

    @model_validator(mode="after")
    def verify_pairs(self) -> HomographyConfig:
        if len(self.image_points_norm) != len(self.ground_points):
            raise ValueError(
                f"homography needs as many image_points_norm "
                f"({len(self.image_points_norm)}) as ground_points "
                f"({len(self.ground_points)})"
            )
        return self


class OccupancyRuleConfig(StrictModel):
    type: Literal["occupancy"] = "occupancy"
    labels: list[str] = Field(default_factory=lambda: ["person"], min_length=1)


class CrowdingRuleConfig(StrictModel):
    type: Literal["crowding"] = "crowding"
    label: str = "person"
    threshold: int = Field(
        default=10, ge=1, description="Objects in zone to count as a crowd."
    )
    dwell_s: float = Field(
        default=10.0, ge=0, description="Sustained for at least this long."
    )
    clear_s: float = Field(
        default=5.0, ge=0, description="Below threshold this long ends it."
    )
    cooldown_s: float = Field(
        default=60.0, ge=0, description="No new event this long after an end."
    )
    update_interval_s: float = Field(default=30.0, gt=0)


class DwellRuleConfig(StrictModel):
    """Shared by the rules that fire when a tracked object stays in a zone."""

    labels: list[str] = Field(default_factory=lambda: ["person"], min_length=1)
    min_s: float = Field(
        default=1.0, ge=0, description="Inside the zone at least this long."
    )
    clear_s: float = Field(default=3.0, ge=0)
    cooldown_s: float = Field(default=30.0, ge=0)


class IntrusionRuleConfig(DwellRuleConfig):
    type: Literal["intrusion"] = "intrusion"


class PresenceRuleConfig(DwellRuleConfig):
    """A label (e.g. of a city's own fire/smoke or overflowing-bin model) in the
    zone for `min_s`: event type `presence`, the label in its attributes."""

    type: Literal["presence"] = "presence"
    labels: list[str] = Field(
        min_length=1, description="Labels whose presence is the event."
    )
    min_s: float = Field(
        default=5.0, ge=0, description="Present in the zone at least this long."
    )
    cooldown_s: float = Field(default=300.0, ge=0)


class IllegalParkingRuleConfig(DwellRuleConfig):
    """A vehicle stopped in a no-stopping zone for `min_s`."""

    type: Literal["illegal_parking"] = "illegal_parking"
    labels: list[str] = Field(
        default_factory=lambda: ["car", "truck", "bus", "motorcycle"], min_length=1
    )
    min_s: float = Field(
        default=60.0, ge=0, description="Stopped in the zone at least this long."
    )
    max_move_frac: float = Field(
        default=0.02,
        gt=0,
        le=1,
        description="Moving more than this fraction of the frame diagonal from "
        "where it stopped restarts its clock (it was driving, not parked).",
    )
    cooldown_s: float = Field(default=300.0, ge=0)


class StaticObjectRuleConfig(StrictModel):
    """Shared by the rules that fire on an object left on the ground by a person.

    An object is a new static change of the picture (a background model on a
    small grey frame) or a stationary detection, separated from every person,
    on the ground of the zone. Its owner is the person nearest to it when it
    appeared; the rule fires once the object has stayed `static_s` and its owner
    has been farther than `owner_away_frac` (or out of view) for `owner_away_s`.
    """

    labels: list[str] = Field(
        min_length=1,
        description="Detector labels that make a static object this rule's kind.",
    )
    unknown_objects: bool = Field(
        description="Static objects the detector gives no label count as this "
        "rule's kind (between min_area_frac and max_area_frac)."
    )
    exclude_labels: list[str] = Field(
        description="Detector labels that make a static object not this rule's "
        "kind (the other rule's); any other label counts as no label."
    )
    person_labels: list[str] = Field(
        default_factory=lambda: ["person"],
        min_length=1,
        description="Labels of people: possible owners, never objects.",
    )
    static_s: float = Field(
        default=5.0, ge=0, description="The object stays unmoved at least this long."
    )
    owner_away_s: float = Field(
        default=10.0,
        ge=0,
        description="Its owner stays away (or out of view) at least this long.",
    )
    owner_away_frac: float = Field(
        default=0.15,
        gt=0,
        le=1,
        description="Away means farther than this fraction of the frame diagonal "
        "from the object (gap between the boxes).",
    )
    owner_near_frac: float = Field(
        default=0.1,
        ge=0,
        le=1,
        description="A person this near (fraction of the frame diagonal) when the "
        "object appeared can be its owner; the nearest one is.",
    )
    require_owner: bool = Field(
        default=True,
        description="Objects that appear with nobody near (thrown, or a person "
        "the detector missed) never fire.",
    )
    min_area_frac: float = Field(
        default=0.0003, gt=0, le=1, description="Smallest object, fraction of frame."
    )
    max_area_frac: float = Field(
        default=0.02, gt=0, le=1, description="Largest object, fraction of frame."
    )
    warmup_s: float = Field(
        default=2.0,
        ge=0,
        description="The first seconds learn the empty scene: what is there then "
        "never fires.",
    )
    clear_s: float = Field(
        default=2.0,
        ge=0,
        description="An object unseen (and not hidden by a person) this long is "
        "gone: its event ends.",
    )
    background_s: float = Field(
        default=120.0,
        gt=0,
        description="A change that is no object (a moved bench, a new poster) is "
        "learned into the background over about this long.",
    )
    max_object_s: float = Field(
        default=1800.0,
        gt=0,
        description="An object left this long becomes background (its event ends).",
    )

    @model_validator(mode="after")
    def verify_area_bounds(self) -> StaticObjectRuleConfig:
        if self.min_area_frac >= self.max_area_frac:
            raise ValueError(
                f"min_area_frac ({self.min_area_frac}) must be below "
                f"max_area_frac ({self.max_area_frac})"
            )
        for name, other in (
            ("person_labels", self.person_labels),
            ("exclude_labels", self.exclude_labels),
        ):
            overlap = sorted(set(self.labels) & set(other))
            if overlap:
                raise ValueError(f"labels {overlap} are {name} too")
        return self


class LitteringRuleConfig(StaticObjectRuleConfig):
    """Small items dropped and left: bottles, cups, bags of rubbish, unknown blobs."""

    type: Literal["littering"] = "littering"
    labels: list[str] = Field(
        default_factory=lambda: ["bottle", "cup", "wine glass"],
        min_length=1,
        description="Detector labels of litter.",
    )
    unknown_objects: bool = Field(
        default=True, description="Unlabelled static objects count as litter."
    )
    exclude_labels: list[str] = Field(
        default_factory=lambda: ["backpack", "handbag", "suitcase"],
        description="Labels of luggage: left luggage is no litter.",
    )


class AbandonedObjectRuleConfig(StaticObjectRuleConfig):
    """Bags and luggage left behind by their owner."""

    type: Literal["abandoned_object"] = "abandoned_object"
    labels: list[str] = Field(
        default_factory=lambda: ["backpack", "handbag", "suitcase"],
        min_length=1,
        description="Detector labels of luggage.",
    )
    unknown_objects: bool = Field(
        default=False,
        description="Unlabelled static objects count as abandoned objects (for a "
        "zone where anything left is luggage, e.g. a station hall).",
    )
    exclude_labels: list[str] = Field(
        default_factory=lambda: ["bottle", "cup", "wine glass"],
        description="Labels of litter: a bottle left behind is no luggage.",
    )
    static_s: float = Field(
        default=10.0, ge=0, description="The object stays unmoved at least this long."
    )
    owner_away_s: float = Field(
        default=30.0,
        ge=0,
        description="Its owner stays away (or out of view) at least this long.",
    )
    max_area_frac: float = Field(
        default=0.05, gt=0, le=1, description="Largest object, fraction of frame."
    )


class FallRuleConfig(StrictModel):
    """Settings of the `fall` rule (see docs/edge.md, "Falls").

    Its home is the `RuleConfig` union of `edge/config.py`, beside the other
    rules' configs; it depends on nothing else so that it can move there.
    """

    type: Literal["fall"] = "fall"
    labels: list[str] = Field(
        default_factory=lambda: ["person"],
        min_length=1,
        title="Labels",
        description="Detector labels that can fall.",
    )
    down_s: float = Field(
        default=1.0,
        gt=0,
        le=600,
        title="Down time",
        description="Seconds a person must stay lying after the fall before the "
        "event starts.",
    )
    transition_s: float = Field(
        default=2.0,
        gt=0,
        le=10,
        title="Transition time",
        description="Longest time from upright to lying that still counts as a "
        "fall; lying down more slowly is deliberate (a bed, a mat).",
    )
    drop_ratio: float = Field(
        default=0.2,
        gt=0,
        le=1,
        title="Drop",
        description="How far the hips (the box centre when the hips are not "
        "seen) must drop within transition_s, as a share of the person's upright "
        "height.",
    )
    min_keypoint_score: float = Field(
        default=0.3,
        ge=0,
        le=1,
        title="Keypoint score",
        description="Pose keypoints scoring lower are treated as not seen.",
    )
    upright_max_deg: float = Field(
        default=35.0,
        gt=0,
        lt=90,
        title="Upright angle",
        description="A torso within this angle of vertical is upright.",
    )
    lying_min_deg: float = Field(
        default=55.0,
        gt=0,
        le=90,
        title="Lying angle",
        description="A torso at least this far from vertical (and low) is lying.",
    )
    clear_s: float = Field(
        default=2.0,
        ge=0,
        title="Clear time",
        description="The event ends once the person has stood, or been gone, "
        "this long.",
    )
    cooldown_s: float = Field(
        default=30.0,
        ge=0,
        title="Cooldown",
        description="No new fall of the same person this long after an end.",
    )
    pose_model: str = Field(
        default="movenet_lightning",
        min_length=1,
        title="Pose model",
        description="Manifest name of the pose model.",
    )

    @model_validator(mode="after")
    def verify_angles(self) -> FallRuleConfig:
        if self.lying_min_deg <= self.upright_max_deg:
            raise ValueError(
                f"lying_min_deg ({self.lying_min_deg}) must be above "
                f"upright_max_deg ({self.upright_max_deg})"
            )
        return self


RuleConfig = Annotated[
    OccupancyRuleConfig
    | CrowdingRuleConfig
    | IntrusionRuleConfig
    | PresenceRuleConfig
    | IllegalParkingRuleConfig
    | LitteringRuleConfig
    | AbandonedObjectRuleConfig
    | FallRuleConfig,
    Field(discriminator="type"),
]


class ZoneConfig(StrictModel):
    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    polygon_norm: list[PointNorm] = Field(
        default_factory=lambda: [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)],
        min_length=3,
        description="Polygon in normalised image coordinates (0..1).",
    )
    rules: list[RuleConfig] = Field(default_factory=list)


class CameraConfig(StrictModel):
    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    url: str = Field(
        min_length=1, description="rtsp:// URL, file path, or snapshot id."
    )
    kind: SourceKind = SourceKind.RTSP
    location: GeoPoint
    homography: HomographyConfig | None = None
    analysis_fps: float = Field(default=5.0, gt=0, le=60)
    open_timeout_s: float = Field(default=5.0, gt=0)
    read_timeout_s: float = Field(default=5.0, gt=0)
    stall_after_s: float = Field(default=3.0, gt=0)
    reconnect_min_s: float = Field(default=0.5, gt=0)
    reconnect_max_s: float = Field(default=10.0, gt=0)
    loop: bool = Field(default=False, description="Loop a file source (kind: file).")
    zones: list[ZoneConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def verify_zone_ids_unique(self) -> CameraConfig:
        ids = [z.id for z in self.zones]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"camera {self.id!r}: duplicate zone ids {dupes}")
        return self


class ModelConfig(StrictModel):
    name: str = Field(default="yolox_nano", description="Model manifest name.")
    path: Path | None = Field(
        default=None, description="ONNX file; default from manifest."
    )
    family: ModelFamily = ModelFamily.YOLOX
    input_size: int = Field(default=416, ge=32, le=2048)
    conf_threshold: float = Field(default=0.35, ge=0, le=1)
    nms_iou: float = Field(default=0.45, ge=0, le=1)
    labels: list[str] = Field(
        default_factory=list, description="Keep only these labels; empty keeps all."
    )
    providers: list[str] = Field(
        default_factory=list,
        description="onnxruntime providers in order; empty picks the best available.",
    )
    intra_op_threads: int = Field(
        default=0, ge=0, description="0 lets onnxruntime choose."
    )
    intra_op_spinning: bool = Field(
        default=True,
        description="Let onnxruntime's threads busy-wait between runs (measured: "
        "+24% analysed fps on 2 cores even beside decoding; see docs/benchmarks.md).",
    )


class BatchConfig(StrictModel):
    max_batch: int = Field(default=1, ge=1, le=256)
    max_wait_ms: float = Field(default=5.0, ge=0, le=1000)
    workers: int = Field(
        default=0,
        ge=0,
        le=16,
        description="Inference threads, each with its own onnxruntime session. 0 = "
        "auto: on a CPU one worker per core (at most 8) with one onnxruntime thread "
        "each, which beats one session using every core (docs/benchmarks.md); on a "
        "GPU one worker.",
    )


class BrokerConfig(StrictModel):
    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    username: str | None = None
    password_env: str | None = Field(
        default=None, description="Environment variable holding the password."
    )
    topic_prefix: str = DEFAULT_TOPIC_PREFIX
    keepalive_s: int = Field(default=30, ge=5)


class HttpConfig(StrictModel):
    host: str = "127.0.0.1"
    port: int = Field(default=8081, ge=0, le=65535, description="0 picks a free port.")


class OutboxConfig(StrictModel):
    path: Path = Path("var/outbox.sqlite")
    max_rows: int = Field(default=100_000, ge=100)


class CentralConfig(StrictModel):
    """Central's HTTP API, where event clips are uploaded (`PUT /api/v1/media/...`)."""

    url: str = Field(
        pattern=r"^https?://[^/\s]+(/\S*)?$",
        title="Central base URL",
        description="e.g. http://central:8080 (no trailing /api path).",
    )
    token_file: Path | None = Field(
        default=None,
        title="Token file",
        description="File holding this node's bearer token (first line).",
    )
    token_env: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        title="Token variable",
        description="Environment variable holding this node's bearer token.",
    )
    timeout_s: float = Field(
        default=30.0, gt=0, le=600, description="Per-request HTTP timeout."
    )
    retry_min_s: float = Field(
        default=1.0, gt=0, description="First retry delay; doubles per failure."
    )
    retry_max_s: float = Field(
        default=300.0, gt=0, description="Longest delay between two retries."
    )
    link_wait_s: float = Field(
        default=900.0,
        ge=0,
        description="Central keeps media that arrives before its event but links "
        "it only when uploaded after the event: re-upload (with back-off) this "
        "long while central answers `event_known: false`.",
    )

    @model_validator(mode="after")
    def verify_one_token_source(self) -> CentralConfig:
        if (self.token_file is None) == (self.token_env is None):
            raise ValueError("central needs exactly one of token_file or token_env")
        if self.retry_min_s > self.retry_max_s:
            raise ValueError(
                f"central.retry_min_s ({self.retry_min_s}) must not exceed "
                f"retry_max_s ({self.retry_max_s})"
            )
        return self


class MediaConfig(StrictModel):
    """Event clips (H.264 MP4, faces blurred) and where they are kept."""

    clips: bool = Field(
        default=True,
        title="Record clips",
        description="Record a clip around each event start (rtsp and file "
        "cameras; snapshot cameras get none).",
    )
    pre_s: float = Field(
        default=4.0, ge=0, le=60, description="Seconds of video before the event."
    )
    post_s: float = Field(
        default=4.0, gt=0, le=60, description="Seconds of video after the event."
    )
    buffer_s: float = Field(
        default=8.0,
        gt=0,
        le=120,
        description="Seconds of analysed frames kept per camera (at least pre_s; "
        "the rest covers the delay before the event is built).",
    )
    buffer_mb: float = Field(
        default=48.0,
        gt=0,
        le=4096,
        description="Most memory per camera's frame buffer (MiB); older frames go "
        "first when a fast camera would exceed it.",
    )
    max_side_px: int = Field(
        default=960,
        ge=64,
        le=3840,
        description="Frames are downscaled to this longest side before buffering.",
    )
    crf: int = Field(
        default=28,
        ge=0,
        le=51,
        description="x264 constant rate factor: lower is better and larger.",
    )
    face_score: float = Field(
        default=0.3,
        gt=0,
        lt=1,
        description="YuNet score above which a face is blurred; low on purpose.",
    )
    face_margin: float = Field(
        default=0.4, ge=0, le=2, description="Each face box grows by this per side."
    )
    max_active: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Clips collecting frames at once; more starts are dropped "
        "and counted.",
    )
    queue_size: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Collected clips waiting to be encoded; when full the next "
        "one is dropped and counted.",
    )
    dir: Path | None = Field(
        default=None,
        description="Local clip folder; default `media` beside the outbox file.",
    )
    local_max_mb: float = Field(
        default=1024.0,
        gt=0,
        description="Largest local clip folder (MiB): the oldest clips not "
        "waiting for upload are deleted beyond it.",
    )
    max_pending_uploads: int = Field(
        default=1000,
        ge=1,
        description="Most uploads waiting; a clip beyond it stays local only.",
    )

    @model_validator(mode="after")
    def verify_buffer_covers_pre_roll(self) -> MediaConfig:
        if self.buffer_s < self.pre_s:
            raise ValueError(
                f"media.buffer_s ({self.buffer_s}) must be at least pre_s "
                f"({self.pre_s})"
            )
        return self


class NodeConfig(StrictModel):
    node_id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    broker: BrokerConfig = Field(default_factory=BrokerConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    extra_models: list[ModelConfig] = Field(
        default_factory=list,
        description="More detectors run on every analysed frame after `model` "
        "(e.g. a city's fire/smoke model); rules use their labels like any other. "
        "A label the main model has too is named '<model name>:<label>'.",
    )
    batch: BatchConfig = Field(default_factory=BatchConfig)
    http: HttpConfig = Field(default_factory=HttpConfig)
    outbox: OutboxConfig = Field(default_factory=OutboxConfig)
    media: MediaConfig = Field(default_factory=MediaConfig)
    central: CentralConfig | None = Field(
        default=None,
        description="Central's HTTP API for clip uploads; without it clips stay "
        "in the local media folder.",
    )
    models_dir: Path | None = Field(
        default=None, description="Local model folder (offline); default from env."
    )
    status_interval_s: float = Field(default=5.0, gt=0)
    occupancy_interval_s: float = Field(default=2.0, gt=0)
    cameras: list[CameraConfig] = Field(min_length=1)

    @model_validator(mode="after")
    def verify_camera_ids_unique(self) -> NodeConfig:
        ids = [c.id for c in self.cameras]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate camera ids {dupes}")
        return self


def _format_validation_error(source: str, error: ValidationError) -> str:
    lines = [f"invalid node config {source}:"]
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "(top level)"
        lines.append(f"  {where}: {item['msg']}")
    return "\n".join(lines)


def parse_config(data: object, source: str = "<dict>") -> NodeConfig:
    """Validate a config mapping.

    Raises:
        ConfigError: naming each bad field.
    """
    try:
        return NodeConfig.model_validate(data)
    except ValidationError as error:
        raise ConfigError(_format_validation_error(source, error)) from None


def load_config(path: Path) -> NodeConfig:
    """Read and validate a YAML node config file.

    Raises:
        ConfigError: the file is missing, not YAML, or fails validation.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot read node config {path}: {error.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"node config {path} is not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"node config {path} must be a mapping at the top level")
    return parse_config(data, source=str(path))
