"""Migration operations that behave right on both databases we run on."""

from typing import Any

from django.contrib.postgres.operations import AddIndexConcurrently


class AddIndexWithoutLocking(AddIndexConcurrently):
    """An index on a big, busy table: PostgreSQL builds it CONCURRENTLY (writes go on while it does;
    the migration must say `atomic = False`), SQLite as a plain CREATE INDEX (its one writer waits)."""

    def database_forwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)
            return
        model = to_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            schema_editor.add_index(model, self.index)

    def database_backwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)
            return
        model = from_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            schema_editor.remove_index(model, self.index)
