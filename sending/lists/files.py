"""An import's files in the database, in 1 MB chunks: written and read as streams, never whole.

Kept in the database rather than in DATA_DIR so that a worker on another host reads what a web process
received. `ChunkReader` is a raw binary stream over the chunks for io.TextIOWrapper and csv.
"""

import io

from django.db.models import Sum
from django.db.models.functions import Length

from sending.models import ImportFileChunk, RecipientImport

CHUNK = 1024 * 1024


def store_stream(recipient_import: RecipientImport, kind: str, pieces) -> int:
    """Store the byte strings of `pieces` (any sizes) as chunks of `kind`; returns the bytes stored."""
    buffer, seq, total = bytearray(), 0, 0
    for piece in pieces:
        buffer += piece
        total += len(piece)
        while len(buffer) >= CHUNK:
            _chunk(recipient_import, kind, seq, bytes(buffer[:CHUNK]))
            del buffer[:CHUNK]
            seq += 1
    if buffer:
        _chunk(recipient_import, kind, seq, bytes(buffer))
    return total


def _chunk(recipient_import: RecipientImport, kind: str, seq: int, data: bytes) -> None:
    ImportFileChunk.objects.create(recipient_import=recipient_import, kind=kind, seq=seq, data=data)


def read_chunks(recipient_import: RecipientImport, kind: str):
    """The chunks' bytes in order, one query each (a chunk at a time in memory)."""
    seqs = (
        ImportFileChunk.objects.filter(recipient_import=recipient_import, kind=kind)
        .order_by("seq")
        .values_list("seq", flat=True)
    )
    for seq in list(seqs):
        data = (
            ImportFileChunk.objects.filter(recipient_import=recipient_import, kind=kind, seq=seq)
            .values_list("data", flat=True)
            .get()
        )
        yield bytes(data)


class ChunkReader(io.RawIOBase):
    """A readable binary stream over an import's chunks; `position` counts the bytes read so far."""

    def __init__(self, recipient_import: RecipientImport, kind: str = ImportFileChunk.Kind.UPLOAD):
        self._chunks = read_chunks(recipient_import, kind)
        self._current = memoryview(b"")
        self.position = 0

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        while not self._current:
            try:
                self._current = memoryview(next(self._chunks))
            except StopIteration:
                return 0
        size = min(len(target), len(self._current))
        target[:size] = self._current[:size]
        self._current = self._current[size:]
        self.position += size
        return size


def delete_chunks(recipient_import: RecipientImport, kind: str | None = None) -> None:
    chunks = ImportFileChunk.objects.filter(recipient_import=recipient_import)
    if kind:
        chunks = chunks.filter(kind=kind)
    chunks.delete()


def stored_uploads(account) -> int:
    """The bytes of uploaded files an account's imports keep (waiting for their columns, or running)."""
    chunks = ImportFileChunk.objects.filter(
        recipient_import__account=account, kind=ImportFileChunk.Kind.UPLOAD
    )
    total = chunks.aggregate(total=Sum(Length("data")))["total"]
    return int(total or 0)
