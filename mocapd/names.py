"""Names from a share, whatever bytes they hold: shown escaped, and made safe for the daemon's own files.

A name read from the filesystem is a str whose undecodable bytes are lone surrogates (Python's
surrogateescape); it cannot be encoded as UTF-8 (SQLite, JSON for people, the log) as it is. Control
characters (ESC, newline) would reach a terminal or a log raw. Both are shown as backslash escapes.
"""

from __future__ import annotations

import os
import unicodedata

# Longest outbox folder name in bytes: leaves room below NAME_MAX (255) for "-NN" and staging prefixes.
MAX_FOLDER_BYTES = 200
# Longest name of a file the daemon creates next to a dropped one (NAME_MAX on Linux filesystems).
NAME_MAX = 255


def _escape_character(character: str) -> str:
    code = ord(character)
    if 0xDC80 <= code <= 0xDCFF:  # an undecodable byte, kept by surrogateescape
        return f"\\x{code - 0xDC00:02x}"
    if code == 10:
        return "\\n"
    if code == 13:
        return "\\r"
    if code == 9:
        return "\\t"
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


def _needs_escape(character: str) -> bool:
    category = unicodedata.category(character)
    # Cc: C0/C1 controls (ESC, newline, DEL); Cs: surrogates; Zl/Zp: line and paragraph separators.
    return category in ("Cc", "Cs", "Zl", "Zp")


def shown(text: str) -> str:
    """`text` as it may be shown and stored: undecodable bytes and control characters as escapes."""
    if text.isprintable():
        return text
    return "".join(_escape_character(c) if _needs_escape(c) else c for c in text)


def is_clean(text: str) -> bool:
    """True when `text` shows as itself (no undecodable bytes, no control characters)."""
    return shown(text) == text


def truncate_bytes(text: str, limit: int) -> str:
    """`text` cut to at most `limit` bytes of UTF-8, never inside a character."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", errors="ignore")


def folder_name(stem: str) -> str:
    """An outbox folder name for a video's stem: escapes made harmless, within MAX_FOLDER_BYTES."""
    text = "".join("_" if _needs_escape(c) or c in "/\\" else c for c in stem).strip()
    if not text or text in (".", "..") or text.startswith("."):
        text = "_" + text.lstrip(".") if text.strip(".") else "video"
    return truncate_bytes(text, MAX_FOLDER_BYTES) or "video"


def input_name(name: str) -> str:
    """The name of a dropped file's copy in its job folder: its own name when clean and short, else safe."""
    if is_clean(name) and len(os.fsencode(name)) <= MAX_FOLDER_BYTES and not name.startswith("."):
        return name
    stem, dot, extension = name.rpartition(".")
    if not dot:
        stem, extension = name, ""
    extension = folder_name(extension)[:16] if extension else ""
    return truncate_bytes(folder_name(stem), MAX_FOLDER_BYTES - 20) + (f".{extension}" if extension else "")
