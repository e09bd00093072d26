"""Every field of a job request is checked before any work (issue 9, item 5)."""

from __future__ import annotations

import math

import pytest

from backend.jobs import JobError, validate_job
from backend.settings import SEED_MAX, GenerateSettings, SettingError


def _job(**over):
    job = {"mode": "two_image", "inputs": {"start": "a.png", "end": "b.png"}, "output": "out", "settings": {}}
    job.update(over)
    return job


@pytest.mark.parametrize("settings, field", [
    ({"seed": -1}, "settings.seed"),
    ({"seed": "abc"}, "settings.seed"),
    ({"seed": 2**70}, "settings.seed"),
    ({"seed": 1.5}, "settings.seed"),
    ({"inflation": -1}, "settings.inflation"),
    ({"inflation": "x"}, "settings.inflation"),
    ({"inflation": 1e300}, "settings.inflation"),
    ({"inflation": math.nan}, "settings.inflation"),
    ({"fps": math.inf}, "settings.fps"),
    ({"fps": math.nan}, "settings.fps"),
    ({"fps": "24"}, "settings.fps"),
    ({"frames": True}, "settings.frames"),
    ({"frames": 2.0}, "settings.frames"),
    ({"preview": "no"}, "settings.preview"),
    ({"frame_plys": 1}, "settings.frame_plys"),
    ({"engines": ["arap"]}, "settings.engines"),
    ({"engines": {"inbetween": 3}}, "settings.engines"),
    ({"quality": ["draft"]}, "settings.quality"),
    ({"device": None}, "settings.device"),
])
def test_bad_setting_names_its_field(settings, field):
    with pytest.raises(JobError) as info:
        validate_job(_job(settings=settings))
    assert info.value.field == field and info.value.code == "job" and info.value.hint
    assert field.split(".")[1] in info.value.message


@pytest.mark.parametrize("over, field", [
    ({"inputs": "a.png"}, "inputs"),
    ({"inputs": ["a.png", "b.png"]}, "inputs"),
    ({"inputs": {"start": "a.png", "end": 7}}, "inputs"),
    ({"settings": [1, 2]}, "settings"),
    ({"settings": "draft"}, "settings"),
    ({"output": {"dir": "x"}}, "output"),
    ({"mode": "three_image"}, "mode"),
])
def test_request_fields_of_the_wrong_type_are_refused(over, field):
    with pytest.raises(JobError) as info:
        validate_job(_job(**over))
    assert info.value.field == field


def test_good_job_passes_and_unknown_fields_are_ignored():
    checked = validate_job(_job(settings={"seed": SEED_MAX, "inflation": 1, "future_option": 3}, extra="x"))
    assert checked["settings"].seed == SEED_MAX and checked["settings"].inflation == 1.0
    assert isinstance(checked["settings"].inflation, float)
    assert validate_job(_job(settings=None))["settings"] == GenerateSettings()


def test_settings_dataclass_validates_direct_construction():
    with pytest.raises(SettingError, match="seed"):
        GenerateSettings(seed=-1)
