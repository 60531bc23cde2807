"""The API's actions by DirectMail name. Each module registers its handlers with `@action`.

A handler takes the authenticated Caller and its Params and returns the response fields after RequestId;
it refuses with ApiError. A sending handler only checks (reads) and returns a function that stores the
mail and returns those fields: the endpoint calls it inside the call's one transaction.

Handlers call the same services as the console, so limits and the audit log are
the same whichever door a change came through.
"""

from collections.abc import Callable
from dataclasses import dataclass

from accounts.audit import Actor
from sending.api.auth import Caller
from sending.api.params import Params

Handler = Callable[[Caller, Params], dict | Callable[[], dict]]


@dataclass(frozen=True)
class Action:
    name: str
    handler: Handler
    sending: bool  # rate-limited and idempotent (IP protection guards every action)


ACTIONS: dict[str, Action] = {}


def action(name: str, *, sending: bool = False) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        ACTIONS[name] = Action(name, handler, sending)
        return handler

    return register


def actor(caller: Caller) -> Actor:
    """Who the audit log names for an API call: the access key and the address it came from."""
    return Actor(key_id=caller.key.key_id, ip=caller.ip)


def load() -> None:
    """Import every module of actions here (they register themselves). Apps above `sending` register
    theirs in their AppConfig.ready (stats: the statistics actions)."""
    from sending.api.actions import (  # noqa: F401
        account,
        egress,
        identities,
        receivers,
        reports,
        sending,
        suppressions,
        templates,
        unoffered,
        validation,
    )
