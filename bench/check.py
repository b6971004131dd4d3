#!/usr/bin/env python3
"""Checks that a bench target answers correctly before it is measured.

  check.py PORT FILE64K [--backend]

Over one keep-alive connection: GET / twice ("hello\\n"), GET /64k (the
bytes of FILE64K), POST /upload with 1 MiB ("ok\\n"); then GET / with
"Connection: close" on a new connection, which the server must close.
With --backend, also that /upload reads the whole body before it answers
(no answer while the body is incomplete).  Prints "ok" or what is wrong,
exit status 0 or 1.
"""

import http.client
import socket
import sys

TIMEOUT_S = 10
BODY_1M = b"x" * 1048576


class Wrong(Exception):
    pass


def expect(conn, method, path, want, body=None, headers=None):
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse()
    got = r.read()
    if r.status != 200 or got != want:
        raise Wrong(f"{method} {path}: status {r.status}, "
                    f"{len(got)} bytes {got[:40]!r}, expected 200 and "
                    f"{len(want)} bytes {want[:40]!r}")
    return r


def check_close(port):
    """GET / with Connection: close: the answer, then the server closes."""
    s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S)
    s.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
    got = b""
    try:
        while len(got) < 65536:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
    except socket.timeout:
        raise Wrong("GET / with Connection: close: connection left open")
    except ConnectionResetError:
        pass
    s.close()
    if (not got.startswith(b"HTTP/1.1 200")
            or not got.endswith(b"\r\n\r\nhello\n")):
        raise Wrong(f"GET / with Connection: close: answer {got[:60]!r}")


def check_body_read(port):
    """The backend must not answer /upload before the body is complete."""
    s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S)
    s.sendall(b"POST /upload HTTP/1.1\r\nHost: bench\r\n"
              b"Content-Length: 1048576\r\n\r\n" + BODY_1M[:1000])
    s.settimeout(0.5)
    try:
        early = s.recv(64)
    except socket.timeout:
        early = b""
    if early:
        raise Wrong("POST /upload answered before the body was read")
    s.settimeout(TIMEOUT_S)
    s.sendall(BODY_1M[1000:])
    if not s.recv(64).startswith(b"HTTP/1.1 200"):
        raise Wrong("POST /upload: no 200 once the body was complete")
    s.close()


def main(argv):
    if len(argv) not in (3, 4) or (len(argv) == 4 and argv[3] != "--backend"):
        sys.stderr.write(__doc__)
        return 2
    port = int(argv[1])
    with open(argv[2], "rb") as f:
        big = f.read()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port,
                                          timeout=TIMEOUT_S)
        expect(conn, "GET", "/", b"hello\n")
        first = conn.sock
        expect(conn, "GET", "/", b"hello\n")
        expect(conn, "GET", "/64k", big)
        expect(conn, "POST", "/upload", b"ok\n", body=BODY_1M,
               headers={"Content-Type": "application/octet-stream"})
        expect(conn, "GET", "/", b"hello\n")
        if conn.sock is not first:
            raise Wrong("the keep-alive connection was not kept")
        conn.close()
        check_close(port)
        if len(argv) == 4:
            check_body_read(port)
    except (Wrong, OSError, http.client.HTTPException) as e:
        print(f"port {port}: {e}")
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
