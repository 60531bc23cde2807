"""Plain-SQL reads and inserts for the few statements that run for every API call and SMTP message.

The ORM spends longer building these statements than the database spends running them (cProfile: about
0.7 ms to compile a two-table SELECT and 0.4 ms per bulk INSERT, against 0.05 ms to run either). Here the
SQL is built once per process from the models' own metadata, so it follows the models and their
migrations, and rows become model instances through `Model.from_db` with the backend's converters, as a
queryset would build them. Use it only on hot paths; everywhere else the ORM reads better.
"""

from collections.abc import Sequence
from functools import lru_cache
from typing import Any, TypeVar, cast

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model

M = TypeVar("M", bound=Model)

# Keyed by the connection wrapper (one per thread): converters are the backend's bound methods.
_per_connection = lru_cache(maxsize=512)


@_per_connection
def _columns(model: type[Model], alias: str, connection) -> tuple[list[str], list, list[str]]:
    """The model's concrete columns as `alias.column` SQL, their (col, converters) and attnames."""
    quote = connection.ops.quote_name
    fields: Any = model._meta.concrete_fields  # concrete Fields (the stubs type them loosely)
    sql = [f"{alias}.{quote(f.column)}" for f in fields]
    converting = []
    for field in fields:
        col = field.get_col(alias)
        converters = connection.ops.get_db_converters(col) + field.get_db_converters(connection)
        converting.append((col, converters))
    return sql, converting, [f.attname for f in fields]


def _instance(connection, model: type[Model], alias: str, values) -> Model:
    _sql, converting, attnames = _columns(model, alias, connection)
    converted = []
    for value, (col, converters) in zip(values, converting, strict=True):
        for converter in converters:
            value = converter(value, col, connection)
        converted.append(value)
    return model.from_db(connection.alias, attnames, converted)


@_per_connection
def _select_sql(model: type[Model], related: tuple[str, ...], where: str, connection) -> str:
    quote = connection.ops.quote_name
    columns = list(_columns(model, "t0", connection)[0])
    joins = []
    for number, name in enumerate(related, start=1):
        field: Any = model._meta.get_field(name)  # a ForeignKey: its related model is a class
        related_model = field.related_model
        columns += _columns(related_model, f"t{number}", connection)[0]
        joins.append(
            f"INNER JOIN {quote(related_model._meta.db_table)} t{number} "
            f"ON t{number}.{quote(related_model._meta.pk.column)} = t0.{quote(field.column)}"
        )
    return (
        f"SELECT {', '.join(columns)} FROM {quote(model._meta.db_table)} t0 "  # noqa: S608 - model metadata
        f"{' '.join(joins)} WHERE {where}"
    )


def select_one(model: type[M], where: str, params: list, related: tuple[str, ...] = ()) -> M | None:
    """The one row of `model` matching `where` (SQL over table alias t0, parameters as %s), with the
    non-null foreign keys named in `related` joined and cached as select_related would, or None.

    `where` must pick at most one row (a unique key): only the first is read.
    """
    connection = connections[DEFAULT_DB_ALIAS]
    sql = _select_sql(model, related, where, connection)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    width = len(model._meta.concrete_fields)
    instance = cast(M, _instance(connection, model, "t0", row[:width]))
    start = width
    for number, name in enumerate(related, start=1):
        field: Any = model._meta.get_field(name)
        related_width = len(field.related_model._meta.concrete_fields)
        values = row[start : start + related_width]
        field.set_cached_value(instance, _instance(connection, field.related_model, f"t{number}", values))
        start += related_width
    return instance


@_per_connection
def _insert_sql(model: type[Model], rows: int, connection) -> str:
    quote = connection.ops.quote_name
    fields = [f for f in model._meta.concrete_fields if f is not model._meta.pk]
    one = f"({', '.join(['%s'] * len(fields))})"
    return (
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "  # noqa: S608
        f"VALUES {', '.join([one] * rows)} RETURNING {quote(model._meta.pk.column)}"
    )


def insert(objs: Sequence[Model]) -> None:
    """INSERT new instances of one model with an auto primary key and set their pks, like bulk_create
    (field defaults, pre_save such as auto_now_add, foreign keys to objects saved just before)."""
    if not objs:
        return
    connection = connections[DEFAULT_DB_ALIAS]
    model = type(objs[0])
    fields = [f for f in model._meta.concrete_fields if f is not model._meta.pk]
    size = max(1, connection.ops.bulk_batch_size(fields, objs))
    with connection.cursor() as cursor:
        for start in range(0, len(objs), size):
            chunk = objs[start : start + size]
            params = []
            for obj in chunk:
                obj._prepare_related_fields_for_save(operation_name="insert")  # type: ignore[attr-defined]
                for field in fields:
                    params.append(field.get_db_prep_save(field.pre_save(obj, add=True), connection))
            cursor.execute(_insert_sql(model, len(chunk), connection), params)
            for obj, (pk,) in zip(chunk, cursor.fetchall(), strict=True):
                obj.pk = pk
                obj._state.adding = False
                obj._state.db = connection.alias
