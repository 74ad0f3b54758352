"""The one checker behind the config file and job options: types, choices, ranges, unknown keys."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from mocapd.settings import SettingsError, build, check, to_dict


@dataclass
class Inner:
    level: int = field(default=3, metadata={"range": (1, 5)})
    label: str = "x"


@dataclass
class Outer:
    mode: str = field(default="a", metadata={"choices": ("a", "b")})
    ratio: float = field(default=0.5, metadata={"range": (0.0, 1.0)})
    enabled: bool = True
    limit: float | None = field(default=None, metadata={"range": (1.0, 10.0)})
    tags: list[str] = field(default_factory=lambda: ["a"], metadata={"choices": ("a", "b", "c")})
    inner: Inner = field(default_factory=Inner)


def test_defaults_and_a_partial_update_keep_the_base() -> None:
    assert build(Outer, {}) == Outer()
    base = build(Outer, {"mode": "b", "inner": {"level": 5}})
    updated = build(Outer, {"ratio": 1}, base=base)
    assert updated.mode == "b" and updated.inner.level == 5 and updated.ratio == 1.0
    assert isinstance(updated.ratio, float)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"colour": 1}, "unknown key 'colour' (known: enabled, inner, limit, mode, ratio, tags)"),
        ({"inner": {"lvl": 1}}, "unknown key 'inner.lvl'"),
        ({"mode": "c"}, "'mode' must be one of a, b, got 'c'"),
        ({"ratio": 1.5}, "'ratio' must be between 0.0 and 1.0, got 1.5"),
        ({"ratio": "0.5"}, "'ratio' must be a number, got '0.5'"),
        ({"ratio": True}, "'ratio' must be a number, got True"),
        ({"enabled": "yes"}, "'enabled' must be true or false, got 'yes'"),
        ({"inner": {"level": 2.0}}, "'inner.level' must be an integer, got 2.0"),
        ({"inner": {"level": 9}}, "'inner.level' must be between 1 and 5, got 9"),
        ({"inner": 3}, "'inner' must be a table/object"),
        ({"tags": "a"}, "'tags' must be a list, got str"),
        ({"tags": ["a", 2]}, "'tags[1]' must be a string, got 2"),
        ({"tags": ["a", "z"]}, "'tags' must be one of a, b, c, got 'z'"),
        ({"limit": 0.5}, "'limit' must be between 1.0 and 10.0, got 0.5"),
        ({"limit": "none"}, "'limit' must be a number"),
    ],
)
def test_bad_data_names_the_key(data: dict, message: str) -> None:
    with pytest.raises(SettingsError) as error:
        build(Outer, data)
    assert message in str(error.value)


def test_optional_values_accept_none_and_numbers() -> None:
    assert build(Outer, {"limit": None}).limit is None
    assert build(Outer, {"limit": 2}).limit == 2.0


def test_check_and_to_dict() -> None:
    assert check("x", 3, int, {"range": (1, 5)}) == 3
    with pytest.raises(SettingsError, match="unsupported setting type"):
        check("x", 3, complex)
    assert to_dict(Outer()) == {
        "mode": "a",
        "ratio": 0.5,
        "enabled": True,
        "limit": None,
        "tags": ["a"],
        "inner": {"level": 3, "label": "x"},
    }


def test_every_bad_key_is_named_at_once() -> None:
    with pytest.raises(SettingsError) as error:
        build(Outer, {"colour": 1, "size": 2, "mode": "c", "ratio": 1.5, "inner": {"level": 9}})
    message = str(error.value)
    assert "unknown keys 'colour', 'size'" in message
    for part in ("'mode' must be one of a, b", "'ratio' must be between", "'inner.level' must be between"):
        assert part in message, part
