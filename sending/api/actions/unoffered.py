"""Actions of the DirectMail SDK this server answers with a clear refusal instead of "not found".

Sendify is another Alibaba Cloud product (a marketing suite sold through DirectMail's console): it is not
offered here. Validation files come with the rest of address validation (docs/api.md marks it); until
then a call says so, naming what it asked.
"""

from sending.api.actions import action
from sending.api.auth import ApiError, Caller
from sending.api.params import Params

SENDIFY = ("GetSendifyAutoLoginURL", "GetSendifyInfo", "OpenSendifyTrialService")
# The validation files (sending.api.actions.validation answers single addresses and the quota).
VALIDATION = (
    "SendValidateFile", "GetValidateFile", "GetValidateFileStatus", "ListValidateFile", "DeleteValidateFile",
)  # fmt: skip


def _refuse(code: str, message: str, status: int):
    def handler(caller: Caller, p: Params) -> dict:
        raise ApiError(code, message.format(action=caller.action), status)

    return handler


for _name in SENDIFY:
    action(_name)(
        _refuse("InvalidAction.NotOffered", "{action}: Sendify is not offered by this server.", 400)
    )
for _name in VALIDATION:
    action(_name)(
        _refuse(
            "InvalidAction.NotYetAvailable",
            "{action}: validation files are not available on this server yet.",
            501,
        )
    )
