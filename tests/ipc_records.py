"""Records in Postern's IPC format (lib/util/ipc.h; encoded and decoded by
postern_test) as lists, and queue files (lib/mail/queue.h), for tests that talk
to a service directly or look into the queue."""

import os
import struct

from postern_test import decode_attrs, encode_record


def ipc_record(name, attrs=()):
    """One record: attrs is a list of (kind "i" or "s", key, value)."""
    return encode_record(name, [(key, value) for _kind, key, value in attrs])


def ipc_decode(data, pos):
    """(name, [(key, value)], next pos), or None if the record is incomplete."""
    if len(data) < pos + 4:
        return None
    (length,) = struct.unpack(">I", data[pos:pos + 4])
    if len(data) < pos + 4 + length:
        return None
    name, attrs = decode_attrs(data[pos + 4:pos + 4 + length])
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


def queued_messages(directory):
    """The queue file names in directory, sorted, without smtpd's postmaster
    notices (notify_classes resource and software are on by default: a
    session that met a lookup or write error queues one, from the null
    sender with origin double-bounce)."""
    out = []
    for name in sorted(os.listdir(directory)):
        try:
            env, _, _ = read_queue_file(os.path.join(directory, name))
        except (OSError, AssertionError, TypeError):
            out.append(name)  # being written, or not ours to judge
            continue
        if env.get("origin") == "double-bounce" and env.get("sender") == "":
            continue
        out.append(name)
    return out
