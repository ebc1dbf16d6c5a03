"""`media` and `central` config sections: defaults, bounds, cross-field rules."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any

import pytest

from edge.config import ConfigError, parse_config

CAMERA = {"id": "c", "url": "rtsp://x/y", "location": {"lat": 1, "lon": 2}}
CENTRAL = {"url": "https://central:8080", "token_env": "GW_NODE_TOKEN"}


def _parse(**extra: Any) -> Any:
    return parse_config({"node_id": "n", "cameras": [CAMERA], **extra})


def test_config_given_no_media_section_should_record_clips_locally() -> None:
    config = _parse()
    assert config.central is None
    media = config.media
    assert (media.clips, media.pre_s, media.post_s, media.max_side_px) == (
        True, 4.0, 4.0, 960,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("media", "central", "expectation"),
    [
        ({}, CENTRAL, nullcontext()),
        ({"pre_s": 0, "buffer_s": 1}, None, nullcontext()),
        ({"pre_s": 10}, None, pytest.raises(ConfigError, match="at least pre_s")),
        ({"post_s": 0}, None, pytest.raises(ConfigError, match=r"media\.post_s")),
        ({"max_side_px": 32}, None, pytest.raises(ConfigError, match="max_side_px")),
        ({"crf": 60}, None, pytest.raises(ConfigError, match=r"media\.crf")),
        ({"face_score": 1.0}, None, pytest.raises(ConfigError, match="face_score")),
        ({"queue_size": 0}, None, pytest.raises(ConfigError, match="queue_size")),
        ({"clip": True}, None, pytest.raises(ConfigError, match=r"media\.clip")),
        ({}, {**CENTRAL, "token_file": "/t"},
         pytest.raises(ConfigError, match="exactly one of token_file or token_env")),
        ({}, {"url": "https://c"},
         pytest.raises(ConfigError, match="exactly one of token_file or token_env")),
        ({}, {**CENTRAL, "url": "http://central:8080"},
         pytest.raises(ConfigError, match="plain http to another host")),
        ({}, {**CENTRAL, "url": "http://central:8080", "allow_plain_http": True},
         nullcontext()),
        ({}, {**CENTRAL, "url": "http://127.0.0.1:8080"}, nullcontext()),
        ({}, {**CENTRAL, "url": "http://localhost:8080"}, nullcontext()),
        ({}, {**CENTRAL, "url": "central:8080"},
         pytest.raises(ConfigError, match=r"central\.url")),
        ({}, {**CENTRAL, "token_env": "1BAD"},
         pytest.raises(ConfigError, match=r"central\.token_env")),
        ({}, {**CENTRAL, "retry_min_s": 10, "retry_max_s": 5},
         pytest.raises(ConfigError, match="retry_min_s")),
    ],
)  # fmt: skip
def test_config_given_media_and_central_should_validate(
    media: dict[str, Any],
    central: dict[str, Any] | None,
    expectation: AbstractContextManager[Any],
) -> None:
    extra: dict[str, Any] = {"media": media}
    if central is not None:
        extra["central"] = central
    with expectation:
        _parse(**extra)
