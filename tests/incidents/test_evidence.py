"""Evidence files: streamed upload with SHA-256, type sniffed from the bytes, per-org private storage,
downloads only through the visibility rule (every one audited), hostile uploads leave nothing behind."""

from __future__ import annotations

import copy
import hashlib
import struct
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from rest_framework.test import APIClient

from accounts.authentication import principal_for_membership
from api_docs import examples
from core.errors import PayloadTooLarge, UnsupportedMediaType
from core.models import AuditEvent
from incidents import evidence as evidence_files
from incidents import services
from incidents.evidence import MeteredUpload, safe_file_name, sniff_type
from incidents.models import Evidence, Incident
from tests.factories import FrontierModelFactory, member_principal
from tests.incidents.matrix import PRINCIPALS, TLPS, world  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db
URL = "/api/v1/incidents/"
PDF_BYTES = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(256))
ELF_BYTES = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 56
PE_BYTES = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 50 + struct.pack("<I", 64) + b"PE\x00\x00"
LOG_BYTES = b"2026-11-20T10:00:00Z agent: received SIGTERM\n2026-11-20T10:04:00Z agent: replica up\n"


@pytest.fixture(autouse=True)
def private_storage(settings: Any, tmp_path: Path) -> Path:
    """The `private` storage in an empty folder of this test's own: each test sees exactly what it stored."""
    folder = tmp_path / "private"
    folder.mkdir()
    settings.STORAGES = {
        **settings.STORAGES,
        "private": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": folder},
        },
    }
    return folder


def stored_files(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.is_file())


def multipart(
    filename: str | bytes | None,
    content: bytes = b"",
    *,
    content_type: str = "application/octet-stream",
    fields: dict[str, str] | None = None,
) -> tuple[bytes, str]:
    """A hand-built multipart body: the test client would take the basename of a hostile file name."""
    boundary = "redline-evidence-boundary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in (fields or {}).items()
    ]
    if filename is not None:
        raw_name = filename if isinstance(filename, bytes) else filename.encode()
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="'.encode()
            + raw_name
            + f'"\r\nContent-Type: {content_type}\r\n\r\n'.encode()
            + content
            + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def upload(
    client: APIClient,
    public_id: str,
    filename: str | bytes | None,
    content: bytes = b"",
    *,
    content_type: str = "application/octet-stream",
    fields: dict[str, str] | None = None,
    **extra: Any,
) -> Any:
    body, header = multipart(filename, content, content_type=content_type, fields=fields)
    return client.generic("POST", f"{URL}{public_id}/evidence", body, content_type=header, **extra)


def file_report(client: APIClient, org: Any, **overrides: Any) -> str:
    model = FrontierModelFactory(provider=org, tlp="clear")
    body = copy.deepcopy(examples.INCIDENT_CREATE)
    body["models"] = [{"model": model.public_id, "role": "originating"}]
    body["external_id"] = f"EV-{model.public_id}"
    body.update(overrides)
    response = client.post(URL, body, format="json")
    assert response.status_code == 201, response.content
    public_id: str = response.json()["public_id"]
    return public_id


@pytest.fixture
def report_a(client_a: APIClient, lab_a: Any) -> str:
    return file_report(client_a, lab_a)


# --- upload and download -----------------------------------------------------------------------------


def test_an_upload_stores_the_bytes_with_their_sha256_and_the_download_returns_them(
    client_a, lab_a, report_a, private_storage
):
    response = upload(client_a, report_a, "replication-report.pdf", PDF_BYTES, fields={"kind": "report"})

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["sha256"] == hashlib.sha256(PDF_BYTES).hexdigest()
    assert body["size"] == len(PDF_BYTES) and body["detected_type"] == "application/pdf"
    assert body["file_name"] == "replication-report.pdf" and body["kind"] == "report"
    assert response["Location"] == body["download_url"]
    evidence = Evidence.objects.get(pk=body["id"])
    incident = Incident.objects.get(public_id=report_a)
    assert evidence.storage_key == f"evidence/{lab_a.pk}/{incident.pk}/{evidence.pk}"
    assert stored_files(private_storage) == [private_storage / evidence.storage_key]

    got = client_a.get(body["download_url"])

    assert got.status_code == 200
    assert b"".join(got.streaming_content) == PDF_BYTES
    assert got["Content-Type"] == "application/octet-stream"
    assert got["X-Content-Type-Options"] == "nosniff"
    assert got["Content-Disposition"] == 'attachment; filename="replication-report.pdf"'
    events = AuditEvent.objects.filter(target_id=str(incident.pk)).values_list("event_code", flat=True)
    assert {"incident.evidence_added", "incident.evidence_downloaded"} <= set(events)
    listed = client_a.get(f"{URL}{report_a}/evidence").json()
    assert [item["id"] for item in listed] == [body["id"]]
    assert "storage_key" not in listed[0]


def test_every_download_writes_an_audit_event(client_a, report_a):
    url = upload(client_a, report_a, "run.log", LOG_BYTES).json()["download_url"]

    for _ in range(3):
        assert client_a.get(url).status_code == 200

    assert AuditEvent.objects.filter(event_code="incident.evidence_downloaded").count() == 3


def test_a_large_text_upload_is_hashed_while_streaming(client_a, report_a):
    content = b"".join(b"line %08d: agent heartbeat\n" % n for n in range(150_000))  # ~4 MB, on disk
    response = upload(client_a, report_a, "agent.log", content)

    assert response.status_code == 201, response.content
    assert response.json()["sha256"] == hashlib.sha256(content).hexdigest()
    assert response.json()["detected_type"] == "text/plain"


def test_the_sniffed_type_is_stored_and_a_contradicting_content_type_only_recorded(client_a, report_a):
    response = upload(client_a, report_a, "screenshot.png", PNG_BYTES, content_type="application/pdf")

    assert response.status_code == 201, response.content
    assert response.json()["detected_type"] == "image/png"
    assert response.json()["declared_type"] == "application/pdf"


def test_adding_evidence_moves_the_reports_etag(client_a, report_a):
    before = client_a.get(f"{URL}{report_a}")["ETag"]
    upload(client_a, report_a, "run.log", LOG_BYTES)

    assert client_a.get(f"{URL}{report_a}")["ETag"] != before


# --- the final report rule ---------------------------------------------------------------------------


def test_a_report_becomes_final_only_once_it_has_evidence(client_a, report_a):
    without = client_a.patch(f"{URL}{report_a}", {"report_stage": "final"}, format="json")

    assert without.status_code == 400
    assert without.json()["code"] == "final_report_incomplete"
    assert {e["field"] for e in without.json()["errors"]} == {"evidence"}

    assert upload(client_a, report_a, "transcript.json", b'{"messages": []}').status_code == 201
    final = client_a.patch(f"{URL}{report_a}", {"report_stage": "final"}, format="json")

    assert final.status_code == 200, final.content
    assert Incident.objects.get(public_id=report_a).report_stage == "final"


# --- who may add evidence ----------------------------------------------------------------------------


def test_a_reviewer_or_regulator_who_sees_the_report_may_add_evidence(report_a, regulator_client):
    response = upload(
        regulator_client, report_a, "replay.pcap", b"\xd4\xc3\xb2\xa1" + b"\x02\x00\x04\x00" * 8
    )

    assert response.status_code == 201, response.content
    assert response.json()["org"] == "eu-office"


def test_another_lab_may_not_add_evidence_even_to_a_report_it_can_see(client_a, client_b, lab_a):
    public = file_report(client_a, lab_a, tlp="clear")
    private = file_report(client_a, lab_a, tlp="amber")

    refused = upload(client_b, public, "run.log", LOG_BYTES)
    hidden = upload(client_b, private, "run.log", LOG_BYTES)

    assert refused.status_code == 403 and refused.json()["code"] == "not_evidence_contributor"
    assert hidden.status_code == 404
    assert Evidence.objects.count() == 0


def test_an_api_key_without_incidents_write_may_not_add_evidence(lab_a, report_a, make_key_client):
    client = make_key_client(lab_a, scopes=["registry:write"])

    response = upload(client, report_a, "run.log", LOG_BYTES)

    assert response.status_code == 403 and response.json()["code"] == "insufficient_scope"


def test_anonymous_callers_may_not_add_evidence(anon, client_a, lab_a):
    public = file_report(client_a, lab_a, tlp="clear")

    assert upload(anon, public, "run.log", LOG_BYTES).status_code == 401


def test_a_withdrawn_report_takes_no_more_evidence(client_a, report_a, private_storage):
    client_a.post(f"{URL}{report_a}/withdraw", {"reason": "Filed twice."}, format="json")

    response = upload(client_a, report_a, "run.log", LOG_BYTES)

    assert response.status_code == 409 and response.json()["code"] == "incident_closed"
    assert stored_files(private_storage) == []


# --- visibility --------------------------------------------------------------------------------------


@pytest.mark.parametrize("principal", PRINCIPALS)
def test_evidence_list_and_download_follow_the_reports_visibility(world, principal):  # noqa: F811
    submitter = principal_for_membership(world.memberships["lab_a_submitter"])
    downloads = {}
    for tlp, incident in world.incidents.items():
        evidence = services.evidence_add(
            actor=submitter,
            incident=incident,
            upload=ContentFile(f"evidence for matrixterm {tlp}\n".encode(), name=f"secret-{tlp}.log"),
            kind="log",
        )
        downloads[tlp] = f"{URL}{incident.public_id}/evidence/{evidence.pk}/download"
    client = world.clients[principal]

    for tlp in TLPS:
        public_id = world.incidents[tlp].public_id
        expected = 200 if tlp in world.visible(principal) else 404
        listed = client.get(f"{URL}{public_id}/evidence")
        got = client.get(downloads[tlp])
        assert (listed.status_code, got.status_code) == (expected, expected), (principal, tlp)
        if expected == 200:
            assert [e["file_name"] for e in listed.json()] == [f"secret-{tlp}.log"]
            assert b"".join(got.streaming_content) == f"evidence for matrixterm {tlp}\n".encode()
        else:
            assert f"secret-{tlp}" not in listed.content.decode() + got.content.decode()
    audited = AuditEvent.objects.filter(event_code="incident.evidence_downloaded").count()
    assert audited == len(world.visible(principal))


def test_an_evidence_id_of_another_report_is_404(client_a, lab_a, report_a):
    other = file_report(client_a, lab_a)
    evidence_id = upload(client_a, report_a, "run.log", LOG_BYTES).json()["id"]

    assert client_a.get(f"{URL}{other}/evidence/{evidence_id}/download").status_code == 404
    assert client_a.get(f"{URL}{report_a}/evidence/{'0' * 36}/download").status_code == 404


def test_listing_evidence_takes_a_fixed_number_of_queries(client_a, report_a, django_assert_max_num_queries):
    for n in range(5):
        upload(client_a, report_a, f"run-{n}.log", LOG_BYTES + str(n).encode())

    with django_assert_max_num_queries(4):
        response = client_a.get(f"{URL}{report_a}/evidence")

    assert len(response.json()) == 5


# --- retries and duplicates --------------------------------------------------------------------------


def test_an_idempotent_retry_replays_the_same_evidence(client_a, report_a, private_storage):
    first = upload(client_a, report_a, "run.log", LOG_BYTES, HTTP_IDEMPOTENCY_KEY="ev-1")
    again = upload(client_a, report_a, "run.log", LOG_BYTES, HTTP_IDEMPOTENCY_KEY="ev-1")

    assert first.status_code == 201 and again.status_code == 201
    assert again.json()["id"] == first.json()["id"] and again["Idempotent-Replayed"] == "true"
    assert Evidence.objects.count() == 1 and len(stored_files(private_storage)) == 1


def test_the_same_file_twice_from_one_org_is_409_and_stored_once(client_a, report_a, private_storage):
    assert upload(client_a, report_a, "run.log", LOG_BYTES).status_code == 201

    again = upload(client_a, report_a, "copy-of-run.log", LOG_BYTES)

    assert again.status_code == 409 and again.json()["code"] == "duplicate_evidence"
    assert Evidence.objects.count() == 1 and len(stored_files(private_storage)) == 1


def test_the_same_file_from_two_orgs_is_stored_twice(
    client_a, client_b, lab_a, lab_b, report_a, regulator_client, private_storage
):
    report_b = file_report(client_b, lab_b)

    ids = [
        upload(client_a, report_a, "run.log", LOG_BYTES).json()["id"],
        upload(client_b, report_b, "run.log", LOG_BYTES).json()["id"],
        upload(regulator_client, report_a, "run.log", LOG_BYTES).json()["id"],  # same report, other org
    ]

    rows = Evidence.objects.filter(pk__in=ids)
    assert len({row.storage_key for row in rows}) == 3 and len({row.owner_org_id for row in rows}) == 3
    assert {row.sha256 for row in rows} == {hashlib.sha256(LOG_BYTES).hexdigest()}
    assert len(stored_files(private_storage)) == 3
    assert all(row.storage_key.startswith(f"evidence/{row.owner_org_id}/") for row in rows)


# --- hostile input -----------------------------------------------------------------------------------


def test_a_content_length_over_the_limit_is_413_before_the_body_is_read(client_a, report_a, private_storage):
    body, header = multipart("huge.log", LOG_BYTES)
    # The test client's payload refuses to be read past its real length: 413 proves nothing was read.
    response = client_a.generic(
        "POST", f"{URL}{report_a}/evidence", body, content_type=header, CONTENT_LENGTH=str(60 * 1024 * 1024)
    )

    assert response.status_code == 413
    assert response["Content-Type"] == "application/problem+json"
    assert Evidence.objects.count() == 0 and stored_files(private_storage) == []


def test_an_upload_over_the_limit_is_413_and_leaves_nothing(client_a, report_a, settings, private_storage):
    settings.REDLINE_MAX_EVIDENCE_BYTES = 1024

    over_framing = upload(client_a, report_a, "big.log", b"a" * (200 * 1024))  # refused on Content-Length
    within_framing = upload(client_a, report_a, "big.log", b"a" * 4096)  # refused on the file's size

    assert over_framing.status_code == 413 and within_framing.status_code == 413
    assert within_framing.json()["code"] == "evidence_too_large"
    assert Evidence.objects.count() == 0 and stored_files(private_storage) == []


class LyingFile(ContentFile):
    """An upload whose reported size is smaller than its content (a lying source): the stream cap holds."""

    def __init__(self, content: bytes, name: str) -> None:
        super().__init__(content, name=name)
        self.size = 10


def test_the_size_cap_holds_while_streaming_and_a_partial_file_is_deleted(
    lab_a, report_a, settings, private_storage
):
    settings.REDLINE_MAX_EVIDENCE_BYTES = 100 * 1024
    incident = Incident.objects.get(public_id=report_a)

    with pytest.raises(PayloadTooLarge):
        services.evidence_add(
            actor=member_principal(lab_a),
            incident=incident,
            upload=LyingFile(b"x" * (300 * 1024), name="run.log"),
            kind="log",
        )

    assert Evidence.objects.count() == 0 and stored_files(private_storage) == []


def test_a_failed_insert_deletes_the_stored_file(lab_a, report_a, private_storage, monkeypatch):
    incident = Incident.objects.get(public_id=report_a)

    def fail(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(services, "audit_record", fail)
    with pytest.raises(RuntimeError):
        services.evidence_add(
            actor=member_principal(lab_a),
            incident=incident,
            upload=ContentFile(LOG_BYTES, name="a.log"),
            kind="log",
        )

    assert Evidence.objects.count() == 0 and stored_files(private_storage) == []


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("agent", ELF_BYTES),
        ("agent.log", ELF_BYTES),
        ("setup", PE_BYTES),
        ("tool", b"\xcf\xfa\xed\xfe" + b"\0" * 60),
    ],
)
def test_executables_are_refused_415(client_a, report_a, private_storage, name, content):
    response = upload(client_a, report_a, name, content)

    assert response.status_code == 415, response.content
    assert response.json()["code"] == "unsupported_evidence_type"
    assert Evidence.objects.count() == 0 and stored_files(private_storage) == []


def test_unknown_binary_is_refused_415(client_a, report_a):
    response = upload(client_a, report_a, "blob", bytes(range(256)) * 4)

    assert response.status_code == 415 and response.json()["code"] == "unsupported_evidence_type"


def test_text_with_binary_past_the_sniffed_head_is_refused_and_not_kept(client_a, report_a, private_storage):
    content = LOG_BYTES * 200 + b"\x00\x01\x02ELF payload"  # the first 8 KiB look like a log

    response = upload(client_a, report_a, "run.log", content)

    assert response.status_code == 415 and response.json()["code"] == "unsupported_evidence_type"
    assert Evidence.objects.count() == 0 and stored_files(private_storage) == []


@pytest.mark.parametrize("name", ["report.pdf", "notes.txt", "setup.exe", "capture.pcap"])
def test_bytes_that_do_not_match_the_name_are_refused_415(client_a, report_a, private_storage, name):
    response = upload(client_a, report_a, name, PNG_BYTES)

    assert response.status_code == 415, response.content
    assert response.json()["code"] == "evidence_type_mismatch"
    assert Evidence.objects.count() == 0 and stored_files(private_storage) == []


@pytest.mark.parametrize(
    ("name", "stored"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\x.log", "x.log"),
        ("C:\\Windows\\system32\\run.log", "run.log"),
        ("/var/log/../../agent.log", "agent.log"),
        ("..", None),
        ("run\u202egol.exe.log", "rungol.exe.log"),
    ],
)
def test_path_names_are_stored_as_safe_basenames(client_a, report_a, private_storage, name, stored):
    response = upload(client_a, report_a, name, LOG_BYTES)

    if stored is None:  # nothing left of the name: the multipart parser drops the file
        assert response.status_code == 400
        return
    assert response.status_code == 201, response.content
    assert response.json()["file_name"] == stored
    evidence = Evidence.objects.get()
    assert stored not in evidence.storage_key
    assert stored_files(private_storage) == [private_storage / evidence.storage_key]


def test_a_nul_in_the_file_name_is_removed(client_a, report_a):
    response = upload(client_a, report_a, b"run\x00\x01.log", LOG_BYTES)

    assert response.status_code == 201, response.content
    assert response.json()["file_name"] == Evidence.objects.get().file_name == "run.log"


def test_a_nul_cannot_hide_an_executable_extension(client_a, report_a):
    response = upload(client_a, report_a, b"run.log\x00.exe", LOG_BYTES)

    assert response.status_code == 415 and response.json()["code"] == "evidence_type_mismatch"


def test_a_missing_file_is_400(client_a, report_a):
    response = upload(client_a, report_a, None, fields={"kind": "log"})

    assert response.status_code == 400
    assert "file" in {e["field"] for e in response.json()["errors"]}


def test_an_empty_file_is_400(client_a, report_a, private_storage):
    response = upload(client_a, report_a, "empty.log", b"")

    assert response.status_code == 400
    assert Evidence.objects.count() == 0 and stored_files(private_storage) == []


def test_an_unknown_kind_or_field_is_400(client_a, report_a):
    assert upload(client_a, report_a, "a.log", LOG_BYTES, fields={"kind": "malware"}).status_code == 400
    assert upload(client_a, report_a, "a.log", LOG_BYTES, fields={"tlp": "clear"}).status_code == 400


def test_a_json_body_instead_of_multipart_is_415(client_a, report_a):
    response = client_a.post(f"{URL}{report_a}/evidence", {"file": "x"}, format="json")

    assert response.status_code == 415


# --- the pure parts ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (PDF_BYTES, "application/pdf"),
        (PNG_BYTES, "image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"GIF89a\x01\x00\x01\x00", "image/gif"),
        (b"PK\x03\x04\x14\x00\x00\x00", "application/zip"),
        (b"\x1f\x8b\x08\x00", "application/gzip"),
        (b"\xd4\xc3\xb2\xa1\x02\x00\x04\x00", "application/vnd.tcpdump.pcap"),
        (b"\x0a\x0d\x0d\x0a\x1c\x00\x00\x00", "application/x-pcapng"),
        (b'\xef\xbb\xbf  {"a": 1}', "application/json"),
        (b'[{"role": "assistant"}]', "application/json"),
        (LOG_BYTES, "text/plain"),
        ("journal: réplica démarrée\n".encode(), "text/plain"),
        ("x" * 8190 + "é", "text/plain"),  # a head cut inside a multi-byte character
        (b"\x1b[32mOK\x1b[0m\r\n", "text/plain"),  # a terminal transcript
        (b"MZ is a fine start for a log line\n", "text/plain"),
        (ELF_BYTES, "application/x-elf"),
        (PE_BYTES, "application/vnd.microsoft.portable-executable"),
        (b"\xfe\xed\xfa\xcf\x00\x00", "application/x-mach-binary"),
        (b"\x00\x01\x02\x03", "application/octet-stream"),
        (b"\xff\xfe\xfd", "application/octet-stream"),
        (b"", "application/x-empty"),
    ],
)
def test_sniff_type(head, expected):
    raw = head.encode()[: evidence_files.SNIFF_BYTES] if isinstance(head, str) else head
    assert sniff_type(raw) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\x", "x"),
        ("C:\\x", "x"),
        ("a\x00b\x1f.log", "ab.log"),
        ("  .hidden.log ", "hidden.log"),
        ('re<po>rt:"1"|?*.pdf', "report1.pdf"),
        ("...", "evidence"),
        ("", "evidence"),
        ("a" * 300 + ".log", "a" * 251 + ".log"),
    ],
)
def test_safe_file_name(name, expected):
    assert safe_file_name(name) == expected


def test_the_metered_stream_refuses_more_than_its_limit():
    metered = MeteredUpload(ContentFile(b"x" * 5000, name="a.log"), limit=1000, text=True)

    with pytest.raises(PayloadTooLarge):
        list(metered.chunks(chunk_size=512))


def test_the_metered_stream_refuses_invalid_utf8_in_a_text_file():
    metered = MeteredUpload(ContentFile(b"ok\n" * 10 + b"\xff\xfe", name="a.log"), limit=10_000, text=True)

    with pytest.raises(UnsupportedMediaType):
        list(metered.chunks(chunk_size=8))
