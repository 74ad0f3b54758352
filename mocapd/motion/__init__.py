"""Motion capture: pose estimation, tracking, world frame, extraction and quality figures."""
