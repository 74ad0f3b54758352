"""Thin front over mocapd.tools.smplx_npz_to_fbx for Blender: `blender -b -P smplx_npz_to_fbx.py -- --npz F --out F.fbx`.

Also runs as `python smplx_npz_to_fbx.py ...` where the bpy module is installed; an installed wheel
has the same tool as `mocapd-npz-to-fbx`.
"""

import sys
from pathlib import Path

# Blender's Python does not see the checkout: the package is two folders up.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from mocapd.tools.smplx_npz_to_fbx import main

if __name__ == "__main__":
    sys.exit(main())
