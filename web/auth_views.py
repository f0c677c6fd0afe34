"""The HTML login, with a limit on failed attempts."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import views as auth_views

from web import ratelimit


def _keys(request) -> list[str]:
    keys = [f"login:ip:{ratelimit.client_address(request)}"]
    username = request.POST.get("username", "")
    if username:
        keys.append(f"login:user:{username.lower()[:150]}")
    return keys


class LoginView(auth_views.LoginView):
    """Django's login view; past ``LOGIN_FAILURES_PER_MINUTE`` failures a minute
    from one address or for one username it answers 429 without checking the password."""

    def post(self, request, *args, **kwargs):
        limit = settings.LOGIN_FAILURES_PER_MINUTE
        if limit and any(ratelimit.exceeded(key, limit=limit) for key in _keys(request)):
            # Unbound: a bound form would check the password while rendering its errors.
            form = self.get_form_class()(request=request)
            context = self.get_context_data(form=form, throttled=True)
            return self.render_to_response(context, status=429)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        for key in _keys(self.request):
            ratelimit.count(key)
        return super().form_invalid(form)
