"""Errors the services raise for people: the message says what is wrong and what to do."""

from django.utils.translation import gettext as _


class ServiceError(Exception):
    """A request the service refuses; the message is for the person who asked. Nothing was changed."""


class LimitReached(ServiceError):
    """An account limit would be passed."""

    def __init__(self, *, what: str, used: int, limit: int):
        self.used, self.limit = used, limit
        super().__init__(
            _(
                "This account has %(used)s of %(limit)s %(what)s, its limit. "
                "Delete one, or ask for a higher limit."
            )
            % {"used": used, "limit": limit, "what": what}
        )
