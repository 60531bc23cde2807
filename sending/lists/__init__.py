"""Recipient lists beyond their models: field rules, file storage, format detection and the import task.

`fields` checks one recipient (console, API and import alike), `files` keeps uploads and reports in the
database, `detect` reads a file's encoding, delimiter and columns, `importer` applies an import whole or
not at all. Creating and changing lists and recipients goes through `sending.services.lists`.
"""
