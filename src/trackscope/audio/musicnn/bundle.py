"""A small reader (and writer, for tests) of TensorFlow's checkpoint bundle format, V2 — no TensorFlow, no protobuf.

A bundle is a prefix ``P`` with two files:

- ``P.index``: an SSTable (LevelDB's table format, as ``tensorflow/core/lib/io/table`` writes it). Its data blocks
  hold sorted key → value records with prefix-compressed keys; the key ``""`` holds a ``BundleHeaderProto``, every
  other key is a variable name whose value is a ``BundleEntryProto``: ``dtype`` (1), ``shape`` (2, a
  ``TensorShapeProto`` whose ``dim`` (2) entries carry ``size`` (1)), ``shard_id`` (3), ``offset`` (4), ``size`` (5),
  ``crc32c`` (6, fixed32, masked), ``slices`` (7).
- ``P.data-00000-of-00001``: the raw little-endian tensor bytes, each tensor at its ``offset``.

Only what musicnn's checkpoints need is supported: uncompressed blocks, one shard, unsliced numeric tensors.
Every block and tensor checksum (CRC-32C, masked as LevelDB does) is verified.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import TYPE_CHECKING

from trackscope.errors import ModelError

if TYPE_CHECKING:
    import numpy as np

_FOOTER_MAGIC = 0xDB4775248B80FB57
_FOOTER_LEN = 48  # two block handles padded to 40 bytes + 8-byte magic
_MASK_DELTA = 0xA282EAD8

# tensorflow/core/framework/types.proto DataType → numpy dtype string
_DTYPES = {
    1: "float32",
    2: "float64",
    3: "int32",
    4: "uint8",
    5: "int16",
    6: "int8",
    9: "int64",
    10: "bool",
    19: "float16",
}
_DTYPE_CODES = {v: k for k, v in _DTYPES.items()}


# ---------------------------------------------------------------------------------------------- CRC-32C (Castagnoli)
def _crc_table() -> list[int]:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc_table()


def crc32c(data: bytes | memoryview) -> int:
    """CRC-32C of ``data`` (pure Python, ~0.1 µs per byte: fine for a one-time conversion of a few MB)."""
    import numpy as np

    # Slicing-by-1 in Python is slow; process the bytes through a numpy lookup in a tight loop instead.
    table = _CRC_TABLE
    crc = 0xFFFFFFFF
    for b in np.frombuffer(data, dtype=np.uint8).tolist():
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def mask_crc(crc: int) -> int:
    """LevelDB's checksum masking (rotate right by 15, add a constant)."""
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


# ---------------------------------------------------------------------------------------------- varints, protobuf
def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _put_varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _proto_fields(buf: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) pairs of a protobuf message: varint → int, fixed → int, length-delimited → bytes."""
    out: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            (value,) = struct.unpack_from("<Q", buf, pos)
            pos += 8
        elif wire == 2:
            n, pos = _varint(buf, pos)
            value = bytes(buf[pos : pos + n])
            if len(value) != n:
                raise ValueError("truncated field")
            pos += n
        elif wire == 5:
            (value,) = struct.unpack_from("<I", buf, pos)
            pos += 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        out.append((field, value))
    return out


def _parse_entry(value: bytes) -> dict:
    entry = {"dtype": 0, "shape": [], "shard_id": 0, "offset": 0, "size": 0, "crc32c": None, "sliced": False}
    for field, v in _proto_fields(value):
        if field == 1:
            entry["dtype"] = v
        elif field == 2:
            for f2, dim in _proto_fields(v):  # TensorShapeProto
                if f2 == 2:
                    size = dict(_proto_fields(dim)).get(1, 0)
                    entry["shape"].append(size - (1 << 64) if size >= 1 << 63 else size)
        elif field == 3:
            entry["shard_id"] = v
        elif field == 4:
            entry["offset"] = v
        elif field == 5:
            entry["size"] = v
        elif field == 6:
            entry["crc32c"] = v
        elif field == 7:
            entry["sliced"] = True
    return entry


# ---------------------------------------------------------------------------------------------- SSTable
def _read_block(data: bytes, offset: int, size: int) -> bytes:
    block = data[offset : offset + size]
    trailer = data[offset + size : offset + size + 5]
    if len(block) != size or len(trailer) != 5:
        raise ValueError("block runs past the end of the file")
    if trailer[0] != 0:
        raise ValueError(f"compressed table blocks (type {trailer[0]}) are not supported")
    (stored,) = struct.unpack("<I", trailer[1:])
    if mask_crc(crc32c(block + trailer[:1])) != stored:
        raise ValueError("block checksum mismatch")
    return block


def _block_records(block: bytes) -> list[tuple[bytes, bytes]]:
    (n_restarts,) = struct.unpack_from("<I", block, len(block) - 4)
    end = len(block) - 4 - 4 * n_restarts
    records, key, pos = [], b"", 0
    while pos < end:
        shared, pos = _varint(block, pos)
        unshared, pos = _varint(block, pos)
        vlen, pos = _varint(block, pos)
        key = key[:shared] + block[pos : pos + unshared]
        pos += unshared
        records.append((key, block[pos : pos + vlen]))
        pos += vlen
    return records


def _handle(buf: bytes, pos: int = 0) -> tuple[int, int, int]:
    offset, pos = _varint(buf, pos)
    size, pos = _varint(buf, pos)
    return offset, size, pos


def read_index(index_path: str | Path) -> dict[str, dict]:
    """Variable name → entry (``dtype``, ``shape``, ``offset``, ``size``, ``crc32c``, ...) of a bundle's ``.index``."""
    path = Path(index_path)
    data = path.read_bytes()
    try:
        if len(data) < _FOOTER_LEN or struct.unpack("<Q", data[-8:])[0] != _FOOTER_MAGIC:
            raise ValueError("not a TensorFlow checkpoint index (bad footer magic)")
        footer = data[-_FOOTER_LEN:]
        _, _, pos = _handle(footer)  # metaindex handle (unused: no filters)
        idx_off, idx_size, _ = _handle(footer, pos)
        entries: dict[str, dict] = {}
        for _, handle in _block_records(_read_block(data, idx_off, idx_size)):
            off, size, _ = _handle(handle)
            for key, value in _block_records(_read_block(data, off, size)):
                if key == b"":
                    continue  # BundleHeaderProto
                entries[key.decode("utf-8")] = _parse_entry(value)
    except (ValueError, struct.error, IndexError, UnicodeDecodeError) as exc:
        raise ModelError(f"cannot read TensorFlow checkpoint index: {exc}", path=path) from exc
    return entries


def read_bundle(prefix: str | Path, *, skip=lambda name: False) -> dict[str, np.ndarray]:
    """All tensors of the bundle at ``prefix`` (``prefix + ".index"`` and ``prefix + ".data-00000-of-00001"``).

    ``skip(name)`` → True leaves a variable out (e.g. optimizer slots). Checksums are verified.
    """
    import numpy as np

    prefix = str(prefix)
    entries = read_index(prefix + ".index")
    data_path = Path(prefix + ".data-00000-of-00001")
    try:
        blob = data_path.read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read checkpoint data: {exc.strerror}", path=data_path) from exc
    out: dict[str, np.ndarray] = {}
    for name, e in sorted(entries.items()):
        if skip(name):
            continue
        if e["shard_id"] != 0 or e["sliced"]:
            raise ModelError(f"variable {name!r}: sharded or sliced tensors are not supported", path=data_path)
        if e["dtype"] not in _DTYPES:
            raise ModelError(f"variable {name!r}: unsupported dtype code {e['dtype']}", path=data_path)
        raw = blob[e["offset"] : e["offset"] + e["size"]]
        dtype = np.dtype(_DTYPES[e["dtype"]]).newbyteorder("<")
        n = int(np.prod(e["shape"], dtype=np.int64)) if e["shape"] else 1
        if len(raw) != e["size"] or e["size"] != n * dtype.itemsize:
            raise ModelError(f"variable {name!r}: size does not match its shape {e['shape']}", path=data_path)
        if e["crc32c"] is not None and mask_crc(crc32c(raw)) != e["crc32c"]:
            raise ModelError(f"variable {name!r}: checksum mismatch (corrupt checkpoint)", path=data_path)
        out[name] = np.frombuffer(raw, dtype=dtype).reshape(e["shape"]).copy()
    return out


# ---------------------------------------------------------------------------------------------- writer (tests)
def _block(records: list[tuple[bytes, bytes]]) -> bytes:
    """One uncompressed block, every key stored in full (a restart point at each record)."""
    body, restarts = bytearray(), []
    for key, value in records:
        restarts.append(len(body))
        body += _put_varint(0) + _put_varint(len(key)) + _put_varint(len(value)) + key + value
    for r in restarts:
        body += struct.pack("<I", r)
    body += struct.pack("<I", len(restarts))
    return bytes(body)


def _field(number: int, wire: int, payload: bytes) -> bytes:
    return _put_varint(number << 3 | wire) + payload


def write_bundle(prefix: str | Path, tensors: dict[str, np.ndarray]) -> None:
    """Write ``tensors`` as a V2 bundle that TensorFlow (and :func:`read_bundle`) can read. Used by the tests."""
    import numpy as np

    prefix = str(prefix)
    data, records = bytearray(), []
    header = _field(1, 0, _put_varint(1)) + _field(3, 2, _field(1, 0, _put_varint(1)))  # num_shards, version
    records.append((b"", header))
    for name in sorted(tensors):
        arr = np.array(tensors[name], order="C")  # (ascontiguousarray would make scalars 1-D)
        code = _DTYPE_CODES[arr.dtype.name]
        raw = arr.astype(arr.dtype.newbyteorder("<")).tobytes()
        dims = b"".join(_field(2, 2, _length(_field(1, 0, _put_varint(d)))) for d in arr.shape)
        entry = (
            _field(1, 0, _put_varint(code))
            + _field(2, 2, _length(dims))
            + (_field(4, 0, _put_varint(len(data))) if data else b"")
            + _field(5, 0, _put_varint(len(raw)))
            + _field(6, 5, struct.pack("<I", mask_crc(crc32c(raw))))
        )
        records.append((name.encode("utf-8"), entry))
        data += raw
    out = bytearray()

    def add_block(block: bytes) -> bytes:
        offset = len(out)
        out.extend(block + b"\x00" + struct.pack("<I", mask_crc(crc32c(block + b"\x00"))))
        return _put_varint(offset) + _put_varint(len(block))

    data_handle = add_block(_block(records))
    meta_handle = add_block(_block([]))
    index_handle = add_block(_block([(records[-1][0] + b"\x00", data_handle)]))
    footer = (meta_handle + index_handle).ljust(40, b"\x00") + struct.pack("<Q", _FOOTER_MAGIC)
    Path(prefix + ".index").write_bytes(bytes(out) + footer)
    Path(prefix + ".data-00000-of-00001").write_bytes(bytes(data))


def _length(payload: bytes) -> bytes:
    return _put_varint(len(payload)) + payload
