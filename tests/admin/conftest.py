from __future__ import annotations

import pytest

from api.db import Database
from tests.admin.helpers import auth, make_key


@pytest.fixture
def admin(clean_database: Database) -> dict[str, str]:
    """Headers with a key holding every scope."""
    return auth(make_key(clean_database, name="all-scopes"))
