"""The hostile input corpus (issue 8 item 4): malformed, oversized, deeply nested, mis-encoded and
mis-typed requests over the API, the uploads and TAXII. Every case is a 4xx problem+json (a TAXII error
message under /taxii2/), never a 500; a few are answered 2xx because the contract says so (search input
without words matches nothing), and are marked as such. Each case is timed against a trivial API request
of the same run: at most RATIO_LIMIT times its median, never an absolute time."""

from __future__ import annotations

import gzip
import io
import json
import stat
import statistics
import time
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from rest_framework.test import APIClient

from core.models import AuditEvent
from incidents.models import Incident, IncidentRevision
from registry.models import EvaluationResult, FrontierModel
from tests.security.world import World

TAXII = "application/taxii+json;version=2.1"
RATIO_LIMIT = 50  # a case may cost at most this many trivial requests
VALID_INCIDENT = {
    "record_class": "real_world_incident",
    "title": "Hostile corpus control",
    "description": "A replica.",
    "submitter_capacity": "provider",
    "instruction_provenance": "uninstructed",
}
ELF = b"\x7fELF\x02\x01\x01" + b"\x00" * 200
PE = b"MZ" + b"\x00" * 58 + b"\x80\x00\x00\x00" + b"\x00" * 64 + b"PE\x00\x00" + b"\x00" * 100


@dataclass(frozen=True)
class Hostile:
    name: str
    method: str
    path: str  # {amber}: the TLP:AMBER report; {collection}, {inbound}: TAXII collections
    role: str = "key_lab_admin"
    body: bytes | None = None
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    files: Callable[[], dict[str, Any]] | None = None  # multipart
    expect: tuple[int, ...] = ()  # empty: any 4xx
    contract_2xx: bool = False  # the contract answers this with a 2xx (and says why)


def _zip(
    entries: list[tuple[str | zipfile.ZipInfo, bytes]], compression: int = zipfile.ZIP_DEFLATED
) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return buffer.getvalue()


def _symlink_zip() -> bytes:
    info = zipfile.ZipInfo("header.json")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return _zip([(info, b"/etc/passwd"), ("_journal/start.json", b"{}")])


def _bomb_zip() -> bytes:
    # Past the import's decompression budget (100 MiB), in about 100 KiB.
    size = settings.REDLINE_MAX_IMPORT_UNCOMPRESSED_BYTES + 1
    return _zip([("header.json", b" " * size)])


def _crc_broken_zip() -> bytes:
    raw = bytearray(_zip([("header.json", json.dumps({"version": 2}).encode())]))
    raw[14] ^= 0xFF  # the local header's CRC-32
    central = raw.rfind(b"PK\x01\x02")
    raw[central + 16] ^= 0xFF  # and the central directory's
    return bytes(raw)


def _import(data: bytes | Callable[[], bytes], name: str) -> Callable[[], dict[str, Any]]:
    def files() -> dict[str, Any]:
        return {
            "file": ContentFile(data() if callable(data) else data, name=name),
            "capability_domain": "end_to_end",
            "scenario_type": "instructed_replication_local",
        }

    return files


def _evidence(data: bytes, name: str, **extra: Any) -> Callable[[], dict[str, Any]]:
    def files() -> dict[str, Any]:
        return {"file": ContentFile(data, name=name), "kind": "log", **extra}

    return files


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


def _with(**fields: Any) -> bytes:
    return _json({**VALID_INCIDENT, **fields})


DEEP_ARRAYS = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECTS = b'{"a":' * 50_000 + b"1" + b"}" * 50_000
INCIDENTS = "/api/v1/incidents/"
MODELS = "/api/v1/models/"
IMPORT = "/api/v1/evaluations/import"
EVIDENCE = "/api/v1/incidents/{amber}/evidence"
OBJECTS = "/taxii2/default/collections/{collection}/objects/"
INBOUND = "/taxii2/default/collections/{inbound}/objects/"
LONG = "x" * 10_000

CORPUS: list[Hostile] = [
    # --- JSON bodies ---------------------------------------------------------------------------------------
    Hostile("deep-arrays", "POST", INCIDENTS, body=DEEP_ARRAYS, expect=(400,)),
    Hostile("deep-objects", "POST", INCIDENTS, body=DEEP_OBJECTS, expect=(400,)),
    Hostile(
        "deep-in-a-field",
        "POST",
        INCIDENTS,
        body=_with(title=None)[:-1] + b', "x": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        expect=(400,),
    ),
    Hostile("nul-in-value", "POST", INCIDENTS, body=_with(title="a\u0000b"), expect=(400,)),
    Hostile("nul-in-key", "POST", INCIDENTS, body=b'{"ti\\u0000tle": "x"}', expect=(400,)),
    Hostile("invalid-utf8", "POST", INCIDENTS, body=b'{"title": "\xff\xfe"}', expect=(400,)),
    Hostile("overlong-utf8", "POST", INCIDENTS, body=b'{"title": "\xc0\xaf"}', expect=(400,)),
    Hostile("lone-surrogate", "POST", INCIDENTS, body=b'{"title": "\\ud800"}', expect=(400,)),
    Hostile("utf16-body", "POST", INCIDENTS, body=json.dumps(VALID_INCIDENT).encode("utf-16"), expect=(400,)),
    Hostile("duplicate-keys", "POST", INCIDENTS, body=b'{"title": "a", "title": "b"}', expect=(400,)),
    Hostile(
        "huge-float-1e400",
        "POST",
        MODELS,
        body=b'{"name": "x", "training_compute_flop": 1e400}',
        expect=(400,),
    ),
    Hostile(
        "int-of-1000-digits",
        "POST",
        MODELS,
        body=b'{"name": "x", "parameter_count": ' + b"9" * 1000 + b"}",
        expect=(400,),
    ),
    Hostile(
        "int-of-100k-digits",
        "POST",
        MODELS,
        body=b'{"name": "x", "parameter_count": ' + b"9" * 100_000 + b"}",
        expect=(400, 413),
    ),
    Hostile("nan", "POST", MODELS, body=b'{"name": "x", "parameter_count": NaN}', expect=(400,)),
    Hostile(
        "negative-zero-count",
        "POST",
        "/api/v1/evaluations/",
        body=_json(
            {
                "model": "FM-0000-0000",
                "task": "t",
                "capability_domain": "end_to_end",
                "scenario_type": "instructed_replication_local",
                "n_trials": -0.0,
                "n_successes": 1e308,
            }
        ),
        expect=(400,),
    ),
    Hostile("truncated", "POST", INCIDENTS, body=b'{"title": ', expect=(400,)),
    Hostile("trailing-garbage", "POST", INCIDENTS, body=_json(VALID_INCIDENT) + b" {}", expect=(400,)),
    Hostile("top-level-array", "POST", INCIDENTS, body=b"[]", expect=(400,)),
    Hostile("top-level-string", "POST", INCIDENTS, body=b'"x"', expect=(400,)),
    Hostile("empty-body", "POST", INCIDENTS, body=b"", expect=(400,)),
    Hostile("wrong-types", "POST", INCIDENTS, body=_with(title=["x"], countries="FR", tlp=1), expect=(400,)),
    Hostile("10-mb-body", "POST", INCIDENTS, body=_with(description="x" * (10 * 1024 * 1024)), expect=(413,)),
    Hostile(
        "lying-content-length",
        "POST",
        INCIDENTS,
        body=_json(VALID_INCIDENT),
        headers={"CONTENT_LENGTH": str(10**12)},
        expect=(413,),
    ),
    # Regression: every element was validated before the list's length (a second of CPU).
    Hostile("10k-element-list", "POST", INCIDENTS, body=_with(countries=["FR"] * 10_000), expect=(400,)),
    Hostile(
        "100k-element-nested-list",
        "POST",
        INCIDENTS,
        body=_with(models=[{"model_name": "x", "role": "other"}] * 100_000),
        expect=(400, 413),
    ),
    # --- content types and encodings -----------------------------------------------------------------------
    Hostile(
        "text-plain", "POST", INCIDENTS, body=_json(VALID_INCIDENT), content_type="text/plain", expect=(415,)
    ),
    Hostile("xml", "POST", INCIDENTS, body=b"<incident/>", content_type="application/xml", expect=(415,)),
    Hostile(
        "form-urlencoded",
        "POST",
        INCIDENTS,
        body=b"title=x",
        content_type="application/x-www-form-urlencoded",
        expect=(415,),
    ),
    Hostile(
        "gzip-bomb",
        "POST",
        INCIDENTS,
        body=gzip.compress(b" " * (32 * 1024 * 1024)),
        headers={"HTTP_CONTENT_ENCODING": "gzip"},
        expect=(415,),
    ),
    Hostile(
        "deflate-bomb",
        "POST",
        INCIDENTS,
        body=zlib.compress(b"[" * (16 * 1024 * 1024)),
        headers={"HTTP_CONTENT_ENCODING": "deflate"},
        expect=(415,),
    ),
    # Regression: a claimed coding was ignored and the body read as plain (201 for a "br" body).
    Hostile(
        "brotli-claimed",
        "POST",
        INCIDENTS,
        body=_json(VALID_INCIDENT),
        headers={"HTTP_CONTENT_ENCODING": "br"},
        expect=(415,),
    ),
    Hostile(
        "gzip-on-evidence",
        "POST",
        EVIDENCE,
        files=lambda: {"file": ContentFile(b"x\n", name="a.log")},
        headers={"HTTP_CONTENT_ENCODING": "gzip"},
        expect=(415,),
    ),
    Hostile(
        "gzip-on-taxii",
        "POST",
        INBOUND,
        role="key_regulator",
        body=gzip.compress(b'{"objects": []}'),
        content_type=TAXII,
        headers={"HTTP_CONTENT_ENCODING": "gzip"},
        expect=(415,),
    ),
    # --- other writable endpoints --------------------------------------------------------------------------
    Hostile(
        "patch-nul-title",
        "PATCH",
        "/api/v1/incidents/{amber}",
        body=_json({"title": "\u0000"}),
        expect=(400,),
    ),
    Hostile("patch-deep", "PATCH", "/api/v1/incidents/{amber}", body=DEEP_OBJECTS, expect=(400,)),
    Hostile(
        "assessment-huge-notes",
        "PUT",
        "/api/v1/incidents/{amber}/assessments/mine",
        role="lead_regulator",
        body=_json({"verdict": "inconclusive", "notes": "x" * 30_000}),
        expect=(400,),
    ),
    Hostile(
        "comment-10-mb",
        "POST",
        "/api/v1/incidents/{amber}/comments",
        body=_json({"visibility": "shared", "body": "x" * (10 * 1024 * 1024)}),
        expect=(413,),
    ),
    Hostile(
        "webhook-url-nul",
        "POST",
        "/api/v1/webhooks/",
        body=_json({"url": "https://example.org/\u0000", "subscriptions": ["own_reports"]}),
        expect=(400,),
    ),
    Hostile(
        "webhook-url-metadata",
        "POST",
        "/api/v1/webhooks/",
        body=_json({"url": "https://169.254.169.254/latest/meta-data", "subscriptions": ["own_reports"]}),
        expect=(400,),
    ),
    Hostile(
        "webhook-url-mapped-loopback",
        "POST",
        "/api/v1/webhooks/",
        body=_json({"url": "https://[::ffff:127.0.0.1]/", "subscriptions": ["own_reports"]}),
        expect=(400,),
    ),
    Hostile(
        "api-key-100k-scopes",
        "POST",
        "/api/v1/api-keys/",
        body=_json({"name": "x", "role": "lab_submitter", "scopes": ["incidents:write"] * 100_000}),
        expect=(400, 413),
    ),
    Hostile(
        "tlp-unknown-level",
        "POST",
        "/api/v1/incidents/{amber}/tlp",
        body=_json({"tlp": "ultraviolet"}),
        expect=(400,),
    ),
    # --- query strings -------------------------------------------------------------------------------------
    Hostile("search-nul", "GET", INCIDENTS + "?search=a%00b", expect=(400,)),
    Hostile("search-10k", "GET", INCIDENTS + "?search=" + LONG, expect=(400,)),
    Hostile(
        "search-tsquery-syntax",
        "GET",
        INCIDENTS + "?search=%26%7C%21%3A*()%3C-%3E",
        expect=(200,),
        contract_2xx=True,
    ),
    Hostile(
        "search-regex-like",
        "GET",
        INCIDENTS + "?search=(a%2B)%2B%24%5B%5E%5D*%7B1000%7D",
        expect=(200,),
        contract_2xx=True,
    ),
    Hostile(
        "search-only-stopwords",
        "GET",
        INCIDENTS + "?search=the+and+of+a+to",
        expect=(200,),
        contract_2xx=True,
    ),
    Hostile("limit-negative", "GET", INCIDENTS + "?limit=-1", expect=(400,)),
    Hostile("limit-10e20", "GET", INCIDENTS + "?limit=100000000000000000000", expect=(400,)),
    Hostile("limit-not-a-number", "GET", INCIDENTS + "?limit=1e3", expect=(400,)),
    Hostile("cursor-garbage", "GET", INCIDENTS + "?cursor=%21%21%21", expect=(400,)),
    Hostile("cursor-base64-junk", "GET", INCIDENTS + "?cursor=eyJhIjogWzEsIDIsIDNdfQ", expect=(400,)),
    Hostile("cursor-10k", "GET", INCIDENTS + "?cursor=" + LONG, expect=(400,)),
    # Not a parameter of this API: ignored, as every unknown query parameter is.
    Hostile(
        "page-size-huge",
        "GET",
        "/api/v1/models/?limit=10&page_size=1000000000",
        expect=(200,),
        contract_2xx=True,
    ),
    Hostile("modified-after-word", "GET", INCIDENTS + "?modified_after=yesterday", expect=(400,)),
    Hostile(
        "modified-after-month-13", "GET", INCIDENTS + "?modified_after=2026-13-45T00:00:00Z", expect=(400,)
    ),
    Hostile(
        "modified-after-no-offset", "GET", INCIDENTS + "?modified_after=2026-01-01T00:00:00", expect=(400,)
    ),
    Hostile(
        "modified-after-year-99999", "GET", INCIDENTS + "?modified_after=99999-01-01T00:00:00Z", expect=(400,)
    ),
    Hostile("modified-after-nul", "GET", "/api/v1/models/?modified_after=%00", expect=(400,)),
    Hostile("ordering-unknown", "GET", INCIDENTS + "?ordering=secret_hash", expect=(400,)),
    Hostile("filter-nul", "GET", "/api/v1/evaluations/?model=%00", expect=(400,)),
    Hostile("filter-100k", "GET", "/api/v1/models/?weights_availability=" + "x" * 100_000, expect=(400,)),
    Hostile(
        "compare-huge-revision",
        "GET",
        "/api/v1/incidents/{amber}/revisions/compare?from=1&to=" + "9" * 40,
        expect=(400, 404),
    ),
    Hostile(
        "audit-proof-huge-tree",
        "GET",
        "/api/v1/audit/1/proof?tree_size=" + "9" * 30,
        role="lead_regulator",
        expect=(400, 404),
    ),
    # --- headers -------------------------------------------------------------------------------------------
    Hostile(
        "authorization-100k",
        "POST",
        INCIDENTS,
        body=_json(VALID_INCIDENT),
        role="anonymous",
        headers={"HTTP_AUTHORIZATION": "Api-Key " + "a" * 100_000},
        expect=(401,),
    ),
    Hostile(
        "authorization-nul",
        "POST",
        INCIDENTS,
        body=_json(VALID_INCIDENT),
        role="anonymous",
        headers={"HTTP_AUTHORIZATION": "Api-Key rl\u0000.x"},
        expect=(401,),
    ),
    Hostile(
        "authorization-unknown-scheme",
        "POST",
        INCIDENTS,
        body=_json(VALID_INCIDENT),
        role="anonymous",
        headers={"HTTP_AUTHORIZATION": "Bearer " + LONG},
        expect=(401,),
    ),
    Hostile(
        "idempotency-key-10k",
        "POST",
        INCIDENTS,
        body=_json(VALID_INCIDENT),
        headers={"HTTP_IDEMPOTENCY_KEY": LONG},
        expect=(400,),
    ),
    Hostile(
        "idempotency-key-control",
        "POST",
        INCIDENTS,
        body=_json(VALID_INCIDENT),
        headers={"HTTP_IDEMPOTENCY_KEY": "a\tb\nc"},
        expect=(400,),
    ),
    Hostile("accept-xml", "GET", INCIDENTS, headers={"HTTP_ACCEPT": "application/xml"}, expect=(406,)),
    Hostile(
        "accept-100k", "GET", "/taxii2/", headers={"HTTP_ACCEPT": "text/" + "x" * 100_000}, expect=(406,)
    ),
    Hostile(
        "if-match-garbage",
        "PATCH",
        "/api/v1/incidents/{amber}",
        body=_json({"title": "x"}),
        headers={"HTTP_IF_MATCH": '"' + LONG + '"'},
        expect=(412,),
    ),
    # --- TAXII ---------------------------------------------------------------------------------------------
    Hostile(
        "taxii-accept-json", "GET", "/taxii2/", headers={"HTTP_ACCEPT": "application/json"}, expect=(406,)
    ),
    Hostile("taxii-added-after-word", "GET", OBJECTS + "?added_after=yesterday", expect=(400,)),
    Hostile("taxii-limit-zero", "GET", OBJECTS + "?limit=0", expect=(400,)),
    # TAXII lets a server return fewer objects than asked: clamped to the page maximum.
    Hostile(
        "taxii-limit-huge", "GET", OBJECTS + "?limit=100000000000000000000", expect=(200,), contract_2xx=True
    ),
    Hostile("taxii-next-garbage", "GET", OBJECTS + "?next=%21%21%21", expect=(400,)),
    Hostile("taxii-match-version-word", "GET", OBJECTS + "?match[version]=soon", expect=(400,)),
    Hostile("taxii-match-id-40k", "GET", OBJECTS + "?match[id]=" + LONG * 4, expect=(400,)),
    # Regression: a NUL in match[] reached PostgreSQL (422 problem+json, not a TAXII error).
    Hostile("taxii-match-type-nul", "GET", OBJECTS + "?match[type]=inci%00dent", expect=(400,)),
    Hostile("taxii-match-id-nul", "GET", OBJECTS + "?match[id]=incident--%00", expect=(400,)),
    Hostile(
        "taxii-post-wrong-type",
        "POST",
        INBOUND,
        role="key_regulator",
        body=b'{"objects": []}',
        content_type="application/json",
        expect=(415,),
    ),
    Hostile(
        "taxii-post-deep",
        "POST",
        INBOUND,
        role="key_regulator",
        body=DEEP_OBJECTS,
        content_type=TAXII,
        expect=(400,),
    ),
    Hostile(
        "taxii-post-not-a-list",
        "POST",
        INBOUND,
        role="key_regulator",
        body=b'{"objects": "all"}',
        content_type=TAXII,
        expect=(400,),
    ),
    Hostile(
        "taxii-post-huge",
        "POST",
        INBOUND,
        role="key_regulator",
        body=_json({"objects": [{"type": "note", "content": "x" * (12 * 1024 * 1024)}]}),
        content_type=TAXII,
        expect=(413,),
    ),
    Hostile(
        "taxii-post-invalid-utf8",
        "POST",
        INBOUND,
        role="key_regulator",
        body=b'{"objects": ["\xff"]}',
        content_type=TAXII,
        expect=(400,),
    ),
    # --- evidence uploads ----------------------------------------------------------------------------------
    Hostile("evidence-elf-named-log", "POST", EVIDENCE, files=_evidence(ELF, "trace.log"), expect=(415,)),
    Hostile("evidence-pe-named-zip", "POST", EVIDENCE, files=_evidence(PE, "logs.zip"), expect=(415,)),
    Hostile(
        "evidence-text-named-pdf",
        "POST",
        EVIDENCE,
        files=_evidence(b"plain words\n", "report.pdf"),
        expect=(415,),
    ),
    Hostile(
        "evidence-nul-in-text",
        "POST",
        EVIDENCE,
        files=_evidence(b"line\x00line\n" * 2000, "a.log"),
        expect=(415,),
    ),
    Hostile(
        "evidence-invalid-utf8-text",
        "POST",
        EVIDENCE,
        files=_evidence(b"ok\n" * 5000 + b"\xff\xfe", "a.txt"),
        expect=(415,),
    ),
    Hostile("evidence-empty", "POST", EVIDENCE, files=_evidence(b"", "empty.log"), expect=(400, 415)),
    Hostile("evidence-no-file", "POST", EVIDENCE, files=lambda: {"kind": "log"}, expect=(400,)),
    Hostile(
        "evidence-unknown-kind",
        "POST",
        EVIDENCE,
        files=_evidence(b"x\n", "a.log", kind="rootkit"),
        expect=(400,),
    ),
    # --- archive tricks: the evaluation import reads zips (Inspect .eval logs) -----------------------------
    Hostile("import-zip-bomb", "POST", IMPORT, files=_import(_bomb_zip, "bomb.eval"), expect=(400, 413)),
    Hostile(
        "import-zip-slip",
        "POST",
        IMPORT,
        files=_import(
            _zip([("../../../../etc/cron.d/x", b"* * * * * root sh"), ("header.json", b"{}")]), "slip.eval"
        ),
        expect=(400,),
    ),
    Hostile(
        "import-absolute-name",
        "POST",
        IMPORT,
        files=_import(_zip([("/etc/passwd", b"root"), ("header.json", b"{}")]), "abs.eval"),
        expect=(400,),
    ),
    Hostile(
        "import-symlink-entry", "POST", IMPORT, files=_import(_symlink_zip(), "link.eval"), expect=(400,)
    ),
    Hostile("import-crc-broken", "POST", IMPORT, files=_import(_crc_broken_zip(), "crc.eval"), expect=(400,)),
    Hostile(
        "import-truncated-zip",
        "POST",
        IMPORT,
        files=_import(_zip([("header.json", b"{}" * 1000)])[:-30], "cut.eval"),
        expect=(400,),
    ),
    Hostile(
        "import-zip-in-zip",
        "POST",
        IMPORT,
        files=_import(_zip([("header.json", _zip([("inner.json", b"{}")]))]), "nested.eval"),
        expect=(400,),
    ),
    Hostile("import-nul-in-name", "POST", IMPORT, files=_import(b"\x00" * 10, "a\u0000.eval"), expect=(400,)),
    Hostile("import-rtl-name", "POST", IMPORT, files=_import(b"{}", "log\u202egol.json"), expect=(400,)),
    Hostile("import-long-name", "POST", IMPORT, files=_import(b"{}", "a" * 5000 + ".json"), expect=(400,)),
    Hostile(
        "import-yaml-bomb",
        "POST",
        IMPORT,
        files=_import(
            b"a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
            b"c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
            b"e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e]\n"
            b"model-index: [*f]\n",
            "README.md",
        ),
        expect=(400,),
    ),
]
IDS = [case.name for case in CORPUS]
assert len(IDS) == len(set(IDS))


def _fill(path: str, w: World) -> str:
    from coordination.selectors import DEFAULT_ROOT, _collection_id

    return path.format(
        amber=w.objects["incident@amber"].attrs["ref"],
        collection=_collection_id(DEFAULT_ROOT, "incidents"),
        inbound=_collection_id(DEFAULT_ROOT, "inbound"),
    )


def _prepare(client: APIClient, case: Hostile, w: World) -> Callable[[], Any]:
    """The request, built in full (bodies, archives) before it is timed."""
    path = _fill(case.path, w)
    headers = dict(case.headers)
    if path.startswith("/taxii2/"):
        headers.setdefault("HTTP_ACCEPT", TAXII)
    if case.files is not None:
        multipart = _multipart(case.files())
        return lambda: client.generic(case.method, path, **multipart, **headers)
    if case.body is None:
        return lambda: client.generic(case.method, path, **headers)
    body = case.body
    return lambda: client.generic(case.method, path, body, content_type=case.content_type, **headers)


def _multipart(fields: dict[str, Any]) -> dict[str, Any]:
    from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

    return {"data": encode_multipart(BOUNDARY, fields), "content_type": MULTIPART_CONTENT}


def _counts() -> tuple[int, ...]:
    return (
        Incident.objects.count(),
        IncidentRevision.objects.count(),
        FrontierModel.objects.count(),
        EvaluationResult.objects.count(),
        AuditEvent.objects.count(),
    )


TIMINGS: dict[str, float] = {}


def _trivial(client: APIClient, samples: int) -> float:
    """The median time of a trivial API request (the public key: no query, no body), measured now."""
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        assert client.get("/api/v1/audit/public-key").status_code == 200
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _baseline(client: APIClient) -> float:
    if "baseline" not in TIMINGS:
        TIMINGS["baseline"] = _trivial(client, 15)
    return TIMINGS["baseline"]


def _timed(send: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    response = send()
    return response, time.perf_counter() - started


@pytest.mark.parametrize("case", CORPUS, ids=IDS)
def test_hostile_input_is_a_quick_4xx_and_writes_nothing(w: World, case: Hostile) -> None:
    client = w.client(case.role)
    baseline = _baseline(w.client("anonymous"))
    before = _counts()

    send = _prepare(client, case, w)
    response, elapsed = _timed(send)

    status = response.status_code
    context = (case.name, status, response.content[:300])
    if case.contract_2xx:
        assert 200 <= status < 300, context
    else:
        assert 400 <= status < 500, context
        if case.expect:
            assert status in case.expect, context
        media = TAXII if case.path.startswith("/taxii2/") else "application/problem+json"
        assert response["Content-Type"] == media, context
        body = json.loads(response.content)
        assert body.get("code") and (
            body.get("status") == status or body.get("http_status") == str(status)
        ), body
    assert _counts() == before, context
    TIMINGS[case.name] = elapsed
    if case.contract_2xx:
        return  # real work the contract asks for (a page of results), not a refusal: timed, not bounded
    # On a shared machine the load moves: a case over the limit is measured twice more, each time next to
    # a fresh measure of the trivial request; the best ratio counts.
    for _ in range(2):
        if elapsed <= RATIO_LIMIT * baseline:
            break
        baseline = max(baseline, _trivial(w.client("anonymous"), 5))
        elapsed = min(elapsed, _timed(send)[1])
    TIMINGS[case.name] = elapsed * TIMINGS["baseline"] / baseline  # the ratio, on the run's baseline
    assert elapsed <= RATIO_LIMIT * baseline, (case.name, f"{elapsed / baseline:.1f}x a trivial request")


def test_the_corpus_is_large_enough_and_its_figures_are_printed(figures: Any) -> None:
    four_xx = [case for case in CORPUS if not case.contract_2xx]
    assert len(four_xx) >= 60
    figures("hostile corpus: cases (4xx / 2xx by contract)", f"{len(four_xx)} / {len(CORPUS) - len(four_xx)}")
    refused = [case.name for case in four_xx if case.name in TIMINGS]
    ratios = [TIMINGS[name] / TIMINGS["baseline"] for name in refused]
    if ratios:  # the cases ran in this process (not with -k or on another xdist worker)
        worst = max(refused, key=lambda name: TIMINGS[name])
        figures(
            "hostile corpus: time / trivial request (median, max)",
            f"{statistics.median(ratios):.1f}x, {max(ratios):.1f}x ({worst}); baseline "
            f"{TIMINGS['baseline'] * 1000:.1f} ms, limit {RATIO_LIMIT}x",
        )
