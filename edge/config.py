"""Edge node configuration (YAML validated with pydantic; unknown keys are errors)."""

from __future__ import annotations

import ssl
from enum import StrEnum
from pathlib import Path
from typing import Annotated, ClassVar, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    AfterValidator,
    Field,
    PlainValidator,
    SerializeAsAny,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from edge.face_settings import FACE_BLUR_DEFAULTS
from edge.rules.registry import (
    RulePluginError,
    load_rule_plugin,
    validate_rule_config,
)
from edge.rules.rule_config import RuleConfigBase
from gridwatch.contract import DEFAULT_TOPIC_PREFIX, ID_MAX_CHARS
from gridwatch.tls import ExistingFile, HttpsServerTls, MqttTransport, TlsError
from gridwatch.validation import StrictModel, validation_problems
from models.family import ModelFamily


class ConfigError(ValueError):
    """A node config could not be read or is invalid; the message names the problem."""


PointNorm = tuple[
    Annotated[float, Field(ge=0.0, le=1.0)], Annotated[float, Field(ge=0.0, le=1.0)]
]


class SourceKind(StrEnum):
    RTSP = "rtsp"
    FILE = "file"
    SNAPSHOT = "snapshot"


class DecoderKind(StrEnum):
    """Which library decodes an rtsp or file camera's video."""

    OPENCV = "opencv"
    PYAV = "pyav"


class HwAccel(StrEnum):
    """Where a `pyav` camera's video is decoded (FFmpeg's device types)."""

    NONE = "none"
    AUTO = "auto"  # the first of CUDA, VAAPI, QSV that opens
    CUDA = "cuda"  # NVDEC
    VAAPI = "vaapi"
    QSV = "qsv"


class SkipFrames(StrEnum):
    """Which frames a (pyav) decoder may leave undecoded when they will not be
    analysed: `auto` skips non-reference frames when the analysis rate is at most
    half the stream rate, and decodes key frames only when they alone come at
    least at the analysis rate; `off` decodes every frame."""

    AUTO = "auto"
    OFF = "off"


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


# Static code sees a rule config as `RuleConfigBase`; validation picks the
# config class by `type` from the rule plug-ins registered at that moment
# (`registry.validate_rule_config`), so a plug-in's config needs no edit here.
RuleConfig = Annotated[
    SerializeAsAny[RuleConfigBase],
    PlainValidator(validate_rule_config, json_schema_input_type=RuleConfigBase),
]


class ZoneConfig(StrictModel):
    id: str = Field(min_length=1, max_length=ID_MAX_CHARS, pattern=r"^[A-Za-z0-9_.-]+$")
    polygon_norm: list[PointNorm] = Field(
        default_factory=lambda: [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)],
        min_length=3,
        description="Polygon in normalised image coordinates (0..1).",
    )
    rules: list[RuleConfig] = Field(default_factory=list)


def _verify_bounds(label: str, name: str, low: float, high: float | None) -> None:
    if high is not None and low > high:
        raise ValueError(
            f"filter {label!r}: min_{name} ({low}) must not exceed max_{name} ({high})"
        )


class ObjectFilterConfig(StrictModel):
    """Which detections of one label count at all (Frigate's `objects.filters`).

    Applied right after detection, before tracking: a box that fails any
    bound is dropped as if the detector had not seen it.
    """

    min_score: float = Field(
        default=0.0, ge=0, le=1, description="Lowest detector score kept."
    )
    min_area_px: float = Field(
        default=0.0, ge=0, description="Smallest box area kept, in frame pixels."
    )
    max_area_px: float | None = Field(
        default=None, gt=0, description="Largest box area kept, in frame pixels."
    )
    min_area_norm: float = Field(
        default=0.0, ge=0, le=1, description="Smallest box area, share of the frame."
    )
    max_area_norm: float = Field(
        default=1.0, gt=0, le=1, description="Largest box area, share of the frame."
    )
    min_ratio: float = Field(
        default=0.0, ge=0, description="Smallest width / height of the box."
    )
    max_ratio: float | None = Field(
        default=None, gt=0, description="Largest width / height of the box."
    )
    masks_norm: list[Annotated[list[PointNorm], Field(min_length=3)]] = Field(
        default_factory=list,
        description="Polygons (normalised image coordinates) where this label "
        "never counts: a box whose bottom-centre is inside one is dropped.",
    )

    def verify_for(self, label: str) -> None:
        """Raise ValueError naming `label` when a min exceeds its max."""
        _verify_bounds(label, "area_px", self.min_area_px, self.max_area_px)
        _verify_bounds(label, "area_norm", self.min_area_norm, self.max_area_norm)
        _verify_bounds(label, "ratio", self.min_ratio, self.max_ratio)


class ObjectsConfig(StrictModel):
    """Per-camera object settings: filters by detector label."""

    filters: dict[
        Annotated[str, Field(min_length=1, max_length=ID_MAX_CHARS)],
        ObjectFilterConfig,
    ] = Field(
        default_factory=dict,
        description="Detector label -> filter, e.g. `person: {min_score: 0.5}`; "
        "labels without one are kept as detected.",
    )

    @model_validator(mode="after")
    def verify_filters(self) -> ObjectsConfig:
        for label, item in self.filters.items():
            item.verify_for(label)
        return self


class MotionConfig(StrictModel):
    """Motion gating: the detector skips a camera's frames while nothing moves.

    A due frame goes to the detector when it differs from the last frame that
    did (share of changed pixels on a small blurred grey thumbnail), or when
    `max_gap_s` has passed since then: rules that need periodic looks
    (occupancy, dwell, abandoned objects) still get one at least that often.
    """

    enabled: bool = Field(default=False, description="Gate the detector on motion.")
    pixel_threshold: int = Field(
        default=25,
        ge=1,
        le=255,
        description="Grey-level difference that counts a thumbnail pixel as changed.",
    )
    min_changed_share: float = Field(
        default=0.003,
        gt=0,
        le=1,
        description="Share of thumbnail pixels that must change to count as motion.",
    )
    max_gap_s: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="Longest time without a detector look, motion or not.",
    )


class CameraConfig(StrictModel):
    id: str = Field(min_length=1, max_length=ID_MAX_CHARS, pattern=r"^[A-Za-z0-9_.-]+$")
    url: str = Field(
        min_length=1, description="rtsp:// URL, file path, or snapshot id."
    )
    kind: SourceKind = SourceKind.RTSP
    detect_url: str | None = Field(
        default=None,
        min_length=1,
        title="Detection stream",
        description="rtsp/file cameras: the stream decoded for analysis, e.g. the "
        "camera's 640x360 sub-stream, while `url` names the main (recording) "
        "stream. Default: `url`.",
    )
    decoder: DecoderKind = Field(
        default=DecoderKind.OPENCV,
        description="rtsp/file cameras: `opencv` (FFmpeg through OpenCV) or "
        "`pyav` (FFmpeg through PyAV, which can skip frames, see `skip_frames`).",
    )
    hwaccel: HwAccel = Field(
        default=HwAccel.NONE,
        title="Hardware decoding",
        description="`pyav` decoder: decode on a device through FFmpeg (`cuda` for "
        "NVDEC, `vaapi`, `qsv`; `auto` tries them in that order). When the "
        "device cannot be opened or cannot decode the stream, the camera is "
        "decoded in software instead, with a warning naming the reason.",
    )
    skip_frames: SkipFrames = Field(
        default=SkipFrames.AUTO,
        description="`pyav` decoder: `auto` leaves frames that will not be "
        "analysed undecoded where the codec allows (non-reference frames; key "
        "frames only at very low analysis rates); `off` decodes every frame. "
        "The `opencv` decoder always decodes every frame.",
    )
    location: GeoPoint
    homography: HomographyConfig | None = None
    analysis_fps: float = Field(default=5.0, gt=0, le=60)
    open_timeout_s: float = Field(default=5.0, gt=0)
    read_timeout_s: float = Field(default=5.0, gt=0)
    stall_after_s: float = Field(default=3.0, gt=0)
    reconnect_min_s: float = Field(default=0.5, gt=0)
    reconnect_max_s: float = Field(default=10.0, gt=0)
    loop: bool = Field(default=False, description="Loop a file source (kind: file).")
    push_secret_file: Path | None = Field(
        default=None,
        description="kind snapshot: file holding the checkpoint's secret (first "
        "line); pushes must send `Authorization: Bearer <secret>`.",
    )
    push_secret_env: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="kind snapshot: environment variable holding that secret.",
    )
    zones: list[ZoneConfig] = Field(default_factory=list)
    motion: MotionConfig = Field(
        default_factory=MotionConfig,
        description="Motion gating of the detector (off by default).",
    )
    objects: ObjectsConfig = Field(
        default_factory=ObjectsConfig,
        description="Detection filters per label (min score, area, aspect ratio, "
        "masks), applied before tracking.",
    )

    @model_validator(mode="after")
    def verify_push_secret(self) -> CameraConfig:
        has_secret = self.push_secret_file is not None or self.push_secret_env
        if self.kind is SourceKind.SNAPSHOT and not has_secret:
            raise ValueError(
                f"snapshot camera {self.id!r}: set push_secret_file or "
                "push_secret_env (pushes without the checkpoint's secret are refused)"
            )
        return self

    @model_validator(mode="after")
    def verify_video_options(self) -> CameraConfig:
        if self.hwaccel is not HwAccel.NONE and self.decoder is not DecoderKind.PYAV:
            raise ValueError(
                f"camera {self.id!r}: hwaccel {self.hwaccel.value!r} needs "
                "decoder 'pyav'"
            )
        if self.kind is not SourceKind.SNAPSHOT:
            return self
        if self.detect_url is not None:
            raise ValueError(
                f"snapshot camera {self.id!r}: detect_url is for rtsp/file "
                "cameras (a checkpoint pushes its frames)"
            )
        if self.decoder is not DecoderKind.OPENCV:
            raise ValueError(
                f"snapshot camera {self.id!r}: decoder {self.decoder.value!r} is "
                "for rtsp/file cameras (pushed JPEGs are decoded as images)"
            )
        return self

    @property
    def analysis_url(self) -> str:
        """The stream decoded for analysis: `detect_url`, else `url`."""
        return self.detect_url or self.url

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
    fit_input: bool = Field(
        default=True,
        description="Letterbox a frame into the smallest input of multiples of the "
        "model's largest stride that holds it and 32 px of grey rather than the "
        "square (a 16:9 frame at 416: 416x288, about a third less inference); YOLOX "
        "and YOLOv8 graphs that take another size, not with TensorRT. False keeps "
        "the square.",
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


class BrokerConfig(MqttTransport):
    transport_section: ClassVar[str] = "broker"

    username: str | None = Field(
        default=None,
        description="This node's broker login (central provisions it; the broker "
        "refuses anonymous clients).",
    )
    password_env: str | None = Field(
        default=None, description="Environment variable holding the password."
    )
    password_file: Path | None = Field(
        default=None,
        description="File holding the password (first line); the variable wins.",
    )
    topic_prefix: str = DEFAULT_TOPIC_PREFIX
    keepalive_s: int = Field(default=30, ge=5)


class HttpConfig(StrictModel):
    host: str = "127.0.0.1"
    port: int = Field(default=8081, ge=0, le=65535, description="0 picks a free port.")
    monitor_token_file: Path | None = Field(
        default=None,
        title="Monitoring token file",
        description="File holding the bearer token (first line, at least 16 "
        "characters) that `/metrics` and the detailed `/healthz` require; "
        "without a token `/metrics` answers 403 and `/healthz` only its status.",
    )
    monitor_token_env: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        title="Monitoring token variable",
        description="Environment variable holding that token (instead of the file).",
    )
    tls: HttpsServerTls | None = Field(
        default=None,
        title="TLS",
        description="Serve HTTPS (`cert_file`, `key_file`, e.g. from `gridwatch "
        "central tls issue`): checkpoints' push secrets and the monitoring token "
        "then never cross the network in clear.",
    )

    @model_validator(mode="after")
    def verify_one_monitor_token_source(self) -> HttpConfig:
        if self.monitor_token_file is not None and self.monitor_token_env:
            raise ValueError(
                "http: set monitor_token_file or monitor_token_env, not both"
            )
        return self


class OutboxConfig(StrictModel):
    path: Path = Path("var/outbox.sqlite")
    max_rows: int = Field(default=100_000, ge=100)
    max_bytes: int = Field(
        default=2 << 30,
        ge=1 << 20,
        description="Most bytes of messages held (events carry snapshot JPEGs); "
        "size it below the free space of the outbox's disk.",
    )
    reserve_fraction: float = Field(
        default=0.05,
        ge=0.0,
        le=0.5,
        description="Share of both limits kept for the ends of events already "
        "started; new events are refused (and counted) once only the reserve is left.",
    )


def https_client_context(ca_file: Path) -> ssl.SSLContext:
    """A client context trusting only the CA(s) in `ca_file`: TLS 1.2 or later,
    the server's certificate required and its host name checked.

    Raises:
        TlsError: `ca_file` is not a PEM CA certificate (the message names it).
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_verify_locations(cafile=str(ca_file))
    except (OSError, ssl.SSLError) as error:
        raise TlsError(
            f"ca_file {ca_file}: not a PEM CA certificate ({error})"
        ) from None
    return context


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

    allow_plain_http: bool = Field(
        default=False,
        description="Send the token and clips over plain http to a host that is not "
        "this machine (only behind a network you trust).",
    )
    ca_file: ExistingFile | None = Field(
        default=None,
        title="CA certificate file",
        description="PEM file of the CA(s) that sign central's https certificate "
        "(the deployment's private CA); only these are then trusted. Without it "
        "the system's CAs (or SSL_CERT_FILE) are.",
    )

    @model_validator(mode="after")
    def verify_ca_file(self) -> CentralConfig:
        if self.ca_file is None:
            return self
        if not self.url.startswith("https://"):
            raise ValueError(
                f"central.ca_file is for https, but central.url is {self.url!r}"
            )
        https_client_context(self.ca_file)  # a bad PEM fails now, naming the file
        return self

    @model_validator(mode="after")
    def verify_transport(self) -> CentralConfig:
        host = urlsplit(self.url).hostname or ""
        is_local = host in ("localhost", "::1") or host.startswith("127.")
        if (
            self.url.startswith("http://")
            and not is_local
            and not self.allow_plain_http
        ):
            raise ValueError(
                f"central.url {self.url!r} is plain http to another host: the node's "
                "token and clips would cross the network unencrypted; use https, or "
                "set allow_plain_http: true"
            )
        return self

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


ClipFrames = Literal["stream", "analysed"]


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
    clip_frames: ClipFrames = Field(
        default="stream",
        title="Clip frames",
        description="`stream`: cameras read with the `pyav` decoder keep their "
        "stream's recent compressed packets, and a clip decodes its window from "
        "them at the camera's full frame rate; `analysed`: clips hold the "
        "analysed frames only (the analysis rate). `opencv` cameras always "
        "give `analysed` clips.",
    )
    clip_max_fps: float = Field(
        default=15.0,
        gt=0,
        le=60,
        description="With `clip_frames: stream`, at most this many frames a "
        "second go into a clip (every frame is still decoded); each one is "
        "face-blurred and checked, so the clip's cost grows with it.",
    )
    packet_buffer_mb: float = Field(
        default=32.0,
        gt=0,
        le=4096,
        description="Most memory per camera's packet buffer (MiB) with "
        "`clip_frames: stream`; it keeps pre_s + post_s + buffer_s seconds.",
    )
    crf: int = Field(
        default=28,
        ge=0,
        le=51,
        description="x264 constant rate factor: lower is better and larger.",
    )
    face_score: float = Field(
        default=FACE_BLUR_DEFAULTS.score_threshold,
        gt=0,
        lt=1,
        description="YuNet score above which a face is blurred; low on purpose.",
    )
    face_margin: float = Field(
        default=FACE_BLUR_DEFAULTS.margin,
        ge=0,
        le=2,
        description="Each face box grows by this per side.",
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


def _import_rule_plugin(module: str) -> str:
    try:
        load_rule_plugin(module)
    except RulePluginError as error:
        raise PydanticCustomError("rule_plugin", str(error)) from None
    return module


# A plug-in module's dotted name, imported as it is validated (see `NodeConfig`).
RulePluginModule = Annotated[
    str,
    Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$"),
    AfterValidator(_import_rule_plugin),
]


class NodeConfig(StrictModel):
    # First field on purpose: pydantic validates fields in order, so the
    # plug-ins are imported (and their rules registered) before the cameras'
    # zones validate their rule configs.
    plugins: list[RulePluginModule] = Field(
        default_factory=list,
        title="Rule plug-ins",
        description="Modules outside edge/rules to import for more rule types, "
        "e.g. `my_company.rules.graffiti`; each must define at least one rule.",
    )
    node_id: str = Field(
        min_length=1, max_length=ID_MAX_CHARS, pattern=r"^[A-Za-z0-9_.-]+$"
    )
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
    lines += [f"  {problem}" for problem in validation_problems(error)]
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
