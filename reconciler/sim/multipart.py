"""A minimal ``multipart/form-data`` reader for the ``parse_ppt_file`` upload.

The stdlib ``cgi`` module is deprecated (gone in 3.13) and the ``email`` parser is not
byte-exact for binary parts, so this splits on the boundary itself. It only needs to
read well-formed bodies as sent by HTTP clients; anything else is "PPT missing".
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message


@dataclass(frozen=True)
class Part:
    name: str
    filename: str | None
    content_type: str | None
    data: bytes


def _params(header_value: str, header: str) -> Message:
    msg = Message()
    msg[header] = header_value
    return msg


def boundary_of(content_type: str) -> str | None:
    msg = _params(content_type, "content-type")
    if msg.get_content_type() != "multipart/form-data":
        return None
    boundary = msg.get_param("boundary")
    return boundary if isinstance(boundary, str) and boundary else None


def parse(body: bytes, content_type: str) -> list[Part]:
    """The parts of a multipart/form-data body ([] when it is not one)."""
    boundary = boundary_of(content_type or "")
    if boundary is None:
        return []
    delimiter = b"\r\n--" + boundary.encode("latin-1")
    chunks = (b"\r\n" + body).split(delimiter)
    parts: list[Part] = []
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break
        if chunk.startswith(b"\r\n"):
            chunk = chunk[2:]
        head, sep, data = chunk.partition(b"\r\n\r\n")
        if not sep:
            continue
        headers = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            key, colon, value = line.partition(":")
            if colon:
                headers[key.strip().lower()] = value.strip()
        disposition = _params(headers.get("content-disposition", ""), "content-disposition")
        name = disposition.get_param("name", header="content-disposition")
        filename = disposition.get_filename()
        if isinstance(name, str):
            parts.append(Part(name, filename, headers.get("content-type"), data))
    return parts
