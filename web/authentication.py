"""API token authentication in one query.

Same tokens, header and errors as DRF's ``TokenAuthentication``; only the
lookup is a prepared SQL string instead of an ORM query compiled per request,
because every labeling call pays for it. With ``API_TOKEN_TTL_DAYS`` set, a
token older than that many days is refused.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from web import rows, sql


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate_credentials(self, key: str):
        row = rows.fetchone(sql.token_user(), [key])
        if row is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        user = rows.instance(get_user_model(), row, 1)
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        # Checked on the row already fetched, so expiry costs no query.
        ttl_days = settings.API_TOKEN_TTL_DAYS
        if ttl_days and row[0] < timezone.now() - timedelta(days=ttl_days):
            raise exceptions.AuthenticationFailed(
                "Token has expired; get a new one from POST auth/token/."
            )
        token = Token(key=key, user_id=user.pk, created=row[0])
        token.user = user
        return user, token
