"""Errors a pipeline step raises: the message is what the job's report, status and log show."""


class JobError(Exception):
    """A permanent failure of a job, with a reason a person can act on."""


class TransientError(JobError):
    """A failure worth retrying (out of GPU memory, a timeout); retried up to the configured limit."""
