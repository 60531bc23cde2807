"""Reading an action's parameters as DirectMail does: every refusal names the parameter at fault.

Also the shapes the responses share: DirectMail's time format, paging by page number, paging by an opaque
`NextStart` cursor, and lookups of an account's objects by their numeric API id (another account's id is
simply not found).
"""

import json
from contextlib import contextmanager
from datetime import datetime
from typing import TypeVar, overload
from zoneinfo import ZoneInfo

from django.core import signing
from django.db.models import Model, QuerySet

from accounts.errors import LimitReached, ServiceError
from sending.api.auth import ApiError

MAX_PAGE_SIZE = 100
_CURSOR_SALT = "sending.api.next_start"

M = TypeVar("M", bound=Model)


class Params:
    """A call's parameters. Every accessor notes the name it was asked for in `read`: the API's contract
    test holds that a handler reads every parameter the SDK can send it (none is dropped in silence)."""

    def __init__(self, raw: dict[str, str]):
        self.raw = raw
        self.read: set[str] = set()

    def has(self, name: str) -> bool:
        self.read.add(name)
        return name in self.raw

    def text(self, name: str, *, required: bool = False, max_length: int | None = None) -> str:
        self.read.add(name)
        value = self.raw.get(name, "")
        if required and not value.strip():
            raise ApiError("MissingParameter", f"{name} is mandatory for this action.")
        if max_length is not None and len(value) > max_length:
            raise ApiError("InvalidParameter", f"{name} is at most {max_length} characters.")
        return value

    @overload
    def integer(
        self, name: str, *, default: int, minimum: int | None = None, maximum: int | None = None
    ) -> int: ...

    @overload
    def integer(
        self, name: str, *, default: None = None, minimum: int | None = None, maximum: int | None = None
    ) -> int | None: ...

    def integer(
        self, name: str, *, default: int | None = None, minimum: int | None = None, maximum: int | None = None
    ) -> int | None:
        self.read.add(name)
        value = self.raw.get(name, "").strip()
        if not value:
            if default is None:
                raise ApiError("MissingParameter", f"{name} is mandatory for this action.")
            return default
        try:
            number = int(value)
        except ValueError as exc:
            raise ApiError("InvalidParameter", f"{name} must be a whole number, not {value!r}.") from exc
        if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
            raise ApiError("InvalidParameter", f"{name} must be between {minimum} and {maximum}.")
        return number

    def boolean(self, name: str, *, default: bool = False) -> bool:
        self.read.add(name)
        value = self.raw.get(name, "").strip().lower()
        if not value:
            return default
        if value in ("true", "1"):
            return True
        if value in ("false", "0"):
            return False
        raise ApiError("InvalidParameter", f"{name} must be true or false.")

    def json(self, name: str, *, required: bool = False, kind: type = dict):
        value = self.text(name, required=required)
        if not value:
            return kind()
        try:
            parsed = json.loads(value)
        except ValueError as exc:
            raise ApiError("InvalidParameter", f"{name} is not valid JSON.") from exc
        if not isinstance(parsed, kind):
            noun = "an object" if kind is dict else "an array"
            raise ApiError("InvalidParameter", f"{name} must be a JSON {noun}.")
        return parsed

    def time(self, name: str, fmt: str, zone: str, *, required: bool = False) -> datetime | None:
        """A local time in the account's zone, in DirectMail's format ("yyyy-MM-dd" or "yyyy-MM-dd HH:mm")."""
        value = self.text(name, required=required).strip()
        if not value:
            return None
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=ZoneInfo(zone))
        except ValueError as exc:
            shown = fmt.replace("%Y", "yyyy").replace("%m", "MM").replace("%d", "dd")
            shown = shown.replace("%H", "HH").replace("%M", "mm")
            raise ApiError("InvalidParameter", f"{name} must look like {shown}, not {value!r}.") from exc

    def page(self, queryset: QuerySet, *, default_size: int = 10) -> tuple[list, dict]:
        """Page `queryset` by PageNo (from 1) and PageSize (1-100); DirectMail's paging fields."""
        number = self.integer("PageNo", default=1, minimum=1, maximum=10**6)
        size = self.integer("PageSize", default=default_size, minimum=1, maximum=MAX_PAGE_SIZE)
        total = queryset.count()
        items = list(queryset[(number - 1) * size : number * size])
        return items, {"TotalCount": total, "PageNumber": number, "PageSize": size}

    def after_cursor(
        self, queryset: QuerySet, *, default_length: int = 100, size_param: str = "Length"
    ) -> tuple[list, str]:
        """Page `queryset` (newest first by id) with Length (or `size_param`) and an opaque NextStart; ""
        when none is left."""
        length = self.integer(size_param, default=default_length, minimum=1, maximum=MAX_PAGE_SIZE)
        start = self.text("NextStart").strip()
        if start:
            try:
                last = int(signing.loads(start, salt=_CURSOR_SALT))
            except (signing.BadSignature, TypeError, ValueError) as exc:
                raise ApiError(
                    "InvalidParameter", "NextStart is not a value a previous call returned."
                ) from exc
            queryset = queryset.filter(pk__lt=last)
        rows = list(queryset.order_by("-pk")[: length + 1])
        more = len(rows) > length
        rows = rows[:length]
        return rows, signing.dumps(rows[-1].pk, salt=_CURSOR_SALT) if more else ""


def by_api_id(queryset: QuerySet[M], params: Params, name: str, code: str, noun: str) -> M:
    """The object whose API id the parameter `name` gives, among the caller's own; else `code` (404)."""
    api_id = params.integer(name)
    found = queryset.filter(api_id=api_id).first()
    if found is None:
        raise ApiError(code, f"The specified {noun} {api_id} does not exist.", 404)
    return found


def dm_time(moment: datetime | None, zone: str) -> str:
    """DirectMail's time format, "2026-01-31T09:30Z", in the account's zone (DirectMail shows local time)."""
    if moment is None:
        return ""
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%MZ")


def epoch(moment: datetime | None) -> int:
    return int(moment.timestamp()) if moment else 0


@contextmanager
def refused(param: str = "", code: str = "InvalidParameter"):
    """Turn a service's refusal into DirectMail's error (its own code, else `code`) naming the parameter
    (`param`, else the one the service named)."""
    try:
        yield
    except LimitReached as error:
        raise ApiError("LimitExceeded", str(error)) from error
    except ServiceError as error:
        code = getattr(error, "code", None) or code
        param = param or getattr(error, "param", "")
        status = 404 if code.endswith(".NotFound") else 400
        raise ApiError(code, f"{param}: {error}" if param else str(error), status) from error
