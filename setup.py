"""Only the build step setup.cfg cannot say: the example configuration copied into the package.

etc/mocapd.toml stays the one documented file; the wheel carries a copy at mocapd/data/mocapd.toml,
read by `mocapd config --example` (mocapd/example.py).
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

EXAMPLE = Path("etc") / "mocapd.toml"


class BuildWithExample(build_py):
    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "mocapd" / "data" / EXAMPLE.name
        target.parent.mkdir(parents=True, exist_ok=True)
        self.copy_file(str(EXAMPLE), str(target))


setup(cmdclass={"build_py": BuildWithExample})
