"""Central's face screen: worker photos re-encoded without metadata and with
faces blurred; edge snapshots and clips that still show a face refused.

Real images: frame 29 of the face-checkpoint clip `face-demographics-walking.gif`
(two people walking to the camera, both faces found by YuNet) and a frame of
`car-detection.mp4` (a parking lot from above, no face).
"""

from __future__ import annotations

import io
from pathlib import Path

import av
import cv2
import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from central import media_scrub
from central.media import (
    MediaCheckUnavailable,
    MediaKind,
    MediaRejected,
    MediaShowsFace,
    MediaStore,
)
from central.media_scrub import CHECK_SCORE, MediaScrubber, ScrubSettings
from models.faces import FACE_BLUR_DEFAULTS, FaceBlur
from models.manifest import NotFoundError
from tests.edge.media.faces import FACE_GIF, FACE_MODEL, FaceCounter, read_frames

GPS_IFD = 0x8825
MAKE_TAG = 0x010F
ORIENTATION_TAG = 0x0112


@pytest.fixture(scope="module")
def face_model(models_dir: Path) -> Path:
    return models_dir / FACE_MODEL


@pytest.fixture(scope="module")
def scrubber(face_model: Path) -> MediaScrubber:
    return MediaScrubber.from_model(face_model)


@pytest.fixture(scope="module")
def counter(face_model: Path) -> FaceCounter:
    return FaceCounter(face_model, score=CHECK_SCORE)


@pytest.fixture(scope="module")
def face_frame(videos_dir: Path) -> npt.NDArray[np.uint8]:
    """480x270 BGR; YuNet finds 2 faces in it."""
    return read_frames(videos_dir / FACE_GIF)[29]


@pytest.fixture(scope="module")
def clean_frame(videos_dir: Path) -> npt.NDArray[np.uint8]:
    return read_frames(videos_dir / "car-detection.mp4")[30]


def face_boxes(model: Path, image: npt.NDArray[np.uint8]) -> list[tuple[int, ...]]:
    detector = cv2.FaceDetectorYN.create(str(model), "", (320, 320), CHECK_SCORE)
    detector.setInputSize((image.shape[1], image.shape[0]))
    _, faces = detector.detect(image)
    assert faces is not None
    return [tuple(int(v) for v in face[:4]) for face in faces]


def sharpness(image: npt.NDArray[np.uint8], box: tuple[int, ...]) -> float:
    """Variance of the Laplacian inside an (x, y, w, h) box: edges, i.e. detail."""
    x, y, w, h = box
    grey = cv2.cvtColor(image[y : y + h, x : x + w], cv2.COLOR_BGR2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def phone_jpeg(image: npt.NDArray[np.uint8], *, orientation: int = 1) -> bytes:
    """A JPEG as a phone writes it: EXIF with maker, orientation and GPS."""
    exif = Image.Exif()
    exif[MAKE_TAG] = "PhoneMaker"
    exif[ORIENTATION_TAG] = orientation
    exif[GPS_IFD] = {1: "N", 2: (23.0, 7.0, 12.5), 3: "E", 4: (113.0, 19.0, 8.0)}
    buffer = io.BytesIO()
    Image.fromarray(image[:, :, ::-1]).save(
        buffer, "JPEG", quality=95, exif=exif.tobytes()
    )
    return buffer.getvalue()


def decode(data: bytes) -> npt.NDArray[np.uint8]:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return np.asarray(image, np.uint8)


def mp4(frames: list[npt.NDArray[np.uint8]], fps: int = 10) -> bytes:
    buffer = io.BytesIO()
    height, width = frames[0].shape[:2]
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for image in frames:
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buffer.getvalue()


def test_a_photo_should_lose_exif_and_gps_and_have_its_faces_blurred(
    scrubber: MediaScrubber,
    counter: FaceCounter,
    face_model: Path,
    face_frame: npt.NDArray[np.uint8],
) -> None:
    upload = phone_jpeg(face_frame)
    with Image.open(io.BytesIO(upload)) as sent:  # the test photo carries them
        assert sent.getexif().get_ifd(GPS_IFD)[2] == (23.0, 7.0, 12.5)
    boxes = face_boxes(face_model, face_frame)
    assert len(boxes) == 2 and counter.count(decode(upload)) == 2

    stored = scrubber.screen(upload, "photo")

    with Image.open(io.BytesIO(stored)) as kept:
        assert kept.format == "JPEG"
        assert dict(kept.getexif()) == {}
        assert kept.getexif().get_ifd(GPS_IFD) == {}
        assert "exif" not in kept.info and "icc_profile" not in kept.info
        assert kept.size == (480, 270)
    assert b"PhoneMaker" not in stored
    image = decode(stored)
    assert counter.count(image) == 0
    for box in boxes:  # the detail inside each face is gone
        before, after = sharpness(face_frame, box), sharpness(image, box)
        assert after < before / 10, (box, before, after)


def test_a_clean_photo_should_keep_its_content_apart_from_re_encoding(
    scrubber: MediaScrubber, clean_frame: npt.NDArray[np.uint8]
) -> None:
    upload = phone_jpeg(clean_frame)

    stored = scrubber.screen(upload, "photo")

    with Image.open(io.BytesIO(stored)) as kept:
        assert dict(kept.getexif()) == {}
    original, image = decode(upload), decode(stored)
    assert image.shape == original.shape
    assert cv2.PSNR(original, image) > 35.0  # JPEG round trip, nothing blurred
    assert stored != upload


def test_a_photo_should_be_stored_upright_as_its_exif_says(
    scrubber: MediaScrubber, clean_frame: npt.NDArray[np.uint8]
) -> None:
    # Orientation 6: the camera held on its side; viewers turn it 90° clockwise.
    upload = phone_jpeg(clean_frame, orientation=6)

    image = decode(scrubber.screen(upload, "photo"))

    upright = cv2.rotate(clean_frame, cv2.ROTATE_90_CLOCKWISE)
    assert image.shape == upright.shape
    assert cv2.PSNR(upright, image) > 30.0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xff\xd8\xff\xe0" + bytes(range(64)), "cannot be decoded"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 32, "cannot be decoded"),
    ],
)
def test_an_undecodable_photo_or_snapshot_should_be_refused(
    scrubber: MediaScrubber, data: bytes, message: str
) -> None:
    kinds: tuple[MediaKind, ...] = ("photo", "snapshot")
    for kind in kinds:
        with pytest.raises(MediaRejected, match=message):
            scrubber.screen(data, kind)


def test_a_photo_over_the_pixel_limit_should_be_refused_before_decoding(
    face_model: Path,
) -> None:
    small = MediaScrubber.from_model(face_model, ScrubSettings(max_photo_pixels=1000))
    ok, png = cv2.imencode(".png", np.zeros((40, 40, 3), np.uint8))
    assert ok
    with pytest.raises(MediaRejected, match="40x40 pixels, over the 1000"):
        small.screen(bytes(png), "photo")


def test_an_edge_snapshot_with_a_face_should_be_refused_and_a_blurred_one_kept(
    scrubber: MediaScrubber, face_model: Path, face_frame: npt.NDArray[np.uint8]
) -> None:
    ok, raw = cv2.imencode(".jpg", face_frame, [cv2.IMWRITE_JPEG_QUALITY, 85])
    assert ok
    with pytest.raises(MediaShowsFace, match="snapshot shows 2 unblurred face"):
        scrubber.screen(bytes(raw), "snapshot")

    # what a node sends: blurred at the node's settings, then encoded
    blurred = face_frame.copy()
    FaceBlur.from_model(face_model, FACE_BLUR_DEFAULTS).blur(blurred)
    ok, sent = cv2.imencode(".jpg", blurred, [cv2.IMWRITE_JPEG_QUALITY, 85])
    assert ok
    assert scrubber.screen(bytes(sent), "snapshot") == bytes(sent)


def test_an_edge_clip_with_faces_should_be_refused_and_a_blurred_one_kept(
    scrubber: MediaScrubber, face_model: Path, videos_dir: Path
) -> None:
    frames = read_frames(videos_dir / FACE_GIF)[:20]
    with pytest.raises(MediaShowsFace, match=r"clip shows \d unblurred face"):
        scrubber.screen(mp4(frames), "clip")

    blur = FaceBlur.from_model(face_model, FACE_BLUR_DEFAULTS)
    blurred = [frame.copy() for frame in frames]
    for frame in blurred:
        blur.blur(frame)
    clip = mp4(blurred)
    assert scrubber.screen(clip, "clip") == clip


def test_a_clip_showing_faces_for_a_second_should_be_caught_at_a_sampled_frame(
    scrubber: MediaScrubber,
    face_frame: npt.NDArray[np.uint8],
    clean_frame: npt.NDArray[np.uint8],
) -> None:
    # 3 s at 10 fps with faces from 1.0 to 1.9 s only: frames are checked every
    # 0.5 s (0.0, 0.5, 1.0, ...), so the one at 1.0 s finds them.
    clean = np.asarray(cv2.resize(clean_frame, (480, 270)), np.uint8)
    frames = [clean] * 10 + [face_frame] * 10 + [clean] * 10
    with pytest.raises(MediaShowsFace, match=r"at 1\.00 s"):
        scrubber.screen(mp4(frames), "clip")
    assert scrubber.screen(mp4([clean] * 30), "clip")  # no face: kept


@pytest.mark.parametrize(
    "data",
    [
        b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 64,
        b"\x1a\x45\xdf\xa3" + b"\0" * 32,
    ],
)
def test_an_undecodable_clip_should_be_refused(
    scrubber: MediaScrubber, data: bytes
) -> None:
    with pytest.raises(MediaRejected, match="clip"):
        scrubber.screen(data, "clip")


def test_without_the_face_model_nothing_should_be_stored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def missing(name: str, models_dir: Path | None, *, download: bool) -> Path:
        assert not download, "central never downloads a model on a request"
        raise NotFoundError(f"{name} is not in any of: /nowhere")

    monkeypatch.setattr(media_scrub, "resolve_model", missing)
    with pytest.raises(MediaCheckUnavailable, match="yunet_face unavailable"):
        media_scrub.shared_scrubber.__wrapped__()


def test_prepare_should_load_the_screen_at_start_and_say_when_it_cannot(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, scrubber: MediaScrubber
) -> None:
    loads: list[str] = []

    def unavailable() -> MediaScrubber:
        loads.append("tried")
        raise MediaCheckUnavailable("face model yunet_face unavailable")

    monkeypatch.setattr(media_scrub, "shared_scrubber", unavailable)
    store = MediaStore(tmp_path)
    assert store.prepare() is False
    assert loads == ["tried"]
    with pytest.raises(MediaCheckUnavailable):  # and every save is still refused
        store.save(
            cv2.imencode(".jpg", np.zeros((8, 8, 3), np.uint8))[1].tobytes(), "snapshot"
        )

    monkeypatch.setattr(media_scrub, "shared_scrubber", lambda: scrubber)
    assert store.prepare() is True
    assert store._screener() is scrubber  # loaded once, at prepare


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"jpeg_quality": 0}, "jpeg_quality"),
        ({"max_photo_pixels": 0}, "max_photo_pixels"),
        ({"clip_checks_per_s": 0.0}, "clip_checks_per_s"),
        ({"max_clip_checks": 0}, "max_clip_checks"),
    ],
)
def test_scrub_settings_given_bad_values_should_refuse(
    settings: dict[str, float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        ScrubSettings(**settings)  # type: ignore[arg-type]
    ScrubSettings()  # the defaults are fine
