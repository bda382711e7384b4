"""Loudness checks of a rendered mix: the music's own dips are not the transition's."""

from __future__ import annotations

import numpy as np
import pytest

from songscape.evaluation.mix_quality import transition_excess_lu, transition_loudness

TIMES = np.arange(0.0, 40.0, 0.1)


def curve(level_db: float, dips: list[tuple[float, float, float]] = ()) -> np.ndarray:
    """A flat short-term loudness with (start, end, depth) dips."""
    out = np.full(len(TIMES), level_db)
    for a, b, depth in dips:
        out[(TIMES >= a) & (TIMES < b)] -= depth
    return out


def test_a_dip_of_the_incoming_track_itself_is_not_the_transitions():
    # transition 10–16 s; the incoming track dips by 4 LU just after it, alone and in the mix
    incoming = curve(-20.0, [(16.5, 18.0, 4.0)])
    incoming[TIMES < 13.0] = np.nan  # its first full window ends 3 s after it starts
    outgoing = curve(-20.0)
    outgoing[TIMES > 16.0] = np.nan
    mix = curve(-20.0, [(16.5, 18.0, 4.0)])
    assert transition_loudness(TIMES, mix, 10.0, 16.0)["bump_lu"] == pytest.approx(4.0)
    assert transition_excess_lu(TIMES, mix, 10.0, 16.0, [outgoing, incoming]) == 0.0


def test_a_hole_the_transition_makes_counts_in_full():
    outgoing, incoming = curve(-14.0), curve(-14.0)
    mix = curve(-14.0, [(12.0, 14.0, 5.0)])  # both tracks steady, the mix drops 5 LU
    assert transition_excess_lu(TIMES, mix, 10.0, 16.0, [outgoing, incoming]) == pytest.approx(5.0)
    # a level between the two tracks' own is fine; above both is not
    assert transition_excess_lu(TIMES, curve(-16.0), 10.0, 16.0, [curve(-14), curve(-18)]) == 0
    loud = curve(-14.0, [(12.0, 13.0, -3.0)])
    assert transition_excess_lu(TIMES, loud, 10.0, 16.0, [curve(-14), curve(-14)]) == (
        pytest.approx(3.0)
    )
