"""SQL for the API token check, which every labeling call through the API pays for,
and for a running job's heartbeat."""

from __future__ import annotations

from functools import cache

from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

from web import rows


@cache
def token_user() -> str:
    """The token's ``created``, then the user's columns; one parameter, the key.

    Built once, on first use: the user model is only known once the apps are loaded.
    """
    User = get_user_model()
    return (
        f"SELECT tk.created, {rows.columns(User, 'u')} FROM {Token._meta.db_table} tk "
        f"JOIN {User._meta.db_table} u ON u.{User._meta.pk.column} = tk.user_id "
        "WHERE tk.key = %s"
    )


def job_heartbeat(table: str, running: str) -> str:
    """Touch a running job row's ``heartbeat_at``; one parameter, the id."""
    return f"UPDATE {table} SET heartbeat_at = now() WHERE id = %s AND state = '{running}'"
