"""Downloads from S3 storage stream from the object store (issue #16, two app hosts).

The object store is moto's S3 server, a real process speaking the S3 protocol; the code
under test is django-storages' real S3 backend. django-storages' S3File copies a whole
object into a temporary file on its first read, so a 1 GB download wrote 1 GB to the app
host's disk before its first byte, and a one-byte range fetched the whole object: every
download and range here must come from the object's own (ranged) GET instead.
"""

import contextlib
import sys
import time
import urllib.request

import pytest
from django.urls import reverse
from storages.backends.s3 import S3File

from audit.models import AuditEvent
from tests.documents.conftest import login
from tests.factories import make_document
from tests.processes import free_port, process

BUCKET = "docuid-streaming-test"
SIZE = 300_000  # several 64 KB chunks
DATA = (b"0123456789abcdef" * (SIZE // 16 + 1))[:SIZE]


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("s3") / "moto.log"
    with process([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], log) as server:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, log.read_text()[-2000:]
            with contextlib.suppress(OSError):
                urllib.request.urlopen(url + "/", timeout=2)
                break
            assert time.monotonic() < deadline, "moto's S3 server did not start in 60 s"
            time.sleep(0.2)
        yield url


@pytest.fixture
def s3_storage(settings, s3_server):
    import boto3

    options = {
        "access_key": "test",
        "secret_key": "test",
        "endpoint_url": s3_server,
        "region_name": "us-east-1",
        "bucket_name": BUCKET,
        "location": "media",
        "max_memory_size": 2 * 1024 * 1024,
    }
    client = boto3.client(
        "s3", endpoint_url=s3_server, aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
    )
    with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
        client.create_bucket(Bucket=BUCKET)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options},
    }
    return client


@pytest.fixture
def never_spooled(monkeypatch):
    """Reading through S3File (the whole object into a temporary file) fails the test."""

    def spooled(self):
        raise AssertionError("the download read the object through S3File's temporary copy")

    monkeypatch.setattr(S3File, "_get_file", spooled)


def _document(owner, s3_storage):
    document = make_document(owner, name="big.txt", data=DATA)
    key = "media/" + document.current_version.file.name
    assert s3_storage.head_object(Bucket=BUCKET, Key=key)["ContentLength"] == SIZE  # really in the bucket
    return document


def test_a_download_streams_the_object_whole(client, owner, s3_storage, never_spooled):
    document = _document(owner, s3_storage)
    login(client, owner)
    response = client.get(reverse("documents:download", args=[document.pk]))
    assert response.status_code == 200 and response["Content-Length"] == str(SIZE)
    assert b"".join(response.streaming_content) == DATA


@pytest.mark.parametrize(
    "header, start, end",
    [("bytes=70000-70009", 70000, 70009), ("bytes=-10", SIZE - 10, SIZE - 1), ("bytes=0-", 0, SIZE - 1)],
)
def test_a_range_is_one_ranged_get(client, owner, s3_storage, never_spooled, header, start, end):
    document = _document(owner, s3_storage)
    login(client, owner)
    response = client.get(reverse("documents:download", args=[document.pk]), headers={"Range": header})
    assert response.status_code == 206 and response["Content-Range"] == f"bytes {start}-{end}/{SIZE}"
    assert response["Content-Length"] == str(end - start + 1)
    assert b"".join(response.streaming_content) == DATA[start : end + 1]


def test_a_missing_object_fails_before_the_response_and_is_audited(client, owner, s3_storage):
    document = _document(owner, s3_storage)
    s3_storage.delete_object(Bucket=BUCKET, Key="media/" + document.current_version.file.name)
    login(client, owner)
    client.raise_request_exception = False
    response = client.get(reverse("documents:download", args=[document.pk]))
    assert response.status_code >= 500 and b"Traceback" not in response.content
    event = AuditEvent.objects.filter(action="document.download").latest("id")
    assert (event.outcome, event.data.get("reason")) == ("failure", "storage_error")
