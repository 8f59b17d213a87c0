#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The test "internet" of the egress suites (tests/integration/netlab.c), stdlib only.

  netlab-servers.py serve LOGDIR READY_FD
      Run inside the lab's internet netns (netlab.c configures the addresses first). Binds
      every service, writes "ready\\n" to READY_FD, then serves until killed:
        198.51.100.10:80, :8080, 198.51.100.11:80, [2001:db8:1::10]:80   HTTP
            GET /                 "lab ADDR:PORT host=HOST"
            GET /bytes/N          N deterministic bytes;  GET /sha256/N  their sha256 (hex)
        198.51.100.10:7000        TCP: reads to EOF (half-close), answers "got N SHA256"
        198.51.100.10:5000/udp    echo
        198.51.100.12:443         "TLS-ish": reads one ClientHello, logs its SNI, answers
                                  the fixed bytes NETLAB-TLS-OK (no real TLS)
        198.51.100.53:53 udp+tcp  authoritative for lab.test (ZONE below), REFUSED for
                                  anything else; logs every query name it receives;
                                  never answers silent.lab.test (over TCP it holds the
                                  connection open until the client closes it, 10 s at most)
                                  and answers slow.lab.test after SLOW_SECS
      Each service appends one line per request to LOGDIR/{http,tcp,udp,tls,dns}.log
      *before* answering, so a request that got an answer is always in the log. A DNS
      line: "PROTO SRC port=SPORT id=ID flags=HEX edns=E type=T name=NAME", E being "-"
      or "SIZE,do=0|1,opts=BYTES" (the query's OPT record).

  netlab-servers.py probe KIND ARGS...
      One client probe, run inside a sandbox or (the control) in the lab's host netns.
      Prints one line: "ok SECS DETAIL" or "fail SECS ERROR", SECS being the wall time of
      the whole attempt (name resolution included), and exits 0: the verdict is on stdout.
      Every probe gives up after 5 s, so a hang shows up as "fail 5.0xx timeout".
"""
import hashlib
import os
import random
import socket
import socketserver
import ssl
import struct
import sys
import threading
import time
import http.server

TIMEOUT = 5.0

ZONE_TTL = 300
# name -> [(type, value, ttl)]
ZONE = {
    "allowed.lab.test": [("A", "198.51.100.10", ZONE_TTL)],
    "blocked.lab.test": [("A", "198.51.100.11", ZONE_TTL)],
    "sni.lab.test": [("A", "198.51.100.12", ZONE_TTL)],
    "cdn.lab.test": [("A", "198.51.100.10", ZONE_TTL)],
    "short-ttl.lab.test": [("A", "198.51.100.10", 1)],
    "v6.lab.test": [("AAAA", "2001:db8:1::10", ZONE_TTL)],
    "alias.lab.test": [("CNAME", "allowed.lab.test", ZONE_TTL)],
    "hostaddr.lab.test": [("A", "203.0.113.2", ZONE_TTL)],    # the lab host's own address
    "loopback.lab.test": [("A", "127.0.0.1", ZONE_TTL)],
    "txt.lab.test": [("TXT", "netlab", ZONE_TTL)],
    "slow.lab.test": [("A", "198.51.100.10", ZONE_TTL)],    # answered after SLOW_SECS
}
WILDCARDS = {"wild.lab.test": [("A", "198.51.100.10", ZONE_TTL)]}  # *.wild.lab.test
ZONE_APEX = "lab.test"
SILENT = "silent.lab.test"  # logged, never answered
SLOW, SLOW_SECS = "slow.lab.test", 0.5
QTYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "TXT": 16, "AAAA": 28, "ANY": 255}
QTYPE_NAMES = {v: k for k, v in QTYPES.items()}

# ---------------------------------------------------------------------------------------
# server side

LOGDIR = None
_log_lock = threading.Lock()


def log(name, line):
    with _log_lock:
        with open(os.path.join(LOGDIR, name + ".log"), "a") as f:
            f.write(line + "\n")


_base = None


def base_block():
    global _base
    if _base is None:
        out, h = [], b"netlab"
        for _ in range(1 << 15):  # 32768 * 32 bytes = 1 MiB
            h = hashlib.sha256(h).digest()
            out.append(h)
        _base = b"".join(out)
    return _base


def gen_bytes(n):
    """N deterministic bytes in 64 KiB chunks, each a different window of the base block."""
    base, chunk, k = base_block(), 1 << 16, 0
    while n > 0:
        off = (k * 65537) % (len(base) - chunk)
        piece = base[off:off + min(chunk, n)]
        yield piece
        n -= len(piece)
        k += 1


def sha256_of(n):
    h = hashlib.sha256()
    for piece in gen_bytes(n):
        h.update(piece)
    return h.hexdigest()


class HTTPHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, body, ctype="text/plain"):
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        local = self.connection.getsockname()
        host = self.headers.get("Host", "-")
        log("http", "%s %d %s %s host=%s ua=%s" % (local[0], local[1], self.client_address[0],
                                                   self.path, host,
                                                   self.headers.get("User-Agent", "-")))
        parts = self.path.split("/")
        if self.path == "/upgrade" and self.headers.get("Upgrade"):
            # Switches to a protocol of its own: echoes every byte back, HTTP or not.
            self.send_response(101)
            self.send_header("Upgrade", self.headers.get("Upgrade"))
            self.send_header("Connection", "Upgrade")
            self.end_headers()
            self.wfile.flush()
            while True:
                b = self.connection.recv(65536)
                if not b:
                    break
                self.connection.sendall(b)
            self.close_connection = True
            return
        try:
            if len(parts) == 3 and parts[1] == "bytes":
                n = int(parts[2])
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(n))
                self.end_headers()
                for piece in gen_bytes(n):
                    self.wfile.write(piece)
                return
            if len(parts) == 3 and parts[1] == "sha256":
                self.reply((sha256_of(int(parts[2])) + "\n").encode())
                return
        except ValueError:
            self.send_error(400)
            return
        self.reply(("lab %s:%d host=%s\n" % (local[0], local[1], host)).encode())


class HTTPServer4(http.server.ThreadingHTTPServer):
    request_queue_size = 1024
    allow_reuse_address = True


class HTTPServer6(HTTPServer4):
    address_family = socket.AF_INET6


class TCPServer(socketserver.ThreadingTCPServer):
    request_queue_size = 1024
    allow_reuse_address = True
    daemon_threads = True


class HalfCloseHandler(socketserver.BaseRequestHandler):
    """Reads until the client shuts down its write side, then answers on the still open
    other direction."""

    def handle(self):
        h, n = hashlib.sha256(), 0
        self.request.settimeout(30)
        while n < (64 << 20):
            b = self.request.recv(65536)
            if not b:
                break
            h.update(b)
            n += len(b)
        log("tcp", "halfclose %s %d" % (self.client_address[0], n))
        self.request.sendall(("got %d %s\n" % (n, h.hexdigest())).encode())


H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def h2_frame(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
        struct.pack(">I", stream) + payload


class H2Handler(socketserver.BaseRequestHandler):
    """HTTP/2 with prior knowledge, just enough: answers every request (HEADERS) with
    :status 200 and "h2-ok". Logs each header block's bytes as latin-1, so a name sent as a
    plain literal (the h2 probe sends them so) can be looked for in the log."""

    def handle(self):
        s = self.request
        s.settimeout(30)
        if recv_exact(s, 24) != H2_PREFACE:
            log("h2", "no-preface %s" % self.client_address[0])
            return
        s.sendall(h2_frame(4, 0, 0))
        while True:
            head = recv_exact(s, 9)
            if head is None:
                return
            n = struct.unpack(">I", b"\0" + head[:3])[0]
            ftype, flags = head[3], head[4]
            stream = struct.unpack(">I", head[5:9])[0] & 0x7fffffff
            payload = recv_exact(s, n) if n else b""
            if payload is None:
                return
            if ftype == 4 and not flags & 1:
                s.sendall(h2_frame(4, 1, 0))
            elif ftype == 1:
                log("h2", "headers stream=%d block=%r" % (stream, payload.decode("latin-1")))
                # :status 200 (static index 8), then the body, ending the stream.
                s.sendall(h2_frame(1, 4, stream, b"\x88") + h2_frame(0, 1, stream, b"h2-ok\n"))
            elif ftype == 7:
                return


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            return None
        b += c
    return b


def parse_sni(hello):
    """The server_name of a ClientHello handshake message, or None."""
    try:
        if hello[0] != 1:
            return None
        p = 4 + 2 + 32
        p += 1 + hello[p]
        p += 2 + struct.unpack("!H", hello[p:p + 2])[0]
        p += 1 + hello[p]
        end = p + 2 + struct.unpack("!H", hello[p:p + 2])[0]
        p += 2
        while p + 4 <= end:
            t, ln = struct.unpack("!HH", hello[p:p + 4])
            p += 4
            if t == 0:
                q = p + 2
                if hello[q] == 0:
                    nl = struct.unpack("!H", hello[q + 1:q + 3])[0]
                    return hello[q + 3:q + 3 + nl].decode("ascii", "replace")
            p += ln
    except (IndexError, struct.error):
        pass
    return None


class TLSHandler(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.settimeout(10)
        hdr = recv_exact(self.request, 5)
        if not hdr or hdr[0] != 0x16:
            log("tls", "%s garbage" % self.client_address[0])
            return
        ln = struct.unpack("!H", hdr[3:5])[0]
        body = recv_exact(self.request, min(ln, 16384)) or b""
        log("tls", "%s sni=%s" % (self.client_address[0], parse_sni(body) or "-"))
        self.request.sendall(b"NETLAB-TLS-OK\n")


# --- DNS -------------------------------------------------------------------------------

def name_to_wire(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def parse_edns(msg, p):
    """The OPT record at p (after the question), as logged: "SIZE,do=D,opts=N", or "-"."""
    if struct.unpack("!H", msg[10:12])[0] < 1 or p + 11 > len(msg) or msg[p] != 0:
        return "-"
    rtype, size, ttl, rdlen = struct.unpack("!HHIH", msg[p + 1:p + 11])
    if rtype != 41:
        return "-"
    return "%d,do=%d,opts=%d" % (size, ttl >> 15 & 1, rdlen)


def parse_question(msg):
    """(id, flags, labels, qtype, question_bytes) or None."""
    if len(msg) < 12:
        return None
    qid, flags, qd = struct.unpack("!HHH", msg[:6])
    if flags & 0x8000 or qd != 1:
        return None
    p, labels = 12, []
    while True:
        if p >= len(msg):
            return None
        ln = msg[p]
        p += 1
        if ln == 0:
            break
        if ln & 0xC0 or p + ln > len(msg):
            return None
        labels.append(msg[p:p + ln])
        p += ln
    if p + 4 > len(msg):
        return None
    qtype = struct.unpack("!H", msg[p:p + 2])[0]
    return qid, flags, labels, qtype, msg[12:p + 4]


def show_name(labels):
    def one(b):
        return "".join(chr(c) if 0x21 <= c < 0x7F and c not in (0x2E, 0x5C) else "\\%03d" % c
                       for c in b)
    return ".".join(one(b) for b in labels) or "."


def rdata(rtype, value):
    if rtype == "A":
        return socket.inet_pton(socket.AF_INET, value)
    if rtype == "AAAA":
        return socket.inet_pton(socket.AF_INET6, value)
    if rtype == "CNAME":
        return name_to_wire(value)
    if rtype == "TXT":
        return bytes([len(value)]) + value.encode()
    raise ValueError(rtype)


def lookup(name):
    if name in ZONE:
        return ZONE[name]
    head, _, rest = name.partition(".")
    return WILDCARDS.get(rest) if head else None


def dns_answer(msg, proto, src):
    q = parse_question(msg)
    if q is None:
        log("dns", "%s %s malformed len=%d" % (proto, src[0], len(msg)))
        return None
    qid, flags, labels, qtype, question = q
    shown = show_name(labels)
    log("dns", "%s %s port=%d id=%d flags=%04x edns=%s type=%s name=%s" % (
        proto, src[0], src[1], qid, flags, parse_edns(msg, 12 + len(question)),
        QTYPE_NAMES.get(qtype, str(qtype)), shown))
    name = shown.lower()
    if name == SILENT:
        return b""
    answers, rcode = [], 0
    if name != ZONE_APEX and not name.endswith("." + ZONE_APEX):
        rcode = 5  # REFUSED: not our zone
    else:
        owner, first, seen = name, True, set()
        while owner not in seen:
            seen.add(owner)
            records = lookup(owner)
            if records is None:
                if first:
                    rcode = 3  # NXDOMAIN
                break
            wire = b"\xc0\x0c" if first else name_to_wire(owner)
            cname = None
            for rtype, value, ttl in records:
                if QTYPES[rtype] == qtype or qtype == 255 or rtype == "CNAME":
                    rd = rdata(rtype, value)
                    answers.append(wire + struct.pack("!HHIH", QTYPES[rtype], 1, ttl, len(rd)) + rd)
                    if rtype == "CNAME":
                        cname = value
            if cname is None or qtype == QTYPES["CNAME"]:
                break
            owner, first = cname, False
    hdr = struct.pack("!HHHHHH", qid, 0x8400 | (flags & 0x0100) | rcode, 1, len(answers), 0, 0)
    return hdr + question + b"".join(answers)


def is_slow(msg):
    q = parse_question(msg)
    return q is not None and show_name(q[2]).lower() == SLOW


def dns_udp(sock):
    while True:
        msg, src = sock.recvfrom(4096)
        resp = dns_answer(msg, "udp", src)
        if resp and is_slow(msg):
            threading.Timer(SLOW_SECS, sock.sendto, (resp, src)).start()
        elif resp:
            sock.sendto(resp, src)


class DNSTCPHandler(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.settimeout(10)
        while True:
            hdr = recv_exact(self.request, 2)
            if not hdr:
                return
            msg = recv_exact(self.request, struct.unpack("!H", hdr)[0])
            if msg is None:
                return
            resp = dns_answer(msg, "tcp", self.client_address)
            if resp == b"":  # silent: held open, unanswered, until the client goes
                try:
                    while self.request.recv(4096):
                        pass
                except OSError:
                    pass
                return
            if not resp:
                return
            if is_slow(msg):
                time.sleep(SLOW_SECS)
            self.request.sendall(struct.pack("!H", len(resp)) + resp)


def udp_echo(sock):
    while True:
        msg, src = sock.recvfrom(65535)
        log("udp", "%s %d %d" % (src[0], src[1], len(msg)))
        sock.sendto(msg, src)


def serve(logdir, ready_fd):
    global LOGDIR
    LOGDIR = logdir
    threads = []

    def bg(fn, *a):
        t = threading.Thread(target=fn, args=a, daemon=True)
        threads.append(t)

    for cls, addr in ((HTTPServer4, ("198.51.100.10", 80)), (HTTPServer4, ("198.51.100.10", 8080)),
                      (HTTPServer4, ("198.51.100.11", 80)), (HTTPServer6, ("2001:db8:1::10", 80))):
        s = cls(addr, HTTPHandler)
        s.daemon_threads = True
        bg(s.serve_forever)
    bg(TCPServer(("198.51.100.10", 7000), HalfCloseHandler).serve_forever)
    bg(TCPServer(("198.51.100.10", 8081), H2Handler).serve_forever)
    bg(TCPServer(("198.51.100.12", 443), TLSHandler).serve_forever)
    bg(TCPServer(("198.51.100.53", 53), DNSTCPHandler).serve_forever)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("198.51.100.53", 53))
    bg(dns_udp, u)
    e = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    e.bind(("198.51.100.10", 5000))
    bg(udp_echo, e)
    for name in ("http", "tcp", "udp", "tls", "dns", "h2"):
        open(os.path.join(logdir, name + ".log"), "a").close()
    base_block()
    for t in threads:
        t.start()
    os.write(ready_fd, b"ready\n")
    os.close(ready_fd)
    while True:
        time.sleep(3600)


# ---------------------------------------------------------------------------------------
# client probes

class Fail(Exception):
    pass


def err_name(e):
    if isinstance(e, socket.timeout):
        return "timeout"
    if isinstance(e, socket.gaierror):
        return "gaierror:%s" % (e.args[1] if len(e.args) > 1 else e).__str__().replace(" ", "_")
    if isinstance(e, OSError) and e.errno:
        import errno
        return errno.errorcode.get(e.errno, str(e.errno))
    return type(e).__name__ + ":" + str(e).replace(" ", "_")[:80]


def connect(host, port):
    return socket.create_connection((host, int(port)), timeout=TIMEOUT)


def read_all(s, limit=1 << 20):
    out = b""
    while len(out) < limit:
        b = s.recv(65536)
        if not b:
            break
        out += b
    return out


def http_get(s, host_hdr, path="/"):
    s.sendall(("GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: netlab-probe\r\n\r\n"
               % (path, host_hdr)).encode())
    resp = read_all(s)
    if not resp:
        raise Fail("eof")
    head, _, body = resp.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].decode("latin-1")
    if " 200 " not in status + " ":
        raise Fail("status:" + status.replace(" ", "_"))
    return body.decode("latin-1").split("\n", 1)[0]


def p_http(host, port, host_hdr=None, path="/"):
    """GET PATH from HOST:PORT (HOST may be a name: resolved by libc) with Host HOST_HDR."""
    with connect(host, port) as s:
        return http_get(s, host_hdr or host, path)


def read_head(s, buf=b""):
    """Reads until buf holds a whole response head."""
    while b"\r\n\r\n" not in buf:
        b = s.recv(65536)
        if not b:
            raise Fail("eof")
        buf += b
    return buf


def read_response(s, buf=b""):
    """One HTTP/1.1 response with a Content-Length, leaving the connection open (buf: its
    first bytes, already read)."""
    buf = read_head(s, buf)
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if " 200 " not in lines[0] + " ":
        raise Fail("status:" + lines[0].replace(" ", "_"))
    n = 0
    for line in lines[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == "content-length":
            n = int(v)
    while len(body) < n:
        b = s.recv(65536)
        if not b:
            raise Fail("eof-in-body")
        body += b
    return body.decode("latin-1").split("\n", 1)[0]


def p_hold(host, port, host_hdr, secs):
    """One GET on a keep-alive connection, SECS with the connection open and idle, then a
    second GET on the same connection."""
    req = "GET / HTTP/1.1\r\nHost: %s\r\n\r\n" % host_hdr
    with connect(host, port) as s:
        s.settimeout(TIMEOUT + float(secs))
        s.sendall(req.encode())
        read_response(s)
        time.sleep(float(secs))
        s.sendall(req.encode())
        return read_response(s)


def p_keepalive(host, port, host1, host2):
    """Two GETs on one kept-alive connection, with Host HOST1 and then HOST2."""
    with connect(host, port) as s:
        s.sendall(("GET / HTTP/1.1\r\nHost: %s\r\n\r\n" % host1).encode())
        read_response(s)
        s.sendall(("GET / HTTP/1.1\r\nHost: %s\r\n\r\n" % host2).encode())
        return read_response(s)


def p_h2(host, port, *names):
    """HTTP/2 with prior knowledge: one request per name, streams 1, 3, ... on one
    connection, each header block HPACK-coded as plain literals (:authority NAME); ok when
    every request was answered. With "wait" first, as gRPC clients do: the server's SETTINGS
    are awaited before the first request."""
    def block(name):
        n = name.encode()
        # :method GET, :scheme http, :path / (static), :authority literal without indexing
        return b"\x82\x86\x84\x01" + bytes([len(n)]) + n
    wait = names[:1] == ("wait",)
    names = names[1:] if wait else names
    with connect(host, port) as s:
        s.sendall(H2_PREFACE + h2_frame(4, 0, 0))
        if wait:
            head = recv_exact(s, 9)
            if head is None or head[3] != 4:
                raise Fail("no-server-settings")
        answered = 0
        for i, name in enumerate(names):
            stream = 2 * i + 1
            s.sendall(h2_frame(1, 5, stream, block(name)))
            while True:
                head = recv_exact(s, 9)
                if head is None:
                    raise Fail("eof-after:%d" % answered)
                n = struct.unpack(">I", b"\0" + head[:3])[0]
                payload = recv_exact(s, n) if n else b""
                if payload is None:
                    raise Fail("eof-after:%d" % answered)
                if head[3] == 0 and head[4] & 1:
                    if payload != b"h2-ok\n":
                        raise Fail("body")
                    answered += 1
                    break
        return "%d-answered" % answered


def p_upgrade(host, port, path, host2):
    """GET PATH with "Upgrade: echo" and Host HOST. On 101 the stream is the server's echo:
    an HTTP request naming HOST2 sent through it must come back as it was. Otherwise the
    connection stays HTTP, and a second GET names HOST2."""
    second = ("GET / HTTP/1.1\r\nHost: %s\r\n\r\n" % host2).encode()
    with connect(host, port) as s:
        s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n"
                   % (path, host)).encode())
        buf = read_head(s)
        status = buf.split(b"\r\n", 1)[0].decode("latin-1")
        if " 101 " in status + " ":
            s.sendall(second)
            got = buf.partition(b"\r\n\r\n")[2]
            while len(got) < len(second):
                b = s.recv(65536)
                if not b:
                    raise Fail("eof-in-echo")
                got += b
            if got != second:
                raise Fail("echo-differs")
            return "upgraded-echo-ok"
        # Not upgraded: the rest of the first answer, then a second request.
        read_response(s, buf)
        s.sendall(second)
        return read_response(s)


def p_tfo(host, port):
    """GET / over TCP Fast Open: sendto(MSG_FASTOPEN) connects and sends in one call, with
    no connect() at all."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        # Blocking: a non-blocking Fast Open send without a cookie is EINPROGRESS.
        s.sendto(("GET / HTTP/1.0\r\nHost: %s\r\nUser-Agent: netlab-tfo\r\n\r\n"
                  % host).encode(), socket.MSG_FASTOPEN, (host, int(port)))
        s.settimeout(TIMEOUT)
        resp = read_all(s)
    finally:
        s.close()
    if b" 200 " not in resp.split(b"\r\n", 1)[0] + b" ":
        raise Fail("status")
    return "tfo"


def p_unix():
    """connect() on a unix socket inside the sandbox, and on a pipe (ENOTSOCK): neither is
    held or refused by the connect() records."""
    import tempfile
    d = tempfile.mkdtemp()
    path = os.path.join(d, "s")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.settimeout(TIMEOUT)
    c.connect(path)
    a, _ = srv.accept()
    a.sendall(b"hi")
    if c.recv(2) != b"hi":
        raise Fail("unix")
    r, w = os.pipe()
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.connect(r, None, 0) != -1 or ctypes.get_errno() != 88:  # ENOTSOCK
            raise Fail("pipe-connect-errno-%d" % ctypes.get_errno())
    finally:
        os.close(r)
        os.close(w)
    return "unix"


def p_connect(host, port):
    """A bare TCP connect (the control for listeners that never answer)."""
    with connect(host, port):
        return "connected"


def p_udp(host, port):
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(TIMEOUT)
    s.connect((host, int(port)))
    token = ("netlab-%016x" % random.getrandbits(64)).encode()
    s.send(token)
    got = s.recv(65535)
    if got != token:
        raise Fail("mismatch")
    return "echo"


def checksum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def p_icmp(host):
    """One ICMP echo: a ping socket if allowed (net.ipv4.ping_group_range), else raw."""
    try:
        s, raw = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP), False
    except OSError as e1:
        try:
            s, raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP), True
        except OSError as e2:
            raise Fail("socket:%s/%s" % (err_name(e1), err_name(e2)))
    s.settimeout(TIMEOUT)
    payload = ("netlab-%016x" % random.getrandbits(64)).encode()
    ident = os.getpid() & 0xFFFF
    pkt = struct.pack("!BBHHH", 8, 0, 0, ident, 1) + payload
    pkt = pkt[:2] + struct.pack("!H", checksum(pkt)) + pkt[4:]
    s.sendto(pkt, (host, 0))
    deadline = time.monotonic() + TIMEOUT
    while True:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        b = s.recv(65535)
        if raw:
            b = b[(b[0] & 0x0F) * 4:]
        if b[0] == 0 and b[8:] == payload:
            return "echo-reply"
        if b[0] == 3:
            raise Fail("unreachable:%d" % b[1])


def dns_query(name, qtype, edns, flags=0x0100, do=False, cookie=False):
    """edns: the OPT's payload size, or 0 for no OPT; cookie adds a COOKIE option."""
    qid = random.getrandbits(16)
    msg = struct.pack("!HHHHHH", qid, flags, 1, 0, 0, 1 if edns else 0)
    msg += name_to_wire(name) + struct.pack("!HH", QTYPES[qtype], 1)
    if edns:  # OPT: root name, type 41, udp size, DO, options
        opts = struct.pack("!HH", 10, 8) + b"netlabck" if cookie else b""
        msg += b"\0" + struct.pack("!HHIH", 41, edns, 0x8000 if do else 0, len(opts)) + opts
    return qid, msg


def skip_name(b, p):
    while True:
        ln = b[p]
        if ln & 0xC0 == 0xC0:
            return p + 2
        p += 1 + ln
        if ln == 0:
            return p


def dns_parse(b, qid, question=None):
    rid, flags, qd, an = struct.unpack("!HHHH", b[:8])
    if rid != qid:
        raise Fail("wrong-id")
    if question is not None and b[12:12 + len(question)] != question:
        raise Fail("question-differs")
    rcode = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 5: "REFUSED"}.get(
        flags & 0xF, str(flags & 0xF))
    p = 12
    for _ in range(qd):
        p = skip_name(b, p) + 4
    out = []
    for _ in range(an):
        p = skip_name(b, p)
        t, _, _, ln = struct.unpack("!HHIH", b[p:p + 10])
        p += 10
        if t == 1:
            out.append(socket.inet_ntop(socket.AF_INET, b[p:p + ln]))
        elif t == 28:
            out.append(socket.inet_ntop(socket.AF_INET6, b[p:p + ln]))
        elif t == 5:
            out.append("CNAME")
        p += ln
    return "rcode=%s %s%s" % (rcode, ",".join(out) or "-", "" if flags & 0x0100 else " rd=0")


def resolv_conf_server():
    try:
        with open("/etc/resolv.conf") as f:
            for line in f:
                w = line.split()
                if len(w) >= 2 and w[0] == "nameserver":
                    return w[1]
    except OSError:
        pass
    return "127.0.0.1"


def p_dns(name, *opts):
    """A hand-made query: dns NAME [server=ADDR] [type=A] [tcp] [edns|edns=SIZE] [do]
    [cookie] [flags=HEX]; ok = an answer came back (any rcode, shown in the detail, with
    " rd=0" when its RD bit is clear) with our id and our question, byte for byte."""
    kv = dict(o.split("=", 1) for o in opts if "=" in o)
    server = kv.get("server") or resolv_conf_server()
    edns = int(kv["edns"]) if "edns" in kv else 1232 if "edns" in opts else 0
    qid, msg = dns_query(name, kv.get("type", "A"), edns, int(kv.get("flags", "0x0100"), 16),
                         "do" in opts, "cookie" in opts)
    question = msg[12:12 + len(name_to_wire(name)) + 4]
    fam = socket.AF_INET6 if ":" in server else socket.AF_INET
    if "tcp" in opts:
        with socket.create_connection((server, 53), timeout=TIMEOUT) as s:
            s.sendall(struct.pack("!H", len(msg)) + msg)
            ln = recv_exact(s, 2)
            if not ln:
                raise Fail("eof")
            b = recv_exact(s, struct.unpack("!H", ln)[0])
            if b is None:
                raise Fail("eof")
    else:
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.settimeout(TIMEOUT)
        s.connect((server, 53))
        s.send(msg)
        b = s.recv(65535)
    return dns_parse(b, qid, question)


def p_dnsreset(name, count, interval, mark):
    """COUNT times, INTERVAL s apart: a DNS-over-TCP query for NAME to the resolv.conf
    server, then the connection reset (SO_LINGER 0) with the query unanswered. MARK, a
    path, is created after the first reset."""
    server = resolv_conf_server()
    for i in range(int(count)):
        _, msg = dns_query(name, "A", 0)
        s = socket.create_connection((server, 53), timeout=TIMEOUT)
        s.sendall(struct.pack("!H", len(msg)) + msg)
        time.sleep(0.05)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
        if i == 0:
            open(mark, "w").close()
        time.sleep(float(interval))
    return "%s-resets" % count


def p_dnsburst(name, count, *opts):
    """dnsburst NAME COUNT [server=ADDR]: COUNT queries for NAME at once over UDP, each from
    a socket of its own and with the case of NAME's first letters varied; ok when each got
    an answer with its id and its question, byte for byte. The detail: "COUNT-answered"
    and each distinct answer."""
    server = dict(o.split("=", 1) for o in opts if "=" in o).get("server") or \
        resolv_conf_server()
    sent, answers = [], set()
    for i in range(int(count)):
        qname = "".join(c.upper() if i >> k & 1 else c for k, c in enumerate(name))
        qid, msg = dns_query(qname, "A", 0)
        s = socket.socket(socket.AF_INET6 if ":" in server else socket.AF_INET,
                          socket.SOCK_DGRAM)
        s.settimeout(TIMEOUT)
        s.connect((server, 53))
        s.send(msg)
        sent.append((s, qid, msg[12:12 + len(name_to_wire(qname)) + 4]))
    for s, qid, question in sent:
        answers.add(dns_parse(s.recv(65535), qid, question).replace(" ", ":"))
        s.close()
    return "%s-answered %s" % (count, ",".join(sorted(answers)))


def p_resolve(name):
    """libc's getaddrinfo (resolv.conf, as every client does)."""
    infos = socket.getaddrinfo(name, 80, type=socket.SOCK_STREAM)
    return ",".join(sorted({i[4][0] for i in infos}))


def with_ech(hello):
    """The ClientHello record with an encrypted_client_hello extension (0xfe0d) added, an
    outer one with random contents, as a GREASE or real ECH client sends it."""
    body = hello[9:]
    p = 2 + 32
    p += 1 + body[p]                                # session id
    p += 2 + int.from_bytes(body[p:p + 2], "big")   # cipher suites
    p += 1 + body[p]                                # compression
    ext_len = int.from_bytes(body[p:p + 2], "big")
    ech = b"\x00\x00\x01\x00\x01\x2a" + b"\x00\x20" + os.urandom(32) + b"\x00\x40" + os.urandom(64)
    ext = b"\xfe\x0d" + len(ech).to_bytes(2, "big") + ech
    body = body[:p] + (ext_len + len(ext)).to_bytes(2, "big") + body[p + 2:] + ext
    hs = b"\x01" + len(body).to_bytes(3, "big") + body
    return hello[:3] + len(hs).to_bytes(2, "big") + hs


def p_leaderless(host, port):
    """A GET from a thread once the main thread has exited (SYS_exit, as pthread_exit in a C
    program's main does): /proc/PID then lists no fds and no exe. The thread prints the
    verdict and ends the process."""
    import ctypes

    def run():
        t0 = time.monotonic()
        time.sleep(0.2)
        try:
            out = "ok %.3f %s" % (time.monotonic() - t0, p_http(host, port))
        except Exception as e:
            out = "fail %.3f %s" % (time.monotonic() - t0, err_name(e))
        sys.stdout.write(out + "\n")
        sys.stdout.flush()
        os._exit(0)
    threading.Thread(target=run).start()
    sys.stdout.flush()
    ctypes.CDLL(None).syscall(60, 0)


def p_sameport(host1, host2, port):
    """Two connections from one local port (SO_REUSEADDR, as the kernel's own connect() may
    share a port between destinations) to HOST1:PORT and HOST2:PORT, a GET on each."""
    socks = []
    try:
        for h in (host1, host2):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.settimeout(TIMEOUT)
            s.bind(("0.0.0.0", socks[0].getsockname()[1] if socks else 0))
            socks.append(s)
        for s, h in zip(socks, (host1, host2)):
            s.connect((h, int(port)))
        lines = []
        for s, h in zip(socks, (host1, host2)):
            s.sendall(("GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % h).encode())
            lines.append(read_response(s))
        return "port %d: %s" % (socks[0].getsockname()[1], " | ".join(lines))
    finally:
        for s in socks:
            s.close()


def p_tls(host, port, sni, *opts):
    """A real ClientHello (made by OpenSSL through a memory BIO) naming SNI, sent to
    HOST:PORT; ok when the lab's TLS-ish server answered its fixed bytes. Option "ech" adds an
    Encrypted Client Hello extension."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname=sni)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = out.read()
    if "ech" in opts:
        hello = with_ech(hello)
    with connect(host, port) as s:
        s.sendall(hello)
        got = read_all(s)
    if got != b"NETLAB-TLS-OK\n":
        raise Fail("reply:%r" % got[:40] if got else "eof")
    return "tls-ok"


def halfclose_payload(host_hdr, n):
    head = ("PUT /halfclose HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n"
            % (host_hdr, n)).encode()
    body = bytes((i * 7 + 3) & 0xFF for i in range(n))
    return head + body


def p_halfclose(host, port, host_hdr):
    """Sends a request, shuts down its write side, and still reads the answer."""
    data = halfclose_payload(host_hdr, 100000)
    with connect(host, port) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        got = read_all(s).decode("latin-1").strip()
    want = "got %d %s" % (len(data), hashlib.sha256(data).hexdigest())
    if got != want:
        raise Fail("reply:" + (got.replace(" ", "_")[:60] or "eof"))
    return "halfclose-ok"


def p_concurrent(host, port, n, host_hdr):
    """Opens N connections, all at once, then a GET on each, then reads every answer."""
    n = int(n)
    addr = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)[0]
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(addr[0], socket.SOCK_STREAM)
            s.settimeout(30)
            s.connect(addr[4])
            socks.append(s)
        for s in socks:
            s.sendall(("GET / HTTP/1.0\r\nHost: %s\r\n\r\n" % host_hdr).encode())
        good = 0
        for s in socks:
            r = read_all(s)
            if r.startswith(b"HTTP/1.") and b" 200 " in r.split(b"\r\n", 1)[0] + b" ":
                good += 1
    finally:
        for s in socks:
            s.close()
    if good != n:
        raise Fail("only:%d/%d" % (good, n))
    return "%d-ok" % n


def p_urllib(url):
    """Python's own HTTP client (urllib), for binaries tests."""
    import urllib.request
    with urllib.request.urlopen(url, timeout=TIMEOUT) as r:
        return r.read().decode("latin-1").split("\n", 1)[0]


def p_late(host, port, host_hdr, secs):
    """Connects, stays silent for SECS (past the relay's wait for a first byte), then sends
    one GET with Host HOST_HDR."""
    with connect(host, port) as s:
        s.settimeout(TIMEOUT + float(secs))
        time.sleep(float(secs))
        return http_get(s, host_hdr)


def p_borrow(host, port):
    """Identity borrowing: an allowed binary (curl) holds the very socket that python
    connects and sends on. curl gets the socket by inheritance, first fetches
    http://HOST:PORT/ itself (a recent, legitimate client), then blocks reading stdin; a
    python child forked after curl connects the shared socket and sends its own GET."""
    import subprocess
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    curl = subprocess.Popen(["/usr/bin/curl", "-s", "-m", "30", "-o", "/dev/null",
                             "http://%s:%s/" % (host, port), "-o", "/dev/null",
                             "file:///dev/stdin"],
                            stdin=subprocess.PIPE, pass_fds=[s.fileno()])
    try:
        time.sleep(1.0)
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            try:
                s.settimeout(TIMEOUT)
                s.connect((host, int(port)))
                s.sendall(("GET /borrow HTTP/1.0\r\nHost: %s\r\nUser-Agent: netlab-borrow"
                           "\r\n\r\n" % host).encode())
                resp = read_all(s)
                out = ("ok " + resp.split(b"\r\n", 1)[0].decode("latin-1")) if resp else "fail eof"
            except Exception as e:
                out = "fail " + err_name(e)
            os.write(w, out.encode())
            os._exit(0)
        os.close(w)
        s.close()
        got = b""
        while True:
            b = os.read(r, 4096)
            if not b:
                break
            got += b
        os.waitpid(pid, 0)
        os.close(r)
    finally:
        curl.stdin.close()
        curl.wait()
    verdict, _, detail = got.decode("latin-1").partition(" ")
    if verdict != "ok" or " 200 " not in detail + " ":
        raise Fail((detail or "nothing").replace(" ", "_"))
    return "borrowed"


def p_handoff(host, port):
    """The connect-then-exec race: python connects and sends its own GET, then execs an
    allowed binary (curl) that inherits the socket as fd 9 and makes a request of its own,
    which keeps it alive until the relay has decided both sockets, so the relay, if it has
    not accepted yet, finds only curl holding the socket. Prints nothing after the exec:
    the test reads the server's log and the events."""
    s = socket.create_connection((host, int(port)), timeout=TIMEOUT)
    s.sendall(("GET /handoff HTTP/1.0\r\nHost: %s\r\nUser-Agent: netlab-handoff"
               "\r\n\r\n" % host).encode())
    os.dup2(s.fileno(), 9)  # inheritable
    sys.stdout.flush()
    os.execv("/usr/bin/curl", ["curl", "-s", "-m", "5", "-o", "/dev/null",
                               "http://%s:%s/" % (host, port)])


PROBES = {"handoff": p_handoff, "tfo": p_tfo, "unix": p_unix, "borrow": p_borrow, "late": p_late, "http": p_http, "hold": p_hold, "connect": p_connect, "udp": p_udp, "icmp": p_icmp,
          "dns": p_dns, "dnsreset": p_dnsreset, "dnsburst": p_dnsburst, "resolve": p_resolve, "tls": p_tls, "sameport": p_sameport, "leaderless": p_leaderless, "halfclose": p_halfclose,
          "concurrent": p_concurrent, "urllib": p_urllib,
          "keepalive": p_keepalive, "upgrade": p_upgrade, "h2": p_h2}


def probe(kind, args):
    t0 = time.monotonic()
    try:
        detail, ok = PROBES[kind](*args), True
    except Fail as e:
        detail, ok = str(e), False
    except Exception as e:  # every failure is a verdict, not a crash
        detail, ok = err_name(e), False
    secs = time.monotonic() - t0
    print("%s %.3f %s" % ("ok" if ok else "fail", secs, str(detail).replace("\n", " ")),
          flush=True)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "serve":
        serve(sys.argv[2], int(sys.argv[3]))
    elif len(sys.argv) >= 3 and sys.argv[1] == "probe" and sys.argv[2] in PROBES:
        probe(sys.argv[2], sys.argv[3:])
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
