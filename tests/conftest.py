"""Shared fixtures.

The backend fixtures (``memory_factory`` and friends, over SQLite and PostgreSQL) live in conftest_pg.py.
"""

pytest_plugins = ["conftest_pg"]
