"""Integration fixtures: the probe service's test-only contracts live only while a test runs."""

import pytest

from tests.integration.probe_service import unregister_probe_types


@pytest.fixture(autouse=True)
def _probe_contracts_are_test_scoped():
    yield
    unregister_probe_types()
