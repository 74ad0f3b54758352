"""Names from a share: shown escaped, and safe names for the daemon's own files."""

from __future__ import annotations

import os

from mocapd.names import MAX_FOLDER_BYTES, folder_name, input_name, is_clean, shown, truncate_bytes


def test_undecodable_bytes_and_control_characters_are_shown_escaped() -> None:
    name = os.fsdecode(b"caf\xe9\x1b[31m\nx.mp4")
    assert shown(name) == "caf\\xe9\\x1b[31m\\nx.mp4"
    shown(name).encode("utf-8")  # storable and printable
    assert shown("été 動画.mp4") == "été 動画.mp4" and is_clean("été 動画.mp4")
    assert not is_clean(name)


def test_folder_names_are_clean_and_within_the_limit() -> None:
    assert folder_name(os.fsdecode(b"caf\xe9")) == "caf_"
    assert folder_name("a/b\\c") == "a_b_c"
    assert folder_name(".hidden") == "_hidden" and folder_name("..") == "video" and folder_name("") == "video"
    long = folder_name("é" * 200)
    assert len(long.encode()) <= MAX_FOLDER_BYTES and long == "é" * (MAX_FOLDER_BYTES // 2)


def test_input_names_keep_clean_short_names_and_make_safe_ones() -> None:
    assert input_name("take 01.mp4") == "take 01.mp4"
    made = input_name("a" * 251 + ".mp4")
    assert made.endswith(".mp4") and len(made.encode()) <= MAX_FOLDER_BYTES
    made = input_name(os.fsdecode(b"\xff\xfe.mov"))
    assert made == "__.mov" and is_clean(made)


def test_truncation_never_cuts_a_character() -> None:
    assert truncate_bytes("ééé", 5) == "éé"
    assert truncate_bytes("abc", 10) == "abc"
