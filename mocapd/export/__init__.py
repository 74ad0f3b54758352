"""Writing a track's motion as files a studio opens: FBX (through Blender), BVH and GLB, and packaging them.

Kept free of imports so Blender's own Python can import `mocapd.export.blender_scene` with only numpy.
"""
