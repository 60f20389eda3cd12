"""Postern's IPC record format (lib/util/ipc.h) and queue files (lib/mail/queue.h),
for tests that talk to a service directly or look into the queue."""

import struct


def ipc_record(name, attrs=()):
    """One record: attrs is a list of (kind "i" or "s", key, value)."""
    body = bytes([len(name)]) + name.encode()
    for kind, key, value in attrs:
        raw = struct.pack(">q", value) if kind == "i" else value.encode()
        body += kind.encode() + bytes([len(key)]) + key.encode() + struct.pack(">I", len(raw)) + raw
    return struct.pack(">I", len(body)) + body


def ipc_decode(data, pos):
    """(name, [(key, value)], next pos), or None if the record is incomplete."""
    if len(data) < pos + 4:
        return None
    (length,) = struct.unpack(">I", data[pos:pos + 4])
    if len(data) < pos + 4 + length:
        return None
    body = data[pos + 4:pos + 4 + length]
    name = body[1:1 + body[0]].decode()
    q = 1 + body[0]
    attrs = []
    while q < len(body):
        kind = chr(body[q])
        key = body[q + 2:q + 2 + body[q + 1]].decode()
        q += 2 + body[q + 1]
        (vlen,) = struct.unpack(">I", body[q:q + 4])
        raw = body[q + 4:q + 4 + vlen]
        q += 4 + vlen
        attrs.append((key, struct.unpack(">q", raw)[0] if kind == "i" else raw.decode()))
    return name, attrs, pos + 4 + length


def read_records(path):
    """Every whole record of a file of records: [(name, attrs dict)]."""
    with open(path, "rb") as f:
        data = f.read()
    pos, out = 0, []
    while True:
        got = ipc_decode(data, pos)
        if got is None:
            return out
        name, attrs, pos = got
        out.append((name, dict(attrs)))


def read_queue_file(path):
    """(envelope dict, [rcpt dicts], content bytes) of a queue file."""
    with open(path, "rb") as f:
        data = f.read()
    magic = b"POSTERN-QUEUE 1\n"
    assert data.startswith(magic), path
    pos, env, rcpts = len(magic), {}, []
    while True:
        name, attrs, pos = ipc_decode(data, pos)
        attrs = dict(attrs)
        if name == "envelope":
            env = attrs
        elif name == "rcpt":
            rcpts.append(attrs)
        elif name == "content":
            return env, rcpts, data[pos:pos + attrs["size"]]
