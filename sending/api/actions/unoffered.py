"""Actions of the DirectMail SDK this server answers with a clear refusal instead of "not found".

Sendify is another Alibaba Cloud product (a marketing suite sold through DirectMail's console): it is not
offered here.
"""

from sending.api.actions import action
from sending.api.auth import ApiError, Caller
from sending.api.params import Params

SENDIFY = ("GetSendifyAutoLoginURL", "GetSendifyInfo", "OpenSendifyTrialService")


def _refuse(code: str, message: str, status: int):
    def handler(caller: Caller, p: Params) -> dict:
        raise ApiError(code, message.format(action=caller.action), status)

    return handler


for _name in SENDIFY:
    action(_name)(
        _refuse("InvalidAction.NotOffered", "{action}: Sendify is not offered by this server.", 400)
    )
