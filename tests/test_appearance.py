"""Appearance histograms' running means and distances against their one-cut-at-a-time definitions."""

from __future__ import annotations

import numpy as np

from mocapd.motion import appearance


def one_cut_mean(rows: np.ndarray) -> np.ndarray:
    """The mean of rows' histograms region by region, NaN rows left out (NaN where none is left)."""
    result = np.full(appearance.SIZE, np.nan)
    for index in range(len(appearance.REGIONS)):
        columns = slice(index * appearance.REGION_BINS, (index + 1) * appearance.REGION_BINS)
        part = rows[:, columns]
        part = part[np.isfinite(part).all(axis=1)]
        if part.shape[0]:
            result[columns] = part.mean(axis=0)
    return result


def test_running_means_and_distances_match_each_cut_computed_alone() -> None:
    rng = np.random.default_rng(3)
    bins = appearance.REGION_BINS
    rows = rng.random((40, appearance.SIZE)).astype(np.float32) * 0.1
    first_colours = np.tile(np.arange(bins) < bins // 2, len(appearance.REGIONS))
    rows[:25, first_colours] += 1.0  # one person's colours, another person's from frame 25
    rows[25:, ~first_colours] += 1.0
    for index in range(len(appearance.REGIONS)):
        columns = slice(index * bins, (index + 1) * bins)
        rows[:, columns] /= rows[:, columns].sum(axis=1, keepdims=True)
    rows[rng.random(40) < 0.3, :bins] = np.nan  # the first region hidden in some frames
    rows[:8, bins : 2 * bins] = np.nan  # the second hidden before frame 8: no mean before cuts <= 8
    cuts = np.arange(1, 40)
    before, after = appearance.running_means(rows, cuts)
    expected_before = np.array([one_cut_mean(rows[:cut]) for cut in cuts])
    expected_after = np.array([one_cut_mean(rows[cut:]) for cut in cuts])
    np.testing.assert_allclose(before, expected_before, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(after, expected_after, rtol=1e-5, atol=1e-7)
    assert np.isnan(before[:7, bins : 2 * bins]).all() and np.isfinite(before[8:, bins : 2 * bins]).all()
    found = appearance.distances(before, after)
    alone = [appearance.distance(first, second) for first, second in zip(before, after, strict=True)]
    np.testing.assert_allclose(found, [np.nan if value is None else value for value in alone], atol=1e-6)
    assert int(cuts[np.nanargmax(found)]) == 25


def test_distances_are_nan_where_no_region_is_shown_on_both_sides() -> None:
    shown = np.full((2, appearance.SIZE), 1.0 / appearance.REGION_BINS, dtype=np.float32)
    hidden = np.full((2, appearance.SIZE), np.nan, dtype=np.float32)
    assert np.isnan(appearance.distances(shown, hidden)).all()
    np.testing.assert_allclose(appearance.distances(shown, shown), 0.0, atol=1e-3)
