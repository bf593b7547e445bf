"""What MXNet 1.9.1 wrote and computed in tests/fixtures/recordio (make_recordio_fixtures.py
there), shared by test_recordio.py and test_image_iter.py."""
import json
import os

import numpy as np
import pytest

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "recordio")
with open(os.path.join(FIXTURES, "expected.json")) as _file:
    EXPECTED = json.load(_file)


def fixture(name):
    """The path of fixture file name."""
    return os.path.join(FIXTURES, name)


@pytest.fixture(scope="module")
def arrays():
    """expected.npz as a dict of arrays."""
    with np.load(fixture("expected.npz")) as npz:
        return dict(npz)
