"""The job's report: the preview video and plots (made in the packaging step), verdicts and the pages."""
