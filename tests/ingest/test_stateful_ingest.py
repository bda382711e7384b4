"""The stateful ingest test's short profile (the long one: ``bench/stateful.py``).

Derandomised, so every run of the suite explores the same sequences (a failure is
reproducible); the long profile draws new ones each time.
"""

from __future__ import annotations

from hypothesis import HealthCheck, Phase, settings

from tests.helpers import shared_data
from tests.ingest.stateful import REACH, IngestMachine

#: ~40 s on 2 cores (83 s measured at load average 20); 5 sequences of up to 16 steps.
CI_PROFILE = settings(
    max_examples=5,
    stateful_step_count=16,
    deadline=None,
    derandomize=True,
    database=None,
    phases=(Phase.explicit, Phase.generate),  # no shrinking: a failure prints its steps
    suppress_health_check=list(HealthCheck),
)


def test_random_file_operations_and_killed_ingests_keep_the_catalog_consistent():
    shared_data("mir1k_half", "audio")
    REACH.clear()
    IngestMachine.TestCase.settings = CI_PROFILE
    IngestMachine.TestCase().runTest()
    print(dict(REACH))
    assert REACH["ingests"] + REACH["kills"] > 0
