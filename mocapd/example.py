"""The documented example configuration (etc/mocapd.toml), found in an installed package or a checkout.

The file lives once, in etc/; the wheel's build copies it into the package (setup.py), so that
`mocapd config --example` prints it wherever mocapd is installed.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

EXAMPLE_NAME = "mocapd.toml"
# Where the build puts the copy, inside the package.
PACKAGED = ("data", EXAMPLE_NAME)
# The one source file, relative to a checkout's root.
SOURCE = Path("etc") / EXAMPLE_NAME


def example_config() -> str:
    """The example configuration's text: the packaged copy, else the checkout's etc/mocapd.toml."""
    packaged = resources.files("mocapd").joinpath(*PACKAGED)
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    checkout = Path(__file__).resolve().parent.parent / SOURCE
    if checkout.is_file():
        return checkout.read_text(encoding="utf-8")
    raise FileNotFoundError(
        f"the example configuration {EXAMPLE_NAME} is in neither the package nor {SOURCE}"
    )
