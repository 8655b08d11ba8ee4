#!/usr/bin/env python3
"""The load of bench/limits.sh, against a gateway on 127.0.0.1:PORT. Two modes, run as two
processes so that the flood's work never delays the timing of the verifies:

  verify  opens one kept-alive connection and sends paVerifyPaymentNotice on it, one after
          another (about 150 a second), timing each, until the file STOP exists or MAX_SECONDS
          pass; prints the latencies' percentiles.
  flood   starts UPLOADS requests of 1 MiB declared (Content-Length) that send STALL_BYTES of
          their body and then stall, opens IDLE connections that send nothing, holds them all
          for HOLD seconds while sampling the gateway's VmRSS (GATEWAY_PID), closes them, creates
          STOP; prints what was refused or shed and the peak RSS.

Each prints one JSON object. Loopback only; both stop by themselves.
"""

import json
import os
import socket
import sys
import threading
import time

PORT = int(os.environ.get("PORT", "18090"))
PID = int(os.environ.get("GATEWAY_PID", "0"))
STOP = os.environ.get("STOP", "/tmp/gpd-limits-stop")
MAX_SECONDS = float(os.environ.get("MAX_SECONDS", "90"))
UPLOADS = int(os.environ.get("UPLOADS", "400"))
IDLE = int(os.environ.get("IDLE", "5000"))
HOLD = float(os.environ.get("HOLD", "15"))
STALL_BYTES = int(os.environ.get("STALL_BYTES", str(512 * 1024)))
NOTICE = os.environ.get("NOTICE", "301000000000000144")
UPLOAD_LENGTH = 1 << 20
HOST = "127.0.0.1"

VERIFY = (
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns:pafn="http://pagopa-api.pagopa.gov.it/pa/paForNode.xsd"><soapenv:Body>'
    "<pafn:paVerifyPaymentNoticeReq><idPA>77777777777</idPA><idBrokerPA>77777777777</idBrokerPA>"
    "<idStation>77777777777_01</idStation><qrCode><fiscalCode>77777777777</fiscalCode>"
    f"<noticeNumber>{NOTICE}</noticeNumber></qrCode></pafn:paVerifyPaymentNoticeReq>"
    "</soapenv:Body></soapenv:Envelope>"
).encode()
VERIFY_REQUEST = (
    f"POST /partner HTTP/1.1\r\nHost: {HOST}:{PORT}\r\nContent-Type: text/xml\r\n"
    f"SOAPAction: paVerifyPaymentNotice\r\nContent-Length: {len(VERIFY)}\r\n\r\n"
).encode() + VERIFY


def rss_kib():
    with open(f"/proc/{PID}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def read_response(sock, buf):
    """One HTTP response from sock (buf: bytes already read); returns (status, body, rest)."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        rest += chunk
    return status, rest[:length], rest[length:]


def verify():
    sock = socket.create_connection((HOST, PORT))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = b""
    latencies, failures = [], 0
    started = time.monotonic()
    warm_until = started + 0.5  # the first verifies load the position's pages
    while not os.path.exists(STOP) and time.monotonic() - started < MAX_SECONDS:
        t0 = time.perf_counter()
        try:
            sock.sendall(VERIFY_REQUEST)
            status, body, buf = read_response(sock, buf)
            ok = status == 200 and b"<outcome>OK</outcome>" in body
        except OSError:
            ok = False
            sock = socket.create_connection((HOST, PORT))
            buf = b""
        elapsed = time.perf_counter() - t0
        if time.monotonic() >= warm_until:
            if ok:
                latencies.append(elapsed)
            else:
                failures += 1
        time.sleep(0.005)
    lat = latencies
    print(
        json.dumps(
            {
                "verifies": len(lat),
                "verify_failures": failures,
                "verify_p50_ms": round(percentile(lat, 50) * 1000, 2) if lat else None,
                "verify_p99_ms": round(percentile(lat, 99) * 1000, 2) if lat else None,
                "verify_max_ms": round(max(lat) * 1000, 2) if lat else None,
            }
        )
    )


def start_upload(results):
    try:
        s = socket.create_connection((HOST, PORT))
        s.sendall(
            (
                f"POST /organizations/77777777777/debtpositions HTTP/1.1\r\nHost: {HOST}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {UPLOAD_LENGTH}\r\n\r\n"
            ).encode()
        )
        s.settimeout(0.5)
        sent = 0
        chunk = b"x" * 65536
        while sent < STALL_BYTES:
            s.sendall(chunk[: min(len(chunk), STALL_BYTES - sent)])
            sent += min(len(chunk), STALL_BYTES - sent)
        results.append(s)
    except OSError:
        results.append(None)


def percentile(values, p):
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def answered_503(sock):
    """Whether the server answered 503 (or closed) on this connection already."""
    sock.setblocking(False)
    try:
        data = sock.recv(256)
        return data == b"" or data.startswith(b"HTTP/1.1 503")
    except BlockingIOError:
        return False
    except OSError:
        return True


def flood():
    rss_start = rss_kib()
    uploads = []
    threads = [threading.Thread(target=start_upload, args=(uploads,)) for _ in range(UPLOADS)]
    for t in threads:
        t.start()
    idle = []
    connect_errors = 0
    for _ in range(IDLE):
        try:
            idle.append(socket.create_connection((HOST, PORT), timeout=2))
        except OSError:
            connect_errors += 1
    for t in threads:
        t.join(timeout=10)

    rss_max = 0
    deadline = time.monotonic() + HOLD
    while time.monotonic() < deadline:
        rss_max = max(rss_max, rss_kib())
        time.sleep(0.2)

    held_uploads = [s for s in uploads if s is not None]
    refused = sum(1 for s in held_uploads if answered_503(s)) + (UPLOADS - len(held_uploads))
    idle_shed = sum(1 for s in idle if answered_503(s))
    for s in held_uploads + idle:
        s.close()
    open(STOP, "w").close()
    print(
        json.dumps(
            {
                "uploads": UPLOADS,
                "uploads_refused_503": refused,
                "idle": IDLE,
                "idle_shed": idle_shed,
                "idle_connect_errors": connect_errors,
                "hold_s": HOLD,
                "rss_start_mib": round(rss_start / 1024, 1),
                "rss_max_mib": round(rss_max / 1024, 1),
            }
        )
    )


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode == "verify":
        verify()
    elif mode == "flood":
        flood()
    else:
        sys.exit("usage: limits_load.py verify|flood")
