"""A multipart upload parsed while it streams in, the file part written straight to disk with a
size limit (python-multipart's push parser): a request past the limit is refused as soon as it
passes it, and its partial file is deleted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

__all__ = ["Upload", "UploadError", "receive_upload"]

_MAX_FIELD_BYTES = 1024
_MAX_FIELDS = 16


class UploadError(Exception):
    """An upload that cannot be accepted: an HTTP ``status`` and a one-line ``message``."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(message)


@dataclass
class Upload:
    """What the form held: the file part's name and size (its bytes are at the target path) and
    the other fields."""

    filename: str | None = None
    size: int = 0
    fields: dict[str, str] = field(default_factory=dict)


class _Collector:
    """python-multipart callbacks: headers per part, the ``file`` part to disk, small fields in memory."""

    def __init__(self, file_field: str, target: Path, limit: int) -> None:
        self.file_field = file_field
        self.target = target
        self.limit = limit
        self.upload = Upload()
        self._headers: dict[bytes, bytes] = {}
        self._header_name = b""
        self._header_value = b""
        self._name: str | None = None
        self._out: BinaryIO | None = None
        self._value = bytearray()
        self._files = 0

    def on_part_begin(self) -> None:
        self._headers, self._header_name, self._header_value = {}, b"", b""
        self._value = bytearray()
        self._name = None

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[self._header_name.lower()] = self._header_value
        self._header_name, self._header_value = b"", b""

    def on_headers_finished(self) -> None:
        from python_multipart.multipart import parse_options_header

        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        if self._name == self.file_field and filename is not None:
            self._files += 1
            if self._files > 1:
                raise UploadError(400, f"send exactly one file in the field {self.file_field!r}")
            self.upload.filename = filename.decode("utf-8", "replace")
            self._out = self.target.open("wb")
        elif len(self.upload.fields) >= _MAX_FIELDS:
            raise UploadError(400, "too many form fields")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._out is not None:
            self.upload.size += end - start
            if self.upload.size > self.limit:
                raise UploadError(413, f"the file is larger than the upload limit ({self.limit} bytes)")
            self._out.write(data[start:end])
        else:
            self._value += data[start:end]
            if len(self._value) > _MAX_FIELD_BYTES:
                raise UploadError(400, f"form field {self._name!r} is too long")

    def on_part_end(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None
        elif self._name:
            self.upload.fields[self._name] = self._value.decode("utf-8", "replace")

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None


async def receive_upload(
    content_type: str, chunks: AsyncIterator[bytes], target: Path, limit: int, file_field: str = "file"
) -> Upload:
    """Parse a ``multipart/form-data`` body from ``chunks``, the ``file_field`` part into ``target``.

    Raises:
        UploadError: not multipart (415), malformed (400), no file (400) or more than ``limit``
            bytes of file (413); ``target`` is deleted then.
    """
    from python_multipart.exceptions import MultipartParseError
    from python_multipart.multipart import MultipartParser, parse_options_header

    kind, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise UploadError(415, "send the file as multipart/form-data in the field 'file'")
    collector = _Collector(file_field, target, limit)
    callbacks = {
        name: getattr(collector, name)
        for name in (
            "on_part_begin",
            "on_part_data",
            "on_part_end",
            "on_header_field",
            "on_header_value",
            "on_header_end",
            "on_headers_finished",
        )
    }
    parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
    try:
        async for chunk in chunks:
            parser.write(chunk)
        parser.finalize()
    except UploadError:
        collector.close()
        target.unlink(missing_ok=True)
        raise
    except MultipartParseError as error:
        collector.close()
        target.unlink(missing_ok=True)
        raise UploadError(400, f"malformed multipart body ({error})") from None
    collector.close()
    if collector.upload.filename is None:
        target.unlink(missing_ok=True)
        raise UploadError(400, f"no file in the form field {file_field!r}")
    return collector.upload
