"""`mocapd stats`: totals, success rate, average time per step, storage."""

from __future__ import annotations

import argparse

from mocapd.actions.common import open_existing_store, print_json
from mocapd.config import Config
from mocapd.stats import collect

PRINTS_JSON = True
HELP = "totals, success rate, average time per step and storage"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options of its own (--json is common to every command)."""


def run(arguments: argparse.Namespace, config: Config) -> int:
    figures = collect(open_existing_store(config), config)
    if arguments.json:
        print_json(figures)
        return 0
    print("jobs: " + ", ".join(f"{state} {count}" for state, count in figures["jobs"].items()))
    rate = figures["success_rate"]
    print(f"success rate: {rate * 100:.1f} %" if rate is not None else "success rate: no finished job yet")
    for step, seconds in figures["average_step_seconds"].items():
        print(f"  {step:<17} {seconds:8.2f} s on average")
    storage = figures["storage_mb"]
    print(f"storage: state dir {storage['state_dir']:.1f} MB, outbox {storage['outbox']:.1f} MB")
    return 0
