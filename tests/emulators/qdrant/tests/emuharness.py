# SPDX-License-Identifier: Apache-2.0
"""emuharness -- start qdrant-emu on a free loopback port and talk HTTP to it.

Standard library only (Debian's /usr/bin/python3).  Each test module defines
test_* functions; run_tests() runs them in order and prints the closing
'N passed, N failed' line ctest logs show.
"""
import hashlib
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.parse
import uuid


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lower-case name -> value
        self.body = body

    def json(self):
        return json.loads(self.body)

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def __repr__(self):
        return "<%d %s>" % (self.status, self.body[:300])


class Emu:
    """A running qdrant-emu.  Use as a context manager or call stop()."""

    def __init__(self, binary, args=(), data_dir=None, host="127.0.0.1", port=0):
        self.binary = binary
        self.owns_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="qdrant-emu-")
        self.args = list(args)
        self.host = host
        self.want_port = port
        self.proc = None
        self.port = None
        self.start()

    def start(self):
        port = self.port or self.want_port  # a restart keeps its port
        cmd = [self.binary, "--host", self.host, "--port", str(port),
               "--data-dir", self.data_dir] + self.args
        log_dir = os.environ.get("EMU_LOG_DIR") or tempfile.gettempdir()
        self.log_path = os.path.join(log_dir, "qdrant-emu-%d.log" % os.getpid())
        self.stderr = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.stderr)
        deadline = time.time() + 30
        line = b""
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if line.startswith(b"listening on "):
                break
            if self.proc.poll() is not None:
                raise RuntimeError("qdrant-emu exited with %s" % self.proc.returncode)
        host_port = line.decode().strip().split(" ", 2)[2]
        self.port = int(host_port.rsplit(":", 1)[1])

    def kill(self):
        """SIGKILL: the peer is down, its directory stays for start()."""
        if not self.proc:
            return
        self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()
        self.stderr.close()
        self.proc = None

    def stop(self, expect_clean=True):
        if not self.proc:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.proc.stdout.close()
        self.stderr.close()
        self.proc = None
        if expect_clean and rc != 0:
            raise AssertionError("qdrant-emu exited with status %d" % rc)

    def close(self):
        self.stop()
        if self.owns_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def url(self):
        return "http://%s:%d" % (self.host, self.port)

    # -- HTTP --
    def request(self, method, path, body=None, headers=None, query=None, timeout=60):
        headers = dict(headers or {})
        if query:
            path += "?" + urllib.parse.urlencode(query)
        if body is not None and not isinstance(body, (bytes, bytearray)):
            body = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            hdrs = {k.lower(): v for k, v in resp.getheaders()}
            return Response(resp.status, hdrs, data)
        finally:
            conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body, **kw)

    def put(self, path, body=None, **kw):
        return self.request("PUT", path, body=body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def upload(self, path, data, filename="upload.snapshot", query=None, headers=None,
               field="snapshot"):
        boundary = "----emu" + uuid.uuid4().hex
        parts = [
            ("--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
             "Content-Type: application/octet-stream\r\n\r\n" % (boundary, field, filename)).encode(),
            data,
            ("\r\n--%s--\r\n" % boundary).encode(),
        ]
        h = {"Content-Type": "multipart/form-data; boundary=%s" % boundary}
        h.update(headers or {})
        return self.request("POST", path, body=b"".join(parts), headers=h, query=query)

    # -- helpers used by several tests --
    def create_collection(self, name, vectors=None, **kw):
        body = {"vectors": vectors or {"size": 4, "distance": "Dot"}}
        r = self.put("/collections/%s" % name, body, **kw)
        assert r.status == 200, r
        return r

    def upsert(self, name, points, **kw):
        r = self.put("/collections/%s/points" % name, {"points": points},
                     query={"wait": "true"}, **kw)
        assert r.status == 200, r
        return r

    def all_points(self, name, **kw):
        out, offset = [], None
        while True:
            body = {"limit": 64, "with_payload": True, "with_vector": True}
            if offset is not None:
                body["offset"] = offset
            r = self.post("/collections/%s/points/scroll" % name, body, **kw)
            assert r.status == 200, r
            res = r.json()["result"]
            out.extend(res["points"])
            offset = res["next_page_offset"]
            if offset is None:
                return out


class Cluster:
    """n qdrant-emu peers on 127.0.0.1..n sharing one port and one
    --cluster-dir, started in order (peer 0 registers first and leads)."""

    def __init__(self, binary, n=3, args=()):
        self.dir = tempfile.mkdtemp(prefix="qdrant-emu-cluster-")
        self.cluster_dir = os.path.join(self.dir, "cluster")
        self.peers = []
        try:
            for i in range(n):
                port = self.peers[0].port if self.peers else 0
                self.peers.append(Emu(binary, ["--cluster-dir", self.cluster_dir] + list(args),
                                      data_dir=os.path.join(self.dir, "peer%d" % i),
                                      host="127.0.0.%d" % (i + 1), port=port))
        except Exception:
            self.close()
            raise
        self.wait_peers(n)

    def wait_peers(self, n, timeout=30):
        deadline = time.time() + timeout
        for p in self.peers:
            while True:
                r = p.get("/cluster")
                if r.status == 200 and len(r.json()["result"]["peers"]) == n:
                    break
                assert time.time() < deadline, r
                time.sleep(0.05)

    def __getitem__(self, i):
        return self.peers[i]

    def __len__(self):
        return len(self.peers)

    def close(self):
        errors = []
        for p in self.peers:
            try:
                p.stop()
            except AssertionError as e:
                errors.append(e)
        shutil.rmtree(self.dir, ignore_errors=True)
        if errors:
            raise errors[0]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def sample_points(n, dim=4, seed=1):
    """Deterministic points mixing integer and UUID ids."""
    pts = []
    x = seed
    for i in range(n):
        vec = []
        for _ in range(dim):
            x = (x * 1103515245 + 12345) % (1 << 31)
            vec.append(round((x % 1000) / 997.0, 4))
        pid = i if i % 3 else str(uuid.UUID(int=(seed << 64) + i))
        pts.append({"id": pid, "vector": vec,
                    "payload": {"i": i, "tag": "t%d" % (i % 5), "nested": {"a": [i, "x"]}}})
    return pts


def binary_from_argv():
    if len(sys.argv) < 2:
        sys.exit("usage: %s PATH/TO/qdrant-emu" % sys.argv[0])
    return os.path.abspath(sys.argv[1])


def run_tests(module_globals):
    tests = [(n, f) for n, f in module_globals.items() if n.startswith("test_") and callable(f)]
    passed = failed = 0
    t0 = time.time()
    for name, fn in tests:
        start = time.time()
        try:
            fn()
            passed += 1
            print("PASS %s (%.2fs)" % (name, time.time() - start), flush=True)
        except Exception:  # noqa: BLE001 - report every failure and go on
            failed += 1
            print("FAIL %s" % name, flush=True)
            traceback.print_exc()
    print("(%.1fs)" % (time.time() - t0))
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)
