"""Loading scenario files: one valid document, then one bad key at a time."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.accuracy.scenario import (
    ScenarioError,
    is_selected,
    load_scenario,
    load_scenario_sets,
    load_scenarios,
    unconfigured_types,
)

CLIP = "clips/walk.mp4"

VALID: dict[str, Any] = {
    "clip": CLIP,
    "camera": {
        "analysis_fps": 5,
        "zones": [
            {
                "id": "floor",
                "rules": [
                    {"type": "occupancy", "labels": ["person"]},
                    {"type": "intrusion", "labels": ["person"], "min_s": 1},
                ],
            }
        ],
    },
    "expected": {
        "events": [
            {"type": "intrusion", "window": [0.4, 4.3], "region": [0.2, 0.3, 0.8, 1.0]}
        ],
        "counts": [
            {"t": 15.0, "zone": "all", "label": "person", "count": 8, "tolerance": 1}
        ],
    },
    "composited": "nothing",
}


@pytest.fixture
def media(tmp_path: Path) -> Path:
    folder = tmp_path / "media"
    (folder / "clips").mkdir(parents=True)
    (folder / CLIP).write_bytes(b"not read while loading")
    return folder


def write(path: Path, document: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def changed(path: list[str | int], value: object) -> dict[str, Any]:
    """VALID with one key set (`value` None deletes it)."""
    document = copy.deepcopy(VALID)
    node: Any = document
    for key in path[:-1]:
        node = node[key]
    if value is None:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return document


def test_load_scenario_given_valid_file_should_give_camera_and_truth(
    tmp_path: Path, media: Path
) -> None:
    path = write(tmp_path / "s" / "walk.yaml", VALID)

    loaded = load_scenario(path, name="walk", media_dir=media)

    assert loaded.clip_path == media / CLIP
    assert loaded.camera.zones[0].id == "floor"
    assert loaded.camera.location.lat == pytest.approx(23.1291)
    assert loaded.scenario.expected.events[0].window == (0.4, 4.3)
    assert loaded.scenario.expected.counts[0].tolerance == 1
    assert loaded.scenario.composited == "nothing"


def test_load_scenario_given_only_clip_and_camera_should_expect_nothing(
    tmp_path: Path, media: Path
) -> None:
    path = write(tmp_path / "s.yaml", {"clip": CLIP, "camera": {}})

    loaded = load_scenario(path, name="s", media_dir=media)

    assert loaded.scenario.expected.events == []
    assert loaded.scenario.expected.counts == []


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (["colour"], "red", "colour: Extra inputs are not permitted"),
        (["clip"], None, "clip: Field required"),
        (["camera"], None, "camera: Field required"),
        (["expected", "events", 0, "type"], "teleport", "expected.events.0.type"),
        (["expected", "events", 0, "window"], [5.0, 1.0], "start <= end"),
        (["expected", "events", 0, "window"], [-1.0, 1.0], "start <= end"),
        (["expected", "events", 0, "window"], [1.0], "expected.events.0.window"),
        (["expected", "events", 0, "region"], [0.8, 0.3, 0.2, 1.0], "x1 < x2"),
        (["expected", "events", 0, "region"], [0.2, 0.3, 0.8, 1.5], "within 0..1"),
        (["expected", "events", 0, "when"], 3, "expected.events.0.when"),
        (["expected", "counts", 0, "count"], -1, "expected.counts.0.count"),
        (["expected", "counts", 0, "tolerance"], -1, "expected.counts.0.tolerance"),
        (["expected", "counts", 0, "zone"], "door", "'door' has no occupancy rule"),
        (["expected", "counts", 0, "label"], "car", "no zone has an occupancy rule"),
        (["camera", "url"], "rtsp://x/y", "camera.url: set by the harness"),
        (["camera", "id"], "cam-1", "camera.id: set by the harness"),
        (["camera", "analysis_fps"], 0, "camera.analysis_fps"),
        (["camera", "fps"], 5, "camera.fps: Extra inputs are not permitted"),
        (["camera", "zones", 0, "rules", 1, "min_s"], -1, "rules.1.intrusion.min_s"),
    ],
)
def test_load_scenario_given_one_bad_key_should_name_file_and_field(
    tmp_path: Path, media: Path, path: list[str | int], value: object, message: str
) -> None:
    file = write(tmp_path / "bad.yaml", changed(path, value))

    with pytest.raises(ScenarioError) as error:
        load_scenario(file, name="bad", media_dir=media)

    assert str(file) in str(error.value)
    assert message in str(error.value)
    assert error.value.path == file


def test_load_scenario_given_unknown_rule_type_should_say_so(
    tmp_path: Path, media: Path
) -> None:
    document = changed(["camera", "zones", 0, "rules", 1], {"type": "teleport"})
    file = write(tmp_path / "new_rule.yaml", document)

    with pytest.raises(ScenarioError, match="unknown rule type 'teleport'") as error:
        load_scenario(file, name="new_rule", media_dir=media)

    assert "camera.zones.0.rules.1" in str(error.value)
    assert "intrusion" in str(error.value)  # lists the types the node knows


def test_load_scenario_given_label_not_counted_by_zone_should_fail(
    tmp_path: Path, media: Path
) -> None:
    document = changed(["expected", "counts", 0, "zone"], "floor")
    document["expected"]["counts"][0]["label"] = "car"
    file = write(tmp_path / "label.yaml", document)

    with pytest.raises(ScenarioError, match="zone 'floor' does not count 'car'"):
        load_scenario(file, name="label", media_dir=media)


def test_load_scenario_given_missing_clip_should_name_it(
    tmp_path: Path, media: Path
) -> None:
    file = write(tmp_path / "clip.yaml", changed(["clip"], "nope.mp4"))

    with pytest.raises(ScenarioError, match="clip: file not found"):
        load_scenario(file, name="clip", media_dir=media)


def test_load_scenario_given_no_media_dir_should_skip_the_clip_check(
    tmp_path: Path,
) -> None:
    file = write(tmp_path / "clip.yaml", changed(["clip"], "nope.mp4"))

    assert load_scenario(file, name="clip", media_dir=None).clip_path == Path(
        "nope.mp4"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("clip: [unclosed", "not valid YAML"),
        ("- a\n- b\n", "must be a mapping"),
        ("", "must be a mapping"),
    ],
)
def test_load_scenario_given_unreadable_document_should_fail(
    tmp_path: Path, text: str, message: str
) -> None:
    file = tmp_path / "broken.yaml"
    file.write_text(text, encoding="utf-8")

    with pytest.raises(ScenarioError, match=message):
        load_scenario(file, name="broken", media_dir=None)


def test_load_scenarios_given_tree_should_read_subfolders_and_keep_going(
    tmp_path: Path, media: Path
) -> None:
    root = tmp_path / "scenarios"
    write(root / "people" / "walk.yaml", VALID)
    write(root / "falls" / "fall_13.yml", changed(["colour"], "red"))
    write(root / "top.yaml", VALID)
    (root / "README.md").write_text("not a scenario", encoding="utf-8")

    load = load_scenarios(root, media_dir=media)

    assert [s.name for s in load.scenarios] == ["people/walk", "top"]
    assert [name for name, _ in load.errors] == ["falls/fall_13"]
    assert "colour" in str(load.errors[0][1])


@pytest.mark.parametrize(
    ("only", "names"),
    [
        (None, ["falls/a", "people/b", "people/c"]),
        ("people/*", ["people/b", "people/c"]),
        ("c", ["people/c"]),
        ("*a", ["falls/a"]),
        ("nothing", []),
    ],
)
def test_load_scenarios_given_only_should_filter_by_name(
    tmp_path: Path, media: Path, only: str | None, names: list[str]
) -> None:
    for name in ("falls/a", "people/b", "people/c"):
        write(tmp_path / "s" / f"{name}.yaml", VALID)

    load = load_scenarios(tmp_path / "s", media_dir=media, only=only)

    assert [s.name for s in load.scenarios] == names


def test_load_scenario_sets_given_folders_should_name_them_from_their_parent(
    tmp_path: Path, media: Path
) -> None:
    root = tmp_path / "scenarios"
    write(root / "people" / "walk.yaml", VALID)
    write(root / "people" / "bad.yaml", changed(["colour"], "red"))
    write(root / "falls" / "fall_13.yaml", VALID)
    write(root / "composited" / "not_asked.yaml", VALID)

    load = load_scenario_sets(
        [root / "people", root / "falls", root / "people" / "walk.yaml"],
        media_dir=media,
    )

    assert [s.name for s in load.scenarios] == ["people/walk", "falls/fall_13"]
    assert [name for name, _ in load.errors] == ["people/bad"]
    single = load_scenario_sets([root / "people"], media_dir=media, only="w*")
    assert [s.name for s in single.scenarios] == ["walk"]


def test_load_scenarios_given_single_file_should_load_it(
    tmp_path: Path, media: Path
) -> None:
    file = write(tmp_path / "one.yaml", VALID)

    assert [s.name for s in load_scenarios(file, media_dir=media).scenarios] == ["one"]


def test_load_scenarios_given_missing_folder_should_raise(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="scenarios folder not found"):
        load_scenarios(tmp_path / "nope", media_dir=None)


def test_is_selected_given_no_glob_should_select_all() -> None:
    assert is_selected("people/x", None)


def test_unconfigured_types_given_expected_type_without_rule_should_list_it(
    tmp_path: Path, media: Path
) -> None:
    document = copy.deepcopy(VALID)
    document["expected"]["events"].append({"type": "fall", "window": [1, 2]})
    loaded = load_scenario(
        write(tmp_path / "f.yaml", document), name="f", media_dir=media
    )

    assert unconfigured_types(loaded) == ["fall"]


SHIPPED = Path(__file__).resolve().parents[3] / "scenarios"
REAL_FOOTAGE = ("people", "falls", "objects", "vehicles")  # composited/ is built
VIDEO_SUFFIXES = {".mp4", ".gif", ".avi", ".mov", ".mkv", ".webm", ".m4v"}


def test_shipped_scenarios_should_load_against_the_shared_clips(
    videos_dir: Path,
) -> None:
    for folder in REAL_FOOTAGE:
        load = load_scenarios(SHIPPED / folder, media_dir=videos_dir)

        assert load.errors == (), folder
        assert load.scenarios, folder


def test_shipped_scenarios_should_cover_every_shared_clip(videos_dir: Path) -> None:
    clips = {
        path.relative_to(videos_dir).as_posix()
        for path in videos_dir.rglob("*")
        if path.suffix.lower() in VIDEO_SUFFIXES
    }
    named = {
        s.scenario.clip
        for folder in REAL_FOOTAGE
        for s in load_scenarios(SHIPPED / folder, media_dir=None).scenarios
    }

    assert clips - named == set(), "shared clips without a scenario"
