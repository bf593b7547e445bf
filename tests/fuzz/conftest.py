"""The fuzz suite's shared pieces: one child worker per session, hypothesis settings with a budget.

CYSYM_FUZZ_EXAMPLES sets how many examples each hypothesis test draws (default 40: the suite runs
in well under a minute); CYSYM_FUZZ_RANDOM=1 draws them at random instead of from a fixed seed.
"""
import os
import sys

import pytest
from hypothesis import HealthCheck, settings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))   # tests/: the op table

from harness import Worker  # noqa: E402

EXAMPLES = int(os.environ.get("CYSYM_FUZZ_EXAMPLES", "40"))

settings.register_profile(
    "cysym-fuzz", max_examples=EXAMPLES, deadline=None, database=None,
    derandomize=os.environ.get("CYSYM_FUZZ_RANDOM") != "1", print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture])
FUZZ = settings.get_profile("cysym-fuzz")


@pytest.fixture(scope="session")
def worker():
    child = Worker()
    yield child
    child.close()
