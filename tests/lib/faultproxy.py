#!/usr/bin/env python3
"""faultproxy: a fault-injecting HTTP/1.1 reverse proxy for inetboot's tests.

Python 3 standard library only (asyncio).  It sits between a client (curl,
inetboot-httpfs) and a real web server (nginx), forwards every request, relays
every response, and with probability --rate damages a response in one of the
ways a bad mirror, CDN or network can:

  flip      flip one random bit of the body
  truncate  send the headers (with the right Content-Length) and only part of
            the body, then close the connection
  badrange  rewrite the Content-Range of a 206 to a wrong but well-formed range
            (shifted by one 4 KiB block, or by one byte, or a wrong total when
            the range cannot move), keeping the body
  norange   answer 200 OK with the whole file: the request goes upstream
            without its Range (and If-Range) header
  5xx       answer 503 Service Unavailable with a small body (upstream unasked)
  reset     close the connection abruptly without answering (SO_LINGER 0: RST)
  stall     send the headers and part of the body, then stall --stall-seconds
            before closing (an empty body stalls before the headers); with
            --stall-after N, exactly N bytes of a body longer than N (a body
            of N bytes or fewer is not stalled)
  etag      change the ETag value, as if the file had been replaced

Usage:

  faultproxy.py --upstream [HOST:]PORT [--listen 127.0.0.1:PORT] [--port-file FILE]
                [--faults LIST] [--rate P] [--seed N] [--stall-seconds S] [--stall-after N]
                [--max-faults N] [--clean-first N] [--match SUBSTRING]
                [--stats FILE] [--log FILE] [--max-connections N]

  --upstream     the server to forward to (HOST defaults to 127.0.0.1)
  --listen       where to listen; the host must be 127.0.0.1 (anything else is
                 refused); port 0 (the default) picks a free port
  --port-file    written (atomically) with the actual port once listening; the
                 port is also printed on stdout then ("listening 127.0.0.1:PORT")
  --faults       comma-separated kinds from the list above, or "all" (default)
  --rate         probability that a response gets a fault (default 0.1); the
                 kind is chosen uniformly among the enabled kinds that apply:
                 norange needs a request with Range; flip and truncate need a
                 non-empty body; badrange a 206 with Content-Range; etag an
                 ETag.  A response to which no enabled kind applies is clean.
  --seed         seed of the random choices (default: random, recorded in the
                 stats); with one client connection at a time, a seed gives
                 the same faults on the same requests
  --stall-seconds  how long "stall" stalls (default 30)
  --stall-after  where "stall" stops a body: after N bytes (default: a random
                 point of the body)
  --max-faults   inject at most N faults, then relay cleanly (default: no limit)
  --clean-first  relay the first N requests cleanly (e.g. a client's start-up
                 probe), counting from the proxy's start (default 0)
  --match        only requests whose target contains SUBSTRING get faults
  --stats        JSON file of counters (see below)
  --log          one line per request: time, connection, method, target, Range,
                 Cache-Control (when the request has one), status, fault,
                 body bytes sent
  --max-connections  client connections at once (default 64; more are closed)

Stats: a flat JSON object, one key a line: "requests", "responses" (responses
started towards the client, faulty ones included), "faults" (total injected),
one count per kind ("flip", "truncate", ..., "5xx", ...), "connections"
(client connections accepted), "refused" (over --max-connections or while
down), "upstream_errors", "down" (0/1), "usr1" and "usr2" (signals handled so
far), "seed", "pid", "port".  Written every 2 seconds, on SIGUSR1 (after "usr1"
is incremented, so a waiter can tell the file is fresh), after each SIGUSR2
transition (after "usr2" is incremented) and on SIGTERM/SIGINT, which then
make the proxy exit cleanly (status 0).

Control at run time:
  SIGUSR1  write the stats file now
  SIGUSR2  toggle "down" mode: the proxy stops listening (new connections are
           refused, ECONNREFUSED) and closes every open client connection at
           once, stalled ones included, as if the server went away.  The next
           SIGUSR2 listens again on the same port.  "usr2" in the stats counts
           completed transitions and "down" tells the state.

Bounds: --max-connections client connections; upstream connects time out
after 5 s, upstream reads after 30 s, idle client connections after 75 s;
request heads are at most 64 KiB; responses without Content-Length (chunked or
read-until-close) are buffered up to 256 MiB and sent with a Content-Length.
Responses with Content-Length are streamed.
"""

import argparse
import asyncio
import json
import os
import random
import re
import signal
import socket
import struct
import sys
import time

FAULTS = ("flip", "truncate", "badrange", "norange", "5xx", "reset", "stall", "etag")
REQUEST_PHASE = ("norange", "5xx", "reset")
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer",
              "transfer-encoding", "upgrade"}
MAX_HEAD = 64 * 1024
MAX_BUFFERED = 256 << 20
CHUNK = 64 * 1024
CONNECT_TIMEOUT = 5.0
UPSTREAM_TIMEOUT = 30.0
CLIENT_IDLE_TIMEOUT = 75.0
CLIENT_WRITE_TIMEOUT = 60.0
BLOCK = 4096

NET_ERRORS = (OSError, ConnectionError, EOFError, asyncio.IncompleteReadError,
              asyncio.LimitOverrunError, asyncio.TimeoutError)


class BadRequest(Exception):
    pass


class UpstreamError(Exception):
    pass


def parse_head(data):
    """Split an HTTP head into its first line and a list of (name, value)."""
    lines = data.decode("latin-1").split("\r\n")
    headers = []
    for line in lines[1:]:
        if not line:
            continue
        if line[0] in " \t":
            raise BadRequest("obsolete header line folding")
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise BadRequest("malformed header line")
        headers.append((name, value.strip()))
    return lines[0], headers


def hget(headers, name):
    name = name.lower()
    for n, v in headers:
        if n.lower() == name:
            return v
    return None


def has_token(value, token):
    return value is not None and token in [t.strip().lower() for t in value.split(",")]


def render_head(first, headers):
    out = [first] + ["%s: %s" % (n, v) for n, v in headers]
    return ("\r\n".join(out) + "\r\n\r\n").encode("latin-1")


class Proxy:
    def __init__(self, args):
        self.args = args
        self.upstream = args.upstream
        self.faults = args.faults
        self.rate = args.rate
        self.seed = args.seed
        self.rng = random.Random(args.seed)
        self.server = None
        self.port = None
        self.down = False
        self.tasks = set()
        self.writers = set()
        self.toggle_lock = asyncio.Lock()
        self.stop_event = asyncio.Event()
        self.conn_ids = 0
        self.logf = open(args.log, "a", buffering=1) if args.log else None
        self.stats = {k: 0 for k in ("requests", "responses", "faults", "connections",
                                     "refused", "upstream_errors", "usr1", "usr2")}
        for f in FAULTS:
            self.stats[f] = 0

    # ---- stats and log -------------------------------------------------------
    def write_stats(self):
        if not self.args.stats:
            return
        d = dict(self.stats)
        d.update(down=int(self.down), seed=self.seed, pid=os.getpid(), port=self.port or 0)
        tmp = "%s.tmp.%d" % (self.args.stats, os.getpid())
        try:
            with open(tmp, "w") as f:
                json.dump(d, f, indent=1, sort_keys=True)
                f.write("\n")
            os.replace(tmp, self.args.stats)
        except OSError as e:
            print("faultproxy: cannot write stats: %s" % e, file=sys.stderr)

    def log(self, msg):
        if self.logf:
            try:
                self.logf.write("%.3f %s\n" % (time.time(), msg))
            except OSError:
                pass

    async def stats_loop(self):
        while True:
            await asyncio.sleep(2)
            self.write_stats()

    # ---- fault choice --------------------------------------------------------
    def fault_budget_left(self):
        return self.args.max_faults is None or self.stats["faults"] < self.args.max_faults

    def pick_request_fault(self, method, target, headers):
        """Decide before forwarding whether this response gets a fault, and
        which kind among those that may apply to the request."""
        if not self.faults or not self.fault_budget_left():
            return None
        if self.args.match is not None and self.args.match not in target:
            return None
        if self.stats["requests"] <= self.args.clean_first:
            return None
        if self.rng.random() >= self.rate:
            return None
        cands = [f for f in self.faults
                 if f != "norange" or (hget(headers, "range") is not None and method in ("GET", "HEAD"))]
        return self.rng.choice(cands) if cands else None

    def repick_response_fault(self, fault, resp):
        """The kind chosen may not apply to this response: choose again among
        the enabled response-phase kinds that do (or none)."""
        def applies(f):
            if f in ("flip", "truncate"):
                return resp["has_body"] and resp["length"] > 0
            if f == "stall":
                return self.args.stall_after is None or (resp["has_body"] and resp["length"] > self.args.stall_after)
            if f == "badrange":
                return resp["status"] == 206 and bad_content_range(hget(resp["headers"], "content-range")) is not None
            if f == "etag":
                return hget(resp["headers"], "etag") is not None
            return False
        if fault is None or fault in ("5xx", "reset"):
            return fault
        if fault == "norange":
            return fault
        if applies(fault):
            return fault
        cands = [f for f in self.faults if f not in REQUEST_PHASE and applies(f)]
        return self.rng.choice(cands) if cands else None

    def count_fault(self, fault):
        self.stats[fault] += 1
        self.stats["faults"] += 1

    # ---- listening and control ----------------------------------------------
    async def listen(self, port):
        self.server = await asyncio.start_server(
            self.handle, "127.0.0.1", port, limit=MAX_HEAD, reuse_address=True, backlog=128)
        self.port = self.server.sockets[0].getsockname()[1]

    async def toggle_down(self):
        async with self.toggle_lock:
            if not self.down:
                self.down = True
                if self.server:
                    self.server.close()
                    self.server = None
                for w in list(self.writers):
                    w.transport.abort()
                for t in list(self.tasks):
                    t.cancel()
                self.log("DOWN: stopped listening, closed %d connections" % len(self.tasks))
            else:
                for _ in range(50):  # bounded: 10 s
                    try:
                        await self.listen(self.port)
                        break
                    except OSError as e:
                        err = e
                        await asyncio.sleep(0.2)
                else:
                    print("faultproxy: cannot listen again on port %d: %s" % (self.port, err), file=sys.stderr)
                    self.stop_event.set()
                    return
                self.down = False
                self.log("UP: listening again on 127.0.0.1:%d" % self.port)
            self.stats["usr2"] += 1
            self.write_stats()

    def on_usr1(self):
        self.stats["usr1"] += 1
        self.write_stats()

    # ---- client side -----------------------------------------------------------
    async def handle(self, reader, writer):
        if self.down or len(self.tasks) >= self.args.max_connections:
            self.stats["refused"] += 1
            writer.transport.abort()
            return
        task = asyncio.current_task()
        self.tasks.add(task)
        self.writers.add(writer)
        self.conn_ids += 1
        conn = {"id": self.conn_ids, "up": None, "uses": 0}
        self.stats["connections"] += 1
        try:
            await self.client_loop(conn, reader, writer)
        except asyncio.CancelledError:
            pass
        except NET_ERRORS + (UpstreamError,) as e:
            self.log("conn=%d closed: %s" % (conn["id"], e.__class__.__name__))
        finally:
            self.close_upstream(conn)
            self.tasks.discard(task)
            self.writers.discard(writer)
            if not writer.transport.is_closing():
                writer.transport.abort()

    async def client_loop(self, conn, reader, writer):
        while True:
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), CLIENT_IDLE_TIMEOUT)
            except asyncio.IncompleteReadError:
                return
            except asyncio.TimeoutError:
                return
            except (asyncio.LimitOverrunError, ValueError):
                await self.simple_response(writer, 431, "Request Header Fields Too Large", "GET", False)
                return
            head = head.lstrip(b"\r\n")
            if not head:
                continue
            try:
                first, headers = parse_head(head)
                parts = first.split(" ")
                if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
                    raise BadRequest("bad request line")
                method, target, version = parts
            except BadRequest:
                await self.simple_response(writer, 400, "Bad Request", "GET", False)
                return
            self.stats["requests"] += 1
            conn_hdr = hget(headers, "connection")
            if version == "HTTP/1.0":
                keep = has_token(conn_hdr, "keep-alive")
            else:
                keep = not has_token(conn_hdr, "close")
            body = b""
            if hget(headers, "transfer-encoding") is not None:
                await self.simple_response(writer, 501, "Not Implemented", method, False)
                return
            cl = hget(headers, "content-length")
            if cl is not None:
                if not cl.isdigit() or int(cl) > MAX_HEAD:
                    await self.simple_response(writer, 413, "Payload Too Large", method, False)
                    return
                body = await asyncio.wait_for(reader.readexactly(int(cl)), UPSTREAM_TIMEOUT)
            keep = await self.serve(conn, writer, method, target, headers, body, keep)
            if not keep:
                await self.close_client(writer)
                return

    async def drain(self, writer):
        await asyncio.wait_for(writer.drain(), CLIENT_WRITE_TIMEOUT)

    async def close_client(self, writer):
        try:
            await self.drain(writer)
        except NET_ERRORS:
            pass
        writer.close()

    async def simple_response(self, writer, status, reason, method, keep, extra=()):
        body = ("%d %s (faultproxy)\n" % (status, reason)).encode()
        hdrs = [("Content-Type", "text/plain"), ("Content-Length", str(len(body))),
                ("Connection", "keep-alive" if keep else "close")] + list(extra)
        writer.write(render_head("HTTP/1.1 %d %s" % (status, reason), hdrs) + (b"" if method == "HEAD" else body))
        self.stats["responses"] += 1
        await self.drain(writer)
        return len(body)

    def close_upstream(self, conn):
        up = conn.get("up")
        if up is not None:
            up[1].transport.abort()
        conn["up"] = None
        conn["uses"] = 0

    # ---- one request ----------------------------------------------------------
    async def serve(self, conn, writer, method, target, headers, body, keep):
        rng_hdr = hget(headers, "range")
        desc = "conn=%d %s %s range=%s" % (conn["id"], method, target, json.dumps(rng_hdr or "-"))
        if hget(headers, "cache-control") is not None:
            desc += " cache-control=%s" % json.dumps(hget(headers, "cache-control"))
        fault = self.pick_request_fault(method, target, headers)
        if fault == "reset":
            self.count_fault(fault)
            self.log("%s -> RESET fault=reset" % desc)
            sock = writer.get_extra_info("socket")
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
            writer.transport.abort()
            return False
        if fault == "5xx":
            self.count_fault(fault)
            n = await self.simple_response(writer, 503, "Service Unavailable", method, keep)
            self.log("%s -> 503 fault=5xx sent=%d" % (desc, n))
            return keep

        fwd = [(n, v) for n, v in headers if n.lower() not in HOP_BY_HOP]
        if fault == "norange":
            fwd = [(n, v) for n, v in fwd if n.lower() not in ("range", "if-range")]
        if hget(fwd, "host") is None:
            fwd.insert(0, ("Host", "%s:%d" % self.upstream))
        fwd.append(("Connection", "keep-alive"))
        request = render_head("%s %s HTTP/1.1" % (method, target), fwd) + body

        try:
            resp = await self.exchange(conn, request, method)
        except NET_ERRORS + (UpstreamError,) as e:
            self.close_upstream(conn)
            self.stats["upstream_errors"] += 1
            self.log("%s -> 502 upstream error: %r" % (desc, e))
            await self.simple_response(writer, 502, "Bad Gateway", method, False)
            return False

        fault = self.repick_response_fault(fault, resp)
        if fault == "norange" and resp["status"] == 206:
            fault = None  # upstream answered a Range anyway: not our doing
        if fault is not None:
            self.count_fault(fault)

        status, rhdrs = resp["status"], resp["headers"]
        out = [(n, v) for n, v in rhdrs if n.lower() not in HOP_BY_HOP and n.lower() != "content-length"]
        if resp["has_body"]:
            out.append(("Content-Length", str(resp["length"])))
        elif hget(rhdrs, "content-length") is not None:
            out.append(("Content-Length", hget(rhdrs, "content-length")))
        if fault == "badrange":
            new = bad_content_range(hget(rhdrs, "content-range"))
            out = [(n, new if n.lower() == "content-range" else v) for n, v in out]
        if fault == "etag":
            out = [(n, changed_etag(v) if n.lower() == "etag" else v) for n, v in out]
        out.append(("Connection", "keep-alive" if keep else "close"))
        head = render_head(resp["status_line"], out)
        length = resp["length"] if resp["has_body"] else 0
        self.stats["responses"] += 1

        cut = None
        flip_bit = None
        if fault == "stall" and self.args.stall_after is not None:
            cut = self.args.stall_after
        elif fault in ("truncate", "stall") and length > 0:
            cut = self.rng.randrange(length)
        if fault == "flip":
            flip_bit = self.rng.randrange(length * 8)

        if fault == "stall" and cut is None:
            self.close_upstream(conn)
            self.log("%s -> %d fault=stall before the head" % (desc, status))
            await asyncio.sleep(self.args.stall_seconds)
            writer.transport.abort()
            return False

        writer.write(head)
        sent = 0
        try:
            async for chunk in self.body_chunks(conn, resp):
                if flip_bit is not None and sent <= flip_bit // 8 < sent + len(chunk):
                    i = flip_bit // 8 - sent
                    chunk = bytearray(chunk)
                    chunk[i] ^= 1 << (flip_bit % 8)
                    chunk = bytes(chunk)
                if cut is not None and sent + len(chunk) > cut:
                    writer.write(chunk[:cut - sent])
                    sent = cut
                    break
                writer.write(chunk)
                sent += len(chunk)
                await self.drain(writer)
        except (UpstreamError,) + NET_ERRORS as e:
            if isinstance(e, UpstreamError) or not writer.transport.is_closing():
                self.stats["upstream_errors"] += 1
            self.close_upstream(conn)
            self.log("%s -> %d broken after %d bytes: %r" % (desc, status, sent, e))
            writer.transport.abort()
            return False

        self.log("%s -> %d fault=%s sent=%d%s" % (desc, status, fault or "-", sent,
                                                  " of %d" % length if cut is not None else ""))
        if fault == "truncate":
            self.close_upstream(conn)
            await self.close_client(writer)
            return False
        if fault == "stall":
            self.close_upstream(conn)
            await self.drain(writer)
            await asyncio.sleep(self.args.stall_seconds)
            writer.transport.abort()
            return False
        if not resp["upstream_keep"]:
            self.close_upstream(conn)
        await self.drain(writer)
        return keep

    # ---- upstream side --------------------------------------------------------
    async def exchange(self, conn, request, method):
        """Send the request upstream and read the response head.  A reused
        keep-alive connection that turns out closed is retried once on a new
        one (GET and HEAD only)."""
        for attempt in (0, 1):
            reused = conn["up"] is not None
            if not reused:
                r, w = await asyncio.wait_for(
                    asyncio.open_connection(self.upstream[0], self.upstream[1], limit=MAX_HEAD),
                    CONNECT_TIMEOUT)
                conn["up"] = (r, w)
            r, w = conn["up"]
            conn["uses"] += 1
            try:
                w.write(request)
                await asyncio.wait_for(w.drain(), UPSTREAM_TIMEOUT)
                while True:
                    head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), UPSTREAM_TIMEOUT)
                    status_line, headers = parse_head(head)
                    parts = status_line.split(" ", 2)
                    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
                        raise UpstreamError("bad status line %r" % status_line)
                    status = int(parts[1])
                    if 100 <= status < 200 and status != 101:
                        continue
                    break
            except (asyncio.IncompleteReadError, ConnectionError) as e:
                self.close_upstream(conn)
                if reused and attempt == 0 and method in ("GET", "HEAD"):
                    continue
                raise UpstreamError("upstream closed: %r" % e)
            except BadRequest as e:
                raise UpstreamError(str(e))
            break

        version = parts[0]
        conn_hdr = hget(headers, "connection")
        upstream_keep = (not has_token(conn_hdr, "close")) if version != "HTTP/1.0" else has_token(conn_hdr, "keep-alive")
        resp = {"status": status, "status_line": "HTTP/1.1 " + " ".join(parts[1:]),
                "headers": headers, "upstream_keep": upstream_keep, "buffer": None}
        te = hget(headers, "transfer-encoding")
        cl = hget(headers, "content-length")
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            resp.update(has_body=False, length=0)
        elif te is not None:
            if not has_token(te, "chunked"):
                raise UpstreamError("unsupported Transfer-Encoding %r" % te)
            resp.update(has_body=True, buffer=await self.read_chunked(r))
            resp["length"] = len(resp["buffer"])
        elif cl is not None:
            if not cl.isdigit():
                raise UpstreamError("bad Content-Length %r" % cl)
            resp.update(has_body=True, length=int(cl))
        else:
            buf = bytearray()
            while True:
                data = await asyncio.wait_for(r.read(CHUNK), UPSTREAM_TIMEOUT)
                if not data:
                    break
                buf += data
                if len(buf) > MAX_BUFFERED:
                    raise UpstreamError("response without length too large")
            resp.update(has_body=True, buffer=bytes(buf), length=len(buf), upstream_keep=False)
        return resp

    async def read_chunked(self, r):
        buf = bytearray()
        for _ in range(1 << 20):  # bounded number of chunks
            line = await asyncio.wait_for(r.readuntil(b"\r\n"), UPSTREAM_TIMEOUT)
            size = int(line.split(b";")[0].strip() or b"x", 16)
            if size == 0:
                for _ in range(100):  # trailers
                    if await asyncio.wait_for(r.readuntil(b"\r\n"), UPSTREAM_TIMEOUT) == b"\r\n":
                        return bytes(buf)
                raise UpstreamError("too many trailers")
            if len(buf) + size > MAX_BUFFERED:
                raise UpstreamError("chunked response too large")
            buf += await asyncio.wait_for(r.readexactly(size), UPSTREAM_TIMEOUT)
            if await asyncio.wait_for(r.readexactly(2), UPSTREAM_TIMEOUT) != b"\r\n":
                raise UpstreamError("bad chunk framing")
        raise UpstreamError("too many chunks")

    async def body_chunks(self, conn, resp):
        if not resp["has_body"]:
            return
        if resp["buffer"] is not None:
            for i in range(0, len(resp["buffer"]), CHUNK):
                yield resp["buffer"][i:i + CHUNK]
            return
        r = conn["up"][0]
        left = resp["length"]
        while left > 0:
            data = await asyncio.wait_for(r.read(min(CHUNK, left)), UPSTREAM_TIMEOUT)
            if not data:
                raise UpstreamError("upstream closed %d bytes before the end of the body" % left)
            left -= len(data)
            yield data


def bad_content_range(value):
    """A wrong but well-formed Content-Range for "bytes A-B/T", or None."""
    m = re.fullmatch(r"\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*", value or "")
    if not m:
        return None
    a, b = int(m.group(1)), int(m.group(2))
    total = m.group(3)
    limit = int(total) if total != "*" else None
    for d in (BLOCK, -BLOCK, 1, -1):
        if a + d >= 0 and (limit is None or b + d < limit):
            return "bytes %d-%d/%s" % (a + d, b + d, total)
    return "bytes %d-%d/%d" % (a, b, (limit or b + 1) + BLOCK)


def changed_etag(value):
    weak = value.startswith("W/")
    inner = value[2:] if weak else value
    inner = inner.strip('"')
    return '%s"replaced-%s"' % ("W/" if weak else "", inner)


def host_port(text, default_host):
    host, sep, port = text.rpartition(":")
    if not sep:
        host = default_host
    if not host:
        host = default_host
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError("bad port in %r" % text)
    return host, int(port)


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Fault-injecting HTTP/1.1 reverse proxy for tests (see the module docstring).")
    p.add_argument("--upstream", required=True, type=lambda s: host_port(s, "127.0.0.1"))
    p.add_argument("--listen", default="127.0.0.1:0", type=lambda s: host_port(s, "127.0.0.1"))
    p.add_argument("--port-file")
    p.add_argument("--faults", default="all")
    p.add_argument("--rate", type=float, default=0.1)
    p.add_argument("--seed", type=int)
    p.add_argument("--stall-seconds", type=float, default=30.0)
    p.add_argument("--stall-after", type=int)
    p.add_argument("--max-faults", type=int)
    p.add_argument("--clean-first", type=int, default=0)
    p.add_argument("--match")
    p.add_argument("--stats")
    p.add_argument("--log")
    p.add_argument("--max-connections", type=int, default=64)
    a = p.parse_args(argv)
    if a.listen[0] != "127.0.0.1":
        p.error("refusing to listen on %s: only 127.0.0.1 is allowed" % a.listen[0])
    if a.faults.strip() in ("all", ""):
        a.faults = list(FAULTS)
    else:
        a.faults = [f.strip() for f in a.faults.split(",") if f.strip()]
        bad = [f for f in a.faults if f not in FAULTS]
        if bad:
            p.error("unknown fault kind(s) %s; known: %s" % (", ".join(bad), ", ".join(FAULTS)))
    if not 0.0 <= a.rate <= 1.0:
        p.error("--rate must be between 0 and 1")
    if a.stall_seconds < 0 or a.stall_seconds > 3600:
        p.error("--stall-seconds must be between 0 and 3600")
    if a.stall_after is not None and a.stall_after < 0:
        p.error("--stall-after must be 0 or more")
    if a.clean_first < 0:
        p.error("--clean-first must be 0 or more")
    if not 1 <= a.max_connections <= 4096:
        p.error("--max-connections must be between 1 and 4096")
    if a.seed is None:
        a.seed = int.from_bytes(os.urandom(4), "big")
    return a


async def main(args):
    proxy = Proxy(args)
    loop = asyncio.get_running_loop()
    try:
        await proxy.listen(args.listen[1])
    except OSError as e:
        print("faultproxy: cannot listen on 127.0.0.1:%d: %s" % (args.listen[1], e), file=sys.stderr)
        return 1
    loop.add_signal_handler(signal.SIGUSR1, proxy.on_usr1)
    toggles = set()

    def on_usr2():
        t = asyncio.ensure_future(proxy.toggle_down())
        toggles.add(t)
        t.add_done_callback(toggles.discard)
    loop.add_signal_handler(signal.SIGUSR2, on_usr2)
    loop.add_signal_handler(signal.SIGTERM, proxy.stop_event.set)
    loop.add_signal_handler(signal.SIGINT, proxy.stop_event.set)
    proxy.write_stats()
    if args.port_file:
        tmp = "%s.tmp.%d" % (args.port_file, os.getpid())
        with open(tmp, "w") as f:
            f.write("%d\n" % proxy.port)
        os.replace(tmp, args.port_file)
    print("listening 127.0.0.1:%d" % proxy.port, flush=True)
    proxy.log("listening 127.0.0.1:%d upstream %s:%d faults=%s rate=%g seed=%d" % (
        proxy.port, args.upstream[0], args.upstream[1], ",".join(args.faults), args.rate, args.seed))
    ticker = asyncio.ensure_future(proxy.stats_loop())
    await proxy.stop_event.wait()
    ticker.cancel()
    if proxy.server:
        proxy.server.close()
    for w in list(proxy.writers):
        w.transport.abort()
    for t in list(proxy.tasks):
        t.cancel()
    await asyncio.sleep(0)
    proxy.write_stats()
    proxy.log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args(sys.argv[1:]))))
