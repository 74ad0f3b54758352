"""The service: the daemon's loop, the step runner and its child processes, and the periodic work."""
