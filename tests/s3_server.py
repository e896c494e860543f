"""A real S3-compatible server (moto's, from PyPI) on 127.0.0.1 for the s3:// tests: a bucket filled with files."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def s3_env(port: int) -> dict[str, str]:
    """What the readers need (pyarrow's S3 filesystem reads these): moto's test keys and the loopback endpoint."""
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
    }


@contextmanager
def s3_bucket(port: int, bucket: str, files: dict[str, Path]) -> Iterator[object]:
    """moto's server on ``port`` with ``bucket`` holding ``files`` (key → local file); yields a pyarrow S3
    filesystem on it (to change objects), stops the server after."""
    pytest.importorskip("moto.server")
    from moto.server import ThreadedMotoServer
    from pyarrow import fs

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        s3 = fs.S3FileSystem(
            access_key="testing",
            secret_key="testing",
            region="us-east-1",
            endpoint_override=f"127.0.0.1:{port}",
            scheme="http",
            allow_bucket_creation=True,
        )
        s3.create_dir(bucket)
        for key, path in files.items():
            with s3.open_output_stream(f"{bucket}/{key}") as f:
                f.write(Path(path).read_bytes())
        yield s3
    finally:
        server.stop()
