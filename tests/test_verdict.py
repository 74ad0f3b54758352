"""Verdicts and figures: thresholds, reasons in words, units on every figure, unknown keys tolerated."""

from __future__ import annotations

from mocapd.report import figures, verdict


def test_a_clean_person_is_good_with_no_reasons() -> None:
    result = verdict.person(
        "person 1",
        {"detected_share": 0.98, "bone_length_cv": 0.05, "jitter_after": 10.0, "airborne_share": 0.1},
        frames=100,
    )
    assert result.level == verdict.GOOD and result.reasons == []


def test_each_figure_past_its_threshold_names_the_problem() -> None:
    result = verdict.person(
        "person 2",
        {"detected_share": 0.6, "frames_out_of_image": 5, "airborne_share": 0.4, "sliding_after_cm": 1.5},
        frames=100,
    )
    assert result.level == verdict.POOR
    assert "person 2 seen in 60% of their frames; the rest is filled in" in result.reasons
    assert "person 2's feet are off the floor in 40% of frames" in result.reasons
    assert any("slide 1.5 cm per frame" in reason for reason in result.reasons)
    assert not any("edge" in reason for reason in result.reasons)  # 5 % of frames is within


def test_the_take_takes_its_worst_person_and_nobody_exported_is_poor() -> None:
    good = verdict.person("person 1", {"detected_share": 1.0})
    check = verdict.person("person 2", {"detected_share": 0.8})
    take = verdict.take({"person 1": good, "person 2": check})
    assert take.level == verdict.CHECK and take.reasons == check.reasons
    assert verdict.take({}).level == verdict.POOR


def test_figures_the_solver_may_add_are_judged_and_shown_with_units() -> None:
    result = verdict.person("person 1", {"reprojection_error_px": 40.0, "some_new_share": 0.5})
    assert result.level == verdict.POOR and "40 px" in result.reasons[0]
    shown = {
        figure.key: figure.text
        for figure in figures.figures(
            {
                "detected_share": 0.955,
                "jitter_after": 15.888,
                "reprojection_error_px": 3.25,
                "contact_share": [0.42, 0.0],
                "sliding_after_cm": 4e-15,
                "some_new_share": 0.5,
                "strange_text": "abc",
                "missing": None,
            }
        )
    }
    assert shown == {
        "detected_share": "96 % of frames",
        "jitter_after": "15.9 mm/frame²",
        "reprojection_error_px": "3.25 px",
        "contact_share": "42 / 0 % of frames",
        "sliding_after_cm": "0 cm/frame",
        "some_new_share": "50 % of frames",
        "strange_text": "abc",
    }


def test_the_solvers_sliding_is_judged_in_cm_per_frame() -> None:
    result = verdict.person("person 1", {"planted_sliding_cm": 4.0})
    assert result.level == verdict.POOR and "slide 4 cm per frame" in result.reasons[0]
    assert figures.figures({"planted_sliding_cm": 4.0})[0].text == "4 cm/frame"


def test_bad_values_are_ignored_not_judged() -> None:
    result = verdict.person(
        "person 1", {"detected_share": "n/a", "jitter_after": float("nan"), "bone_length_cv": None}
    )
    assert result.level == verdict.GOOD
