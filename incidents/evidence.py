"""Evidence files: what a file is (sniffed from its bytes, never from its name), what it may be called,
and a reader that hashes, meters and checks an upload while it streams into storage.

Pure functions and small classes only; the service (incidents.services.evidence_add) decides."""

from __future__ import annotations

import codecs
import hashlib
import unicodedata
from collections.abc import Iterator
from pathlib import PurePosixPath

from django.core.files import File

from core.errors import PayloadTooLarge, UnsupportedMediaType

# How much of the file `sniff_type` looks at.
SNIFF_BYTES = 8192

PDF = "application/pdf"
PNG = "image/png"
JPEG = "image/jpeg"
GIF = "image/gif"
ZIP = "application/zip"
GZIP = "application/gzip"
PCAP = "application/vnd.tcpdump.pcap"
PCAPNG = "application/x-pcapng"
JSON = "application/json"
TEXT = "text/plain"
ELF = "application/x-elf"
PE = "application/vnd.microsoft.portable-executable"
MACH_O = "application/x-mach-binary"
EMPTY = "application/x-empty"
UNKNOWN = "application/octet-stream"

ACCEPTED_TYPES = frozenset({PDF, PNG, JPEG, GIF, ZIP, GZIP, PCAP, PCAPNG, JSON, TEXT})
EXECUTABLE_TYPES = frozenset({ELF, PE, MACH_O})
TEXT_TYPES = frozenset({JSON, TEXT})

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x7fELF", ELF),
    (b"\xfe\xed\xfa\xce", MACH_O),
    (b"\xfe\xed\xfa\xcf", MACH_O),
    (b"\xce\xfa\xed\xfe", MACH_O),
    (b"\xcf\xfa\xed\xfe", MACH_O),
    (b"\xca\xfe\xba\xbe", MACH_O),  # universal (fat) binary; also a Java class file: code either way
    (b"%PDF-", PDF),
    (b"\x89PNG\r\n\x1a\n", PNG),
    (b"\xff\xd8\xff", JPEG),
    (b"GIF87a", GIF),
    (b"GIF89a", GIF),
    (b"PK\x03\x04", ZIP),  # also Inspect AI .eval logs
    (b"PK\x05\x06", ZIP),  # an empty archive
    (b"PK\x07\x08", ZIP),  # a spanned archive
    (b"\x1f\x8b", GZIP),
    (b"\xd4\xc3\xb2\xa1", PCAP),
    (b"\xa1\xb2\xc3\xd4", PCAP),
    (b"\x4d\x3c\xb2\xa1", PCAP),  # nanosecond timestamps
    (b"\xa1\xb2\x3c\x4d", PCAP),
    (b"\x0a\x0d\x0d\x0a", PCAPNG),
)
# C0 controls that do not occur in text or terminal transcripts (BEL, BS, TAB, LF, VT, FF, CR and ESC do).
_BINARY_CONTROLS = frozenset(bytes(range(0x00, 0x07)) + bytes(range(0x0E, 0x1B)) + bytes(range(0x1C, 0x20)))
_BOM = b"\xef\xbb\xbf"


def _is_utf8_text(head: bytes) -> bool:
    if any(byte in _BINARY_CONTROLS for byte in head):
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # The head may stop inside a multi-byte character: only an error in the last 3 bytes is forgiven.
        return exc.reason == "unexpected end of data" and exc.start >= len(head) - 3
    return True


def sniff_type(head: bytes) -> str:
    """The MIME type of a file from its first bytes (at least SNIFF_BYTES of them, or the whole file).

    Answers one of ACCEPTED_TYPES, one of EXECUTABLE_TYPES, EMPTY, or UNKNOWN (unrecognised binary)."""
    if not head:
        return EMPTY
    for magic, mime in _MAGIC:
        if head.startswith(magic):
            return mime
    text = _is_utf8_text(head)
    if head.startswith(b"MZ") and not text:  # a DOS/PE header is binary; a log line starting "MZ" is not
        return PE
    if not text:
        return UNKNOWN
    stripped = head.removeprefix(_BOM).lstrip(b" \t\r\n")
    return JSON if stripped[:1] in (b"{", b"[") else TEXT


# What a file name's extension claims. Executables and archives of code claim a type no bytes we accept
# can have, so such a name never passes.
_CODE = "application/x-executable-by-name"
EXTENSION_TYPES: dict[str, str] = {
    ".pdf": PDF,
    ".png": PNG,
    ".jpg": JPEG,
    ".jpeg": JPEG,
    ".gif": GIF,
    ".zip": ZIP,
    ".eval": ZIP,
    ".gz": GZIP,
    ".tgz": GZIP,
    ".pcap": PCAP,
    ".cap": PCAP,
    ".pcapng": PCAPNG,
    ".json": JSON,
    ".jsonl": TEXT,
    ".ndjson": TEXT,
    ".txt": TEXT,
    ".log": TEXT,
    ".md": TEXT,
    ".csv": TEXT,
    ".yaml": TEXT,
    ".yml": TEXT,
    **dict.fromkeys((".exe", ".dll", ".scr", ".msi", ".com", ".sys", ".so", ".dylib", ".elf"), _CODE),
    **dict.fromkeys((".jar", ".apk", ".app"), _CODE),
}


def _family(mime: str) -> str:
    if mime in TEXT_TYPES:
        return "text"  # a .txt holding JSON, or a .json log, is the same kind of thing
    if mime in (PCAP, PCAPNG):
        return "capture"  # tools write pcapng under a .pcap name
    return mime


def name_contradicts(file_name: str, sniffed: str) -> str | None:
    """The type the file name's extension claims when it contradicts the sniffed type, else None
    (an unknown extension claims nothing)."""
    claimed = EXTENSION_TYPES.get(PurePosixPath(file_name).suffix.lower())
    if claimed is None or _family(claimed) == _family(sniffed):
        return None
    return claimed


_WINDOWS_RESERVED = frozenset('<>:"|?*')
MAX_NAME = 255


def safe_file_name(name: str, default: str = "evidence") -> str:
    """A display name for a client's file name: no directories (either separator), no control, format
    (bidi override) or Windows-reserved characters, no leading dots, at most 255 characters with the
    extension kept. Never used to build a storage key."""
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(
        char
        for char in name
        if char not in _WINDOWS_RESERVED and unicodedata.category(char) not in ("Cc", "Cf", "Cs", "Zl", "Zp")
    )
    name = name.strip().lstrip(".").rstrip(". ")
    if not name:
        return default
    if len(name) > MAX_NAME:
        path = PurePosixPath(name)
        suffix = path.suffix if len(path.suffix) <= 16 else ""
        name = path.name[: MAX_NAME - len(suffix)] + suffix
    return name


class MeteredUpload(File):
    """Wraps an upload for `Storage.save`: yields its chunks while computing the SHA-256 and the size,
    refusing more than `limit` bytes (413) and, for a text type, anything that is not NUL-free UTF-8 (415).

    It deliberately has no `temporary_file_path`, so a file system storage streams it instead of moving
    the temporary file unchecked."""

    def __init__(self, upload: File, *, limit: int, text: bool) -> None:
        super().__init__(upload.file, name=upload.name)
        self._upload = upload
        self._limit = limit
        self._decoder = codecs.getincrementaldecoder("utf-8")() if text else None
        self.digest = hashlib.sha256()
        self.bytes_read = 0

    @property
    def sha256(self) -> str:
        return self.digest.hexdigest()

    def chunks(self, chunk_size: int | None = None) -> Iterator[bytes]:
        for chunk in self._upload.chunks(chunk_size):
            self.bytes_read += len(chunk)
            if self.bytes_read > self._limit:
                raise PayloadTooLarge(
                    f"The file exceeds the evidence limit of {self._limit} bytes.", code="evidence_too_large"
                )
            if self._decoder is not None:
                self._check_text(chunk, final=False)
            self.digest.update(chunk)
            yield chunk
        if self._decoder is not None:
            self._check_text(b"", final=True)

    def _check_text(self, chunk: bytes, *, final: bool) -> None:
        assert self._decoder is not None
        try:
            self._decoder.decode(chunk, final=final)
        except UnicodeDecodeError as exc:
            raise _not_text() from exc
        if b"\x00" in chunk:
            raise _not_text()


def _not_text() -> UnsupportedMediaType:
    return UnsupportedMediaType(
        "The file starts as text but is not UTF-8 text throughout.", code="unsupported_evidence_type"
    )
