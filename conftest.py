"""Shared pytest fixtures for tests/ and services/*/tests (real NATS and Postgres)."""

pytest_plugins = ["tests.fixtures"]
