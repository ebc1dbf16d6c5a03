"""Tests for models.manifest: the manifest file, local lookup, sha256, download."""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import pytest

from harness import models_command as cli
from models.manifest import (
    REPO_ROOT,
    ChecksumError,
    DownloadError,
    ManifestError,
    ModelRole,
    NotFoundError,
    UnknownEntryError,
    VideoEntry,
    load_manifest,
    resolve_entry,
    resolve_model,
    resolve_video,
    search_dirs,
)

ENV_VARS = ("GRIDWATCH_MODELS_DIR", "GRIDWATCH_VIDEOS_DIR", "GRIDWATCH_DATA_DIR")


@pytest.fixture(autouse=True)
def isolated_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, shared_data: Path
) -> Path:
    """Only the shared data folder from the environment; the user cache in tmp."""
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GRIDWATCH_DATA_DIR", str(shared_data))
    cache_home = tmp_path / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache_home))
    return cache_home / "gridwatch"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _entry(tmp_path: Path, payload: bytes, *, url: str | None = None) -> VideoEntry:
    """An entry whose upstream is a local file:// URL holding `payload`."""
    source = tmp_path / "upstream" / "clip.bin"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_bytes(payload)
    return VideoEntry(
        file="gw-test/clip.bin",
        url=url or source.as_uri(),
        sha256=_sha256(payload),
        licence="MIT",
        attribution="test",
    )


def _files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_manifest_given_shared_data_should_list_every_file_with_its_sha256(
    models_dir: Path, videos_dir: Path
) -> None:
    manifest = load_manifest()
    assert sorted(m.file for m in manifest.models) == _files_under(models_dir)
    assert sorted(v.file for v in manifest.videos) == _files_under(videos_dir)
    for model in manifest.models:
        assert (
            resolve_model(model.name, models_dir, download=False)
            == models_dir / model.file
        )
    for video in manifest.videos:
        assert (
            resolve_video(video.file, videos_dir, download=False)
            == videos_dir / video.file
        )


def test_manifest_given_detectors_should_carry_family_coco80_and_input_size() -> None:
    manifest = load_manifest()
    detectors = [m for m in manifest.models if m.role is ModelRole.DETECTOR]
    assert {m.name for m in detectors} == {"yolox_nano", "nanodet_plus_416"}
    for model in detectors:
        assert model.classes == manifest.coco80
        assert model.input_size_wh == (416, 416)
        assert model.url is not None and model.url.startswith("https://")
    assert manifest.coco80[0] == "person" and manifest.coco80[79] == "toothbrush"


@pytest.mark.parametrize(
    "name",
    [
        "nanodet_plus_416",
        "object_detection_nanodet_2022nov.onnx",
        "object_detection_nanodet_2022nov",
    ],
)
def test_resolve_model_given_name_file_or_stem_should_find_the_file(
    models_dir: Path, name: str
) -> None:
    path = resolve_model(name, models_dir, download=False)
    assert path.name == "object_detection_nanodet_2022nov.onnx"


def test_resolve_model_given_unknown_name_should_raise_naming_known_ones() -> None:
    with pytest.raises(UnknownEntryError, match="yolox_nano"):
        resolve_model("no_such_model")


def test_resolve_model_given_no_folder_or_env_should_find_repo_sibling_shared_data(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sibling = REPO_ROOT.parent / "shared" / "data" / "models"
    if not sibling.is_dir():
        pytest.skip(f"no shared data beside the repository ({sibling})")
    monkeypatch.delenv("GRIDWATCH_DATA_DIR")
    assert resolve_model("yolox_nano", download=False) == sibling / "yolox_nano.onnx"


def test_resolve_model_given_env_models_dir_should_search_it_before_shared(
    models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "env-models"
    folder.mkdir()
    (folder / "yolox_nano.onnx").symlink_to(models_dir / "yolox_nano.onnx")
    monkeypatch.setenv("GRIDWATCH_MODELS_DIR", str(folder))
    assert resolve_model("yolox_nano", download=False) == folder / "yolox_nano.onnx"


def test_search_dirs_given_env_should_follow_documented_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_env: Path
) -> None:
    monkeypatch.setenv("GRIDWATCH_VIDEOS_DIR", str(tmp_path / "v"))
    monkeypatch.setenv("GRIDWATCH_DATA_DIR", str(tmp_path / "data"))
    dirs = search_dirs("videos", tmp_path / "explicit")
    assert dirs == [
        tmp_path / "explicit",
        tmp_path / "v",
        tmp_path / "data" / "videos",
        REPO_ROOT.parent / "shared" / "data" / "videos",
        isolated_env / "videos",
    ]


def test_resolve_entry_given_local_file_with_other_sha256_should_raise(
    tmp_path: Path,
) -> None:
    entry = _entry(tmp_path, b"the real bytes")
    local = tmp_path / "mine" / entry.file
    local.parent.mkdir(parents=True)
    local.write_bytes(b"something else")
    with pytest.raises(ChecksumError, match=r"clip\.bin"):
        resolve_entry(entry, "videos", tmp_path / "mine")


def test_resolve_entry_given_missing_file_should_download_to_cache_atomically(
    tmp_path: Path, isolated_env: Path
) -> None:
    entry = _entry(tmp_path, b"payload " * 1000)
    path = resolve_entry(entry, "videos", tmp_path / "empty")
    assert path == isolated_env / "videos" / entry.file
    assert path.read_bytes() == b"payload " * 1000
    assert [p.name for p in path.parent.iterdir()] == ["clip.bin"]
    assert resolve_entry(entry, "videos", download=False) == path


def test_resolve_entry_given_stale_cache_file_should_download_again(
    tmp_path: Path, isolated_env: Path
) -> None:
    entry = _entry(tmp_path, b"fresh")
    stale = isolated_env / "videos" / entry.file
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"stale")
    assert resolve_entry(entry, "videos").read_bytes() == b"fresh"


def test_resolve_entry_given_download_dir_should_put_file_there(tmp_path: Path) -> None:
    entry = _entry(tmp_path, b"abc")
    target = tmp_path / "target"
    assert (
        resolve_entry(entry, "videos", target, download_dir=target)
        == target / entry.file
    )


def test_resolve_entry_given_corrupt_download_should_raise_and_keep_nothing(
    tmp_path: Path, isolated_env: Path
) -> None:
    entry = _entry(tmp_path, b"expected").model_copy(
        update={"sha256": _sha256(b"other")}
    )
    with pytest.raises(DownloadError, match="sha256"):
        resolve_entry(entry, "videos")
    folder = isolated_env / "videos" / "gw-test"
    assert not folder.exists() or list(folder.iterdir()) == []


@pytest.mark.parametrize(
    "url", ["file:///nonexistent/gridwatch/clip.bin", "https://127.0.0.1:9/clip.bin"]
)
def test_resolve_entry_given_unreachable_url_should_name_file_and_url(
    tmp_path: Path, url: str
) -> None:
    entry = _entry(tmp_path, b"x", url=url)
    with pytest.raises(DownloadError) as raised:
        resolve_entry(entry, "videos")
    assert "clip.bin" in str(raised.value)
    assert url in str(raised.value)


def test_resolve_entry_given_download_false_should_raise_not_found(
    tmp_path: Path,
) -> None:
    entry = _entry(tmp_path, b"x")
    with pytest.raises(NotFoundError, match=r"clip\.bin"):
        resolve_entry(entry, "videos", download=False)


def test_resolve_model_given_missing_model_without_url_should_say_how_to_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("models.manifest.REPO_ROOT", tmp_path / "repo")
    monkeypatch.delenv("GRIDWATCH_DATA_DIR")
    with pytest.raises(DownloadError, match="tf2onnx"):
        resolve_model("movenet_lightning")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("models: [", "not valid YAML"),
        (
            "schema: gw.manifest/1\ncoco80: []\nmodels: []\nvideos: []\n",
            "invalid manifest",
        ),
        ("schema: other\n", "invalid manifest"),
    ],
)
def test_load_manifest_given_bad_file_should_raise_manifest_error(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "manifest.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ManifestError, match=message):
        load_manifest(path)


def test_load_manifest_given_missing_file_should_raise_manifest_error(
    tmp_path: Path,
) -> None:
    with pytest.raises(ManifestError, match="cannot read"):
        load_manifest(tmp_path / "absent.yaml")


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return cli.run_cli(parser.parse_args(argv))


def test_cli_verify_given_shared_data_should_pass(
    shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(["verify", "--dir", str(shared_data)]) == 0
    out = capsys.readouterr().out
    assert "FAIL" not in out
    assert "yolox_nano.onnx" in out


def test_cli_list_given_json_should_report_every_entry_found(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert _run(["list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == len(load_manifest().models) + len(load_manifest().videos)
    assert all(row["status"] not in ("missing",) for row in rows)


def test_cli_fetch_given_everything_local_should_download_nothing(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(["fetch", "--dir", str(tmp_path / "fetched")]) == 0
    assert not (tmp_path / "fetched").exists()
    assert capsys.readouterr().out.count("ok   ") == 29
