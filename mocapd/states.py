"""Job and step states, and the pipeline's step order: the one place these names live."""

# Job states.
QUEUED = "queued"
PROCESSING = "processing"
COMPLETED = "completed"
FAILED = "failed"
CANCELLED = "cancelled"

JOB_STATES = (QUEUED, PROCESSING, COMPLETED, FAILED, CANCELLED)
FINISHED_JOB_STATES = (COMPLETED, FAILED, CANCELLED)

# Step states.
PENDING = "pending"
RUNNING = "running"
DONE = "done"
STEP_FAILED = "failed"
SKIPPED = "skipped"
WARNING = "warning"  # finished with a fallback (e.g. smoothing fell back to raw motion)

STEP_STATES = (PENDING, RUNNING, DONE, STEP_FAILED, SKIPPED, WARNING)
FINISHED_STEP_STATES = (DONE, SKIPPED, WARNING)

# Pipeline steps, in the order they run.
VIDEO_UPLOAD = "video_upload"
TRACKING = "tracking"
TRACK_EXTRACTION = "track_extraction"
SMOOTHING = "smoothing"
FBX_EXPORT = "fbx_export"
PACKAGING = "packaging"

STEPS = (VIDEO_UPLOAD, TRACKING, TRACK_EXTRACTION, SMOOTHING, FBX_EXPORT, PACKAGING)
