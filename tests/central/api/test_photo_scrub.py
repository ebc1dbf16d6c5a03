"""Media through the API is screened for faces: a worker's photo is stored
re-encoded (no EXIF/GPS, faces blurred); an edge snapshot or clip still showing
a face is refused with 422 and not stored; without a face model, 503.

Real images: the face-checkpoint clip `face-demographics-walking.gif` (frame 29,
two faces YuNet finds).
"""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image
from sqlalchemy import select

from central.db.models import Event, MediaObject
from central.media import MediaCheckUnavailable, MediaKind, MediaStore
from tests.central.api.conftest import Api, add_event, tiny_jpeg
from tests.edge.media.faces import FACE_GIF, FACE_MODEL, FaceCounter, read_frames

GPS_IFD = 0x8825


@pytest.fixture(scope="module")
def face_frame(videos_dir: Path) -> npt.NDArray[np.uint8]:
    return read_frames(videos_dir / FACE_GIF)[29]


@pytest.fixture(scope="module")
def counter(models_dir: Path) -> FaceCounter:
    return FaceCounter(models_dir / FACE_MODEL)


def phone_jpeg(image: npt.NDArray[np.uint8]) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif[GPS_IFD] = {1: "N", 2: (23.0, 7.0, 12.5), 3: "E", 4: (113.0, 19.0, 8.0)}
    buffer = io.BytesIO()
    Image.fromarray(image[:, :, ::-1]).save(buffer, "JPEG", exif=exif.tobytes())
    return buffer.getvalue()


def resolve_with_photo(api: Api, photo: bytes) -> str:
    tid = api.create_ticket()["id"]
    assert api.act("worker1", tid, "accept").status_code == 200
    resolved = api.act(
        "worker1",
        tid,
        "resolve",
        data={"note": "cleared"},
        files={"photo": ("after.jpg", photo, "image/jpeg")},
    )
    assert resolved.status_code == 200, resolved.text
    url: str = resolved.json()["resolution_photo_url"]
    return url


def test_a_workers_photo_should_be_stored_without_gps_and_with_faces_blurred(
    api: Api, face_frame: npt.NDArray[np.uint8], counter: FaceCounter
) -> None:
    upload = phone_jpeg(face_frame)
    assert counter.count(face_frame) == 2

    url = resolve_with_photo(api, upload)

    got = api.get("operator", url)
    assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg"
    with Image.open(io.BytesIO(got.content)) as kept:
        assert dict(kept.getexif()) == {} and kept.getexif().get_ifd(GPS_IFD) == {}
        assert kept.size == (480, 270)
    assert b"PhoneMaker" not in got.content
    image = cv2.imdecode(np.frombuffer(got.content, np.uint8), cv2.IMREAD_COLOR)
    assert counter.count(np.asarray(image, np.uint8)) == 0
    with api.context.sessions() as session:
        [row] = session.scalars(select(MediaObject)).all()
    assert row.kind == "photo" and row.size == len(got.content)
    assert url.endswith(row.sha256)


def test_an_edge_snapshot_showing_a_face_should_be_refused_and_not_stored(
    api: Api, face_frame: npt.NDArray[np.uint8]
) -> None:
    add_event(api.context, "evt-0000000001")
    ok, jpeg = cv2.imencode(".jpg", face_frame)
    assert ok

    response = api.put(
        "node01", "/api/v1/media/evt-0000000001/snapshot", content=bytes(jpeg)
    )

    assert response.status_code == 422, response.text
    assert "shows 2 unblurred face(s)" in response.json()["detail"]
    with api.context.sessions() as session:
        event = session.get(Event, "evt-0000000001")
        assert event is not None and event.snapshot_sha256 is None
        assert session.scalars(select(MediaObject)).all() == []
    assert not any(p.is_file() for p in api.context.settings.media.dir.rglob("*"))
    # a face-free snapshot from the same node is taken as sent
    clean = api.put(
        "node01", "/api/v1/media/evt-0000000001/snapshot", content=tiny_jpeg()
    )
    assert clean.status_code == 200, clean.text


class Unavailable:
    def screen(self, data: bytes, kind: MediaKind) -> bytes:
        raise MediaCheckUnavailable("face model yunet_face unavailable (test)")


def test_without_a_face_model_uploads_should_answer_503(api: Api) -> None:
    app = api.client.app
    app.state.media = MediaStore(  # type: ignore[attr-defined]
        api.context.settings.media.dir, screen=Unavailable()
    )
    add_event(api.context, "evt-0000000001")
    snapshot = api.put(
        "node01", "/api/v1/media/evt-0000000001/snapshot", content=tiny_jpeg()
    )
    assert snapshot.status_code == 503
    assert "yunet_face unavailable" in snapshot.json()["detail"]

    tid = api.create_ticket()["id"]
    assert api.act("worker1", tid, "accept").status_code == 200
    resolved = api.act(
        "worker1",
        tid,
        "resolve",
        data={"note": "cleared"},
        files={"photo": ("after.jpg", tiny_jpeg(), "image/jpeg")},
    )
    assert resolved.status_code == 503
    assert api.get("operator", f"/api/v1/tickets/{tid}").json()["state"] == "accepted"
