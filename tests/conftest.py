"""Shared pytest options: ``--deep`` runs the long fuzzing mode (thousands of random programs)."""

import pytest


def pytest_addoption(parser):
    parser.addoption(
        "--deep",
        action="store_true",
        default=False,
        help="fuzz thousands of random programs (tests/test_fuzz.py) instead of a few hundred",
    )


@pytest.fixture
def deep(request) -> bool:
    """True under ``pytest --deep``."""
    return bool(request.config.getoption("--deep"))
