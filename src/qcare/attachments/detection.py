"""What a file really is, from its bytes (magic numbers), not from its name.

Binary formats are recognised by the ``filetype`` package (pure Python, no libmagic);
text formats have no magic number, so they are accepted only if the bytes decode as
UTF-8 or GB18030 (GBK's superset, what Chinese Excel writes for CSV) with no NUL bytes.
"""

import io
import os
import zipfile

import filetype

#: Detected type → extensions that may carry it.
ALLOWED = {
    "application/pdf": {".pdf"},
    "image/png": {".png"},
    "image/jpeg": {".jpg", ".jpeg"},
    "image/gif": {".gif"},
    "image/webp": {".webp"},
    "application/zip": {".zip"},
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": {".docx"},
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {".xlsx"},
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": {".pptx"},
    "application/x-ole-storage": {".doc", ".xls", ".ppt", ".msg"},
    "text/plain": {".txt", ".log"},
    "text/csv": {".csv"},
    "message/rfc822": {".eml"},
}

_OFFICE_BY_EXT = {
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
_TEXT_BY_EXT = {".csv": "text/csv", ".eml": "message/rfc822"}
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .doc/.xls/.msg (not in ``filetype``)
HEAD_BYTES = 8192


def extension_of(name):
    return os.path.splitext(name)[1].lower()


def detect(head, name, fileobj=None):
    """The MIME type of the content, or None if it is not an accepted kind of file.

    ``head`` is the first bytes; ``fileobj`` (seekable) lets Office files be confirmed by
    their zip directory, since a .docx is a zip whose first entry is not always telling.
    """
    ext = extension_of(name)
    if head.startswith(_OLE2):
        return "application/x-ole-storage"
    kind = filetype.guess(head)
    if kind is not None:
        mime = kind.mime
        if mime == "application/zip" and ext in _OFFICE_BY_EXT and _is_office_zip(fileobj):
            return _OFFICE_BY_EXT[ext]
        return mime if mime in ALLOWED else None
    if _is_text(head):
        return _TEXT_BY_EXT.get(ext, "text/plain")
    return None


def _is_office_zip(fileobj):
    if fileobj is None:
        return False
    try:
        fileobj.seek(0)
        with zipfile.ZipFile(fileobj) as archive:
            return "[Content_Types].xml" in archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return False
    finally:
        fileobj.seek(0)


def _is_text(head):
    if not head or b"\x00" in head:
        return False
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            # The head may cut a multi-byte character in two: ignore only the last 3 bytes.
            head.decode(encoding)
            return True
        except UnicodeDecodeError as error:
            if error.start >= len(head) - 3:
                return True
    return False


def extension_matches(mime, name):
    return extension_of(name) in ALLOWED.get(mime, set())


def as_stream(data):
    return io.BytesIO(data)
