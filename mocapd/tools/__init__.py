"""The command-line tools (mocapd-list-tids, ...) in the package, so an installed wheel has them; tools/ holds thin fronts."""
