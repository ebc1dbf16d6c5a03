"""Central service settings (YAML validated with pydantic; unknown keys are errors)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import yaml
from pydantic import Field, ValidationError, model_validator

from central.auth.links import (
    DEFAULT_MEDIA_TTL_S,
    DEFAULT_STREAM_TTL_S,
    MAX_TTL_S,
    MEDIA_TTL_ENV,
    SECRET_ENV,
    STREAM_TTL_ENV,
)
from central.auth.tokens import DEFAULT_MAX_TOKEN_TTL_H
from central.db.session import DEFAULT_SQLITE_URL
from gridwatch.contract import DEFAULT_TOPIC_PREFIX
from gridwatch.secrets import SecretError, read_secret_file
from gridwatch.tls import HttpsServerTls, MqttTransport
from gridwatch.validation import StrictModel, describe_validation_error


class CentralConfigError(ValueError):
    """The central config could not be read or is invalid."""


class MqttSettings(MqttTransport):
    transport_section: ClassVar[str] = "mqtt"

    topic_prefix: str = DEFAULT_TOPIC_PREFIX
    client_id: str = Field(default="central-1", min_length=1)
    shared_group: str | None = Field(
        default="central",
        description="MQTT 5 shared-subscription group; None subscribes directly.",
    )
    username: str | None = Field(
        default=None,
        description="Central's broker login (the broker refuses anonymous clients).",
    )
    password: str | None = Field(
        default=None, description="Prefer password_file: a config file is shared."
    )
    password_file: Path | None = Field(
        default=None, description="File holding the broker password (first line)."
    )
    keepalive_s: int = Field(default=30, ge=5)
    session_expiry_s: int = Field(default=24 * 3600, ge=0)


class IngestSettings(StrictModel):
    batch_max: int = Field(default=500, ge=1)
    batch_wait_ms: float = Field(default=20.0, ge=0)
    nearest_grid_m: float = Field(default=50.0, ge=0)
    max_inflight: int = Field(default=2000, ge=1)
    retry_s: float = Field(
        default=1.0, gt=0, description="First wait after a database failure."
    )
    max_message_bytes: int = Field(
        default=12 * 1024 * 1024,
        ge=1024,
        description="Larger event messages are dead-lettered unparsed (the broker's "
        "max_packet_size should be the same).",
    )
    tries_per_message: int = Field(
        default=3,
        ge=1,
        description="Tries to store a message that fails on its own (not the "
        "database) before it is dead-lettered.",
    )
    slot_offline_alert_s: float = Field(
        default=300.0,
        gt=0,
        description="A replica slot offline this long is reported (/healthz body, "
        "/metrics, the console): its share of the events waits in the broker.",
    )
    stuck_after_s: float = Field(
        default=60.0,
        gt=0,
        description="/healthz says degraded once storing has failed this long.",
    )
    lag_degraded_s: float = Field(
        default=30.0,
        gt=0,
        description="/healthz says degraded once the oldest waiting event is this old.",
    )


class MediaSettings(StrictModel):
    dir: Path = Path("var/central/media")
    max_snapshot_bytes: int = 8 * 1024 * 1024
    max_photo_bytes: int = 16 * 1024 * 1024
    max_clip_bytes: int = 64 * 1024 * 1024


class SchedulerSettings(StrictModel):
    interval_s: float = Field(default=10.0, gt=0)


class LinkSettings(StrictModel):
    """Signed media links and stream tickets (`central/auth/links.py`).

    The key is never written here: it comes from `GRIDWATCH_LINK_SECRET` or from
    `secret_file`, and is read when the API starts (not when the config is
    loaded, so commands that serve no API need no secret)."""

    secret_file: Path | None = Field(
        default=None,
        title="Link secret file",
        description=(
            "File whose content (surrounding whitespace stripped, at least 32 "
            "bytes) is the signing key; the same on every API replica. "
            f"{SECRET_ENV} wins over it; with neither, each process draws a "
            "random key."
        ),
    )
    media_ttl_s: int = Field(
        default=DEFAULT_MEDIA_TTL_S,
        ge=1,
        le=MAX_TTL_S,
        title="Media link lifetime",
        description=f"Seconds a media link opens its file; {MEDIA_TTL_ENV} wins.",
    )
    stream_ticket_ttl_s: int = Field(
        default=DEFAULT_STREAM_TTL_S,
        ge=1,
        le=MAX_TTL_S,
        title="Stream ticket lifetime",
        description=(
            f"Seconds a stream ticket may wait for its stream; {STREAM_TTL_ENV} wins."
        ),
    )


class LoginLimitSettings(StrictModel):
    """Login throttling (`central/api/login_throttle.py`): counts and lockouts in
    the database (`login_throttle`), shared by every API replica."""

    window_s: float = Field(
        default=900.0,
        gt=0,
        title="Failure window",
        description="Failed logins older than this no longer count.",
    )
    max_failures_per_user: int = Field(
        default=5,
        ge=1,
        title="Failures per username",
        description="Failed logins for one username (from any address) within "
        "the window that lock that username.",
    )
    max_failures_per_address: int = Field(
        default=20,
        ge=1,
        title="Failures per client address",
        description="Failed logins from one client address (any username) within "
        "the window that lock that address.",
    )
    lockout_s: float = Field(
        default=60.0,
        gt=0,
        title="First lockout",
        description="Length of the first lockout; each further lockout of the "
        "same username or address doubles it, up to max_lockout_s.",
    )
    max_lockout_s: float = Field(
        default=3600.0,
        gt=0,
        title="Longest lockout",
        description="Upper bound of a lockout.",
    )
    max_concurrent_hashes: int = Field(
        default=4,
        ge=1,
        title="Concurrent password checks",
        description="Logins whose Argon2 check (64 MiB, tens of ms each) may run "
        "at once; more wait up to hash_wait_s, then get 503.",
    )
    hash_wait_s: float = Field(
        default=0.5,
        ge=0,
        title="Wait for a password-check slot",
        description="Longest a login waits for a free slot before answering 503.",
    )
    max_tracked: int = Field(
        default=100_000,
        ge=100,
        title="Lockouts remembered in memory",
        description="Bound on the running lockouts each process keeps in memory "
        "(refused without a database query); the oldest are dropped there, not "
        "in the database.",
    )


class BodyLimitSettings(StrictModel):
    """Request-body bounds enforced before routing and authentication
    (`central/api/limits.py`)."""

    max_api_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        title="API body limit",
        description="Largest body of a JSON or form request (bytes).",
    )
    max_upload_bytes: int | None = Field(
        default=None,
        ge=1024,
        title="Upload body limit",
        description="Largest body of a media upload (PUT /api/v1/media/..., "
        "POST /api/v1/tickets/{id}/resolve) or a grids file (POST "
        "/api/v1/admin/grids/import); default: the largest media limit "
        "plus 1 MiB for multipart framing. The per-kind media limits still apply.",
    )


class HttpSettings(StrictModel):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    token_ttl_h: float = Field(
        default=12.0,
        gt=0,
        le=24 * 366,
        title="Login token lifetime",
        description="Hours a token from POST /api/v1/auth/token works; at most "
        "max_token_ttl_h.",
    )
    max_token_ttl_h: float = Field(
        default=DEFAULT_MAX_TOKEN_TTL_H,
        gt=0,
        le=24 * 366,
        title="Longest token lifetime for a person",
        description="Hours at most that a token of a person (every role but "
        "edge_node) works, however it is issued (login, CLI, admin API); a "
        "person's token always expires. Edge nodes may keep tokens that never "
        "expire, until revoked.",
    )
    links: LinkSettings = LinkSettings()
    login: LoginLimitSettings = LoginLimitSettings()
    body: BodyLimitSettings = BodyLimitSettings()
    tls: HttpsServerTls | None = Field(
        default=None,
        title="HTTPS",
        description="Serve HTTPS with this certificate and key; without it plain "
        "HTTP (put a TLS proxy in front, as docker/compose.yaml does).",
    )

    @model_validator(mode="after")
    def verify_token_lifetimes(self) -> HttpSettings:
        if self.token_ttl_h > self.max_token_ttl_h:
            raise ValueError(
                f"token_ttl_h ({self.token_ttl_h:g} h) is longer than "
                f"max_token_ttl_h ({self.max_token_ttl_h:g} h)"
            )
        return self


class DatabaseLimits(StrictModel):
    """Time-outs for PostgreSQL, so that a stalled server shows as a failure
    (retried, reported by /healthz) instead of a thread waiting for ever."""

    connect_timeout_s: int = Field(default=10, ge=1)
    statement_timeout_s: float = Field(
        default=120.0, gt=0, description="Longest a single SQL statement may run."
    )


class BrokerAccessSettings(StrictModel):
    """Where central writes the broker's password and ACL files, and how it tells
    the broker to reload them (`gridwatch central broker ...`)."""

    dir: Path | None = Field(
        default=None,
        description="Folder of `passwd` and `acl`, shared with the broker "
        "(Mosquitto's password_file and acl_file point here).",
    )
    pid_file: Path | None = Field(
        default=None,
        description="The broker's pid file (Mosquitto's pid_file): central sends it "
        "SIGHUP after a change, so the broker follows without a restart.",
    )


class RetentionSettings(StrictModel):
    """How long each class of data is kept (`central/retention.py`, run by the
    scheduler). A number of days, or null: kept for ever."""

    interval_h: float = Field(
        default=6.0,
        gt=0,
        le=24 * 7,
        title="Retention run interval",
        description="Hours between two retention runs of the scheduler.",
    )
    event_media_days: int | None = Field(
        default=90,
        ge=1,
        title="Event snapshots and clips",
        description="Days an event's snapshot or clip is kept; then its file is "
        "deleted and the API answers 410 (media expired). Media of an open ticket "
        "is kept until the ticket is closed or rejected.",
    )
    resolution_photo_days: int | None = Field(
        default=None,
        ge=1,
        title="Workers' resolution photos",
        description="Days a worker's resolution photo is kept (same rules as "
        "event media); null: as long as its ticket.",
    )
    event_messages_days: int | None = Field(
        default=30,
        ge=2,
        title="Raw event messages",
        description="Days each accepted event message (event_messages, the dedupe "
        "record) is kept. At least 2, longer than the broker keeps a session, "
        "so a redelivered message is still recognised.",
    )
    citizen_contact_days: int | None = Field(
        default=365,
        ge=1,
        title="Reporters' contact data",
        description="Days after a ticket is closed or rejected that its reporter "
        "(a citizen's name or contact) is erased.",
    )
    audit_days: int | None = Field(
        default=None,
        ge=180,
        title="Audit log",
        description="Days audit rows are kept; null (the default): for ever. Set, "
        "older rows are purged through the one controlled path past the "
        "append-only triggers, and each purge is itself audited. At least 180 "
        "(network logs are kept six months or more).",
    )
    action_key_days: int | None = Field(
        default=30,
        ge=1,
        title="Ticket action idempotency keys",
        description="Days a ticket action's Idempotency-Key and its outcome are "
        "kept (ticket_action_keys), so a phone's queued action sent again gets "
        "the first outcome back. Longer than a phone is likely to stay offline; "
        "a key sent after it is gone acts as a new request.",
    )


class CitizenSettings(StrictModel):
    """The public citizen report page and its limits (`central/citizens/`)."""

    reopen_days: int = Field(
        default=7,
        ge=0,
        le=365,
        title="Reopen window",
        description="Days after a ticket is closed in which the citizen who "
        "reported it may reopen it (returned to its worker for rework); 0: never.",
    )
    window_s: float = Field(
        default=3600.0,
        gt=0,
        le=7 * 86400,
        title="Rate-limit window",
        description="Seconds over which each client address's requests are counted.",
    )
    max_reports_per_address: int = Field(
        default=5,
        ge=1,
        le=10_000,
        title="Reports per address",
        description="Reports one client address may send within the window (429).",
    )
    max_lookups_per_address: int = Field(
        default=120,
        ge=1,
        le=100_000,
        title="Tracking calls per address",
        description="Tracking-link reads, ratings and reopens one address may make "
        "within the window (429).",
    )
    max_reports_total: int = Field(
        default=500,
        ge=1,
        le=1_000_000,
        title="Reports from everyone",
        description="Anonymous reports accepted within the window from all "
        "addresses together (429): a flood from many addresses still cannot fill "
        "the review queue.",
    )
    max_tracked: int = Field(
        default=100_000,
        ge=100,
        title="Addresses remembered",
        description="Client addresses the limiter remembers (oldest dropped).",
    )


class WarningSettings(StrictModel):
    """Hotspot early warning (`central/warnings/`): per grid × category, recent
    ticket counts against the series' own baseline (see docs/central.md)."""

    enabled: bool = Field(
        default=True, title="Early warning", description="Run the detection job."
    )
    interval_min: float = Field(
        default=60.0,
        gt=0,
        le=24 * 60,
        title="Detection interval",
        description="Minutes between two detection runs of the scheduler.",
    )
    baseline_weeks: int = Field(
        default=8,
        ge=2,
        le=52,
        title="Baseline weeks",
        description="Whole weeks before the recent windows that form each "
        "series' baseline (whole weeks, so each weekday counts alike).",
    )
    windows_days: list[int] = Field(
        default_factory=lambda: [3, 7],
        min_length=1,
        max_length=4,
        title="Recent windows",
        description="Lengths in days of the recent windows tested (each at "
        "alpha); a short one catches a sharp rise sooner, a week a slower one.",
    )
    alpha: float = Field(
        default=0.0005,
        gt=0,
        lt=0.5,
        title="Significance per window",
        description="A window fires when the chance of at least its count, "
        "given the baseline, is below this.",
    )
    min_count: int = Field(
        default=3,
        ge=1,
        title="Minimum count",
        description="A window with fewer tickets never fires (one event in a "
        "quiet grid is not a rise).",
    )
    min_ratio: float = Field(
        default=2.0,
        ge=1.0,
        title="Minimum ratio",
        description="A window fires only at this many times its expected count "
        "(a busy series' small, significant wiggle is not a hotspot).",
    )
    prior_days: float = Field(
        default=28.0,
        gt=0,
        title="Prior strength",
        description="Grid-days of the category's city-wide rate each series' "
        "baseline is shrunk towards (a sparse series leans on the city).",
    )
    resolve_p: float = Field(
        default=0.2,
        gt=0,
        lt=1,
        title="Back to normal",
        description="An open or acknowledged warning is resolved once no window's "
        "upper-tail probability is below this.",
    )

    @model_validator(mode="after")
    def _windows_fit(self) -> WarningSettings:
        if any(w < 1 or w > 28 for w in self.windows_days):
            raise ValueError("windows_days must each be 1 to 28 days")
        return self


class ScoreWeights(StrictModel):
    """Weights of the three rates (三率) in the composite score (central/scores.py)."""

    response: float = Field(default=0.3, ge=0, description="Weight of 响应率.")
    resolution: float = Field(default=0.4, ge=0, description="Weight of 按期处置率.")
    satisfaction: float = Field(default=0.3, ge=0, description="Weight of 满意率.")

    @model_validator(mode="after")
    def _some_weight(self) -> ScoreWeights:
        if self.response + self.resolution + self.satisfaction <= 0:
            raise ValueError("scores.weights: at least one weight must be above 0")
        return self


class GradeBounds(StrictModel):
    """Lowest score of each grade (CJ/T 292 / GB/T 30428.4 tradition)."""

    a: float = Field(default=90.0, ge=0, le=100, description="Lowest score graded A.")
    b: float = Field(default=75.0, ge=0, le=100, description="Lowest score graded B.")
    c: float = Field(default=60.0, ge=0, le=100, description="Lowest score graded C.")

    @model_validator(mode="after")
    def _descending(self) -> GradeBounds:
        if not self.a > self.b > self.c:
            raise ValueError(
                f"scores.grades: need a > b > c, got a={self.a}, b={self.b}, c={self.c}"
            )
        return self


class EvaluationSnapshotSettings(StrictModel):
    """Stored evaluations of completed days, weeks, months and quarters
    (`central/evaluation_snapshots.py`): what the statistics page reads instead
    of aggregating a period's tickets on every request."""

    enabled: bool = Field(
        default=True,
        title="Evaluation snapshots",
        description="Store and serve the evaluation of completed periods; off: "
        "every evaluation is computed on request.",
    )
    interval_min: float = Field(
        default=60.0,
        gt=0,
        le=24 * 60,
        title="Refresh interval",
        description="Minutes between two refreshes by the scheduler.",
    )
    days: int = Field(
        default=14,
        ge=0,
        le=92,
        title="Days kept fresh",
        description="Completed days recomputed at each refresh.",
    )
    weeks: int = Field(
        default=8,
        ge=0,
        le=53,
        title="Weeks kept fresh",
        description="Completed weeks recomputed at each refresh.",
    )
    months: int = Field(
        default=3,
        ge=0,
        le=24,
        title="Months kept fresh",
        description="Completed months recomputed at each refresh (late closures, "
        "ratings and rework still change them); older ones stay as last computed.",
    )
    quarters: int = Field(
        default=2,
        ge=0,
        le=8,
        title="Quarters kept fresh",
        description="Completed quarters recomputed at each refresh.",
    )


class ScoreSettings(StrictModel):
    weights: ScoreWeights = ScoreWeights()
    grades: GradeBounds = GradeBounds()


class PointWeightSettings(StrictModel):
    """Points of the grid workers' monthly table (central/worker_points.py)."""

    found: int = Field(default=2, ge=0, le=1000, description="Per case found.")
    on_time: int = Field(
        default=3, ge=0, le=1000, description="Per case handled on time."
    )
    satisfied: int = Field(
        default=2, ge=0, le=1000, description="Per case rated satisfied."
    )
    reworked: int = Field(
        default=-3, ge=-1000, le=0, description="Per case reworked (0 or less)."
    )


class PointSettings(StrictModel):
    weights: PointWeightSettings = PointWeightSettings()


class CentralSettings(StrictModel):
    database_url: str = DEFAULT_SQLITE_URL
    database: DatabaseLimits = DatabaseLimits()
    matter_list: Path | None = Field(
        default=None,
        description="Matter list YAML; the shipped one when unset. Stored as a "
        "new version at start only when its version string is new; otherwise "
        "the newest stored version (edited from the console) runs.",
    )
    timezone: str | None = Field(
        default=None, description="Duty hours' timezone; the imported city's if unset."
    )
    mqtt: MqttSettings = MqttSettings()
    ingest: IngestSettings = IngestSettings()
    media: MediaSettings = MediaSettings()
    scheduler: SchedulerSettings = SchedulerSettings()
    http: HttpSettings = HttpSettings()
    broker_access: BrokerAccessSettings = BrokerAccessSettings()
    retention: RetentionSettings = RetentionSettings()
    scores: ScoreSettings = ScoreSettings()
    points: PointSettings = PointSettings()
    citizen: CitizenSettings = CitizenSettings()
    warnings: WarningSettings = WarningSettings()
    evaluation_snapshots: EvaluationSnapshotSettings = EvaluationSnapshotSettings()


def load_settings(path: Path | None) -> CentralSettings:
    if path is None:
        return CentralSettings()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise CentralConfigError(f"cannot read central config {path}: {exc}") from exc
    try:
        return CentralSettings.model_validate(data)
    except ValidationError as exc:
        problems = describe_validation_error(exc)
        raise CentralConfigError(f"{path}: {problems}") from exc


def broker_password(mqtt: MqttSettings) -> str | None:
    """Central's broker password: `password_file` (first line), else `password`.

    Raises:
        CentralConfigError: the file cannot be read or is empty.
    """
    if mqtt.password_file is None:
        return mqtt.password
    try:
        return read_secret_file(mqtt.password_file)
    except SecretError as error:
        raise CentralConfigError(f"mqtt.password_file {error}") from None
