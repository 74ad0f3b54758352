"""Errors a pipeline step raises: the message is what the job's report, status and log show."""


class JobError(Exception):
    """A permanent failure of a job, with a reason a person can act on."""


class TransientError(JobError):
    """A failure worth retrying (out of GPU memory, a timeout); retried up to the configured limit."""


class DiskFull(TransientError):
    """The disk ran out of space: a fault of the machine, not of the job; the work pauses, no attempt is used."""
