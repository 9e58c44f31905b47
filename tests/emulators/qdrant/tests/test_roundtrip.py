# SPDX-License-Identifier: Apache-2.0
"""Round trips through qdrant-emu: upsert -> snapshot -> download -> delete
collection -> recover (upload, file://, http://, shard routes, full snapshot
at startup) -> identical points; plus archive layout, naming, checksums,
Range/gzip downloads, wait=false, persistence across restarts and fill."""
import gzip
import hashlib
import http.client
import http.server
import io
import json
import os
import re
import struct
import sys
import tarfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from emuharness import Emu, binary_from_argv, run_tests, sample_points, sha256  # noqa: E402

BINARY = binary_from_argv()
TS = r"\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}"


def sorted_points(pts):
    return sorted(pts, key=lambda p: (isinstance(p["id"], str), p["id"]))


def populated(emu, name="rt", n=150):
    emu.create_collection(name, {"size": 4, "distance": "Cosine"})
    emu.upsert(name, sample_points(n))
    before = emu.all_points(name)
    assert len(before) == n
    return before


class StaticServer:
    """A throwaway HTTP server for recover-from-URL; records request headers."""

    def __init__(self, files):
        self.files = files
        self.seen = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                outer.seen.append(dict(self.headers))
                data = outer.files.get(self.path.lstrip("/"))
                if data is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_snapshot_archive_and_naming():
    with Emu(BINARY) as emu:
        populated(emu, "arch", 10)
        peer = emu.get("/collections/arch/cluster").json()["result"]["peer_id"]
        sd = emu.post("/collections/arch/snapshots").json()["result"]
        assert re.fullmatch(r"arch-%d-%s\.snapshot" % (peer, TS), sd["name"]), sd
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", sd["creation_time"] or "2000-01-01T00:00:00")
        side = os.path.join(emu.data_dir, "snapshots", "arch", sd["name"] + ".checksum")
        with open(side) as f:
            assert f.read() == sd["checksum"]  # 64 hex, no newline
        r = emu.get("/collections/arch/snapshots/" + sd["name"])
        assert r.status == 200 and len(r.body) == sd["size"] == int(r.headers["content-length"])
        assert r.headers["content-disposition"] == 'attachment; filename="%s"' % sd["name"]
        assert r.headers["accept-ranges"] == "bytes" and "etag" in r.headers
        assert sha256(r.body) == sd["checksum"]
        tf = tarfile.open(fileobj=io.BytesIO(r.body))
        names = tf.getnames()
        for want in ("0/wal", "0/replica_state.json", "0/shard_config.json", "config.json",
                     "version.info", "payload_index.json", "shard_key_mapping.json"):
            assert want in names, (want, names)
        segs = [n for n in names if re.fullmatch(r"0/segments/[0-9a-f-]{36}\.tar", n)]
        assert len(segs) == 1, names
        inner = tarfile.open(fileobj=tf.extractfile(segs[0]))
        assert "snapshot/files/points.json" in inner.getnames()
        cfg = json.load(tf.extractfile("config.json"))
        assert cfg["params"]["vectors"] == {"size": 4, "distance": "Cosine"}
        # missing snapshot / collection: plain-text 404 on the download route
        r = emu.get("/collections/arch/snapshots/nope.snapshot")
        assert r.status == 404 and r.text == "Not found: Snapshot nope.snapshot not found"
        assert r.headers["content-type"].startswith("text/plain")
        r = emu.get("/collections/arch/snapshots/..%2F..%2Fetc%2Fpasswd")
        assert r.status == 404
        r = emu.get("/collections/zzz/snapshots/x.snapshot")
        assert r.status == 404 and r.text == "Not found: Collection `zzz` doesn't exist!"
        r = emu.get("/collections/zzz/snapshots")
        assert r.json()["status"]["error"] == "Not found: Collection `zzz` doesn't exist!"


def test_recover_by_upload_file_and_http():
    with Emu(BINARY) as emu:
        before = populated(emu)
        sd = emu.post("/collections/rt/snapshots").json()["result"]
        data = emu.get("/collections/rt/snapshots/" + sd["name"]).body
        # upload, with the right checksum
        assert emu.delete("/collections/rt").json()["result"] is True
        assert emu.post("/collections/rt/points/scroll", {}).status == 404
        r = emu.upload("/collections/rt/snapshots/upload", data, filename="copy.snapshot",
                       query={"priority": "snapshot", "checksum": sd["checksum"].upper()})
        assert r.status == 200 and r.json()["result"] is True, r
        assert emu.all_points("rt") == before
        names = [s["name"] for s in emu.get("/collections/rt/snapshots").json()["result"]]
        assert "copy.snapshot" in names  # the upload is kept, without checksum
        # upload with a wrong checksum: labels swapped, as in Qdrant
        wrong = "0" * 64
        r = emu.upload("/collections/rt/snapshots/upload", data, query={"checksum": wrong})
        assert r.status == 400
        assert r.json()["status"]["error"] == "Checksum mismatch: expected %s, actual %s" % (
            sd["checksum"], wrong)
        # file:// inside the snapshots directory
        emu.delete("/collections/rt")
        loc = "file://" + os.path.join(emu.data_dir, "snapshots", "rt", sd["name"])
        r = emu.put("/collections/rt/snapshots/recover", {"location": loc})
        assert r.status == 200, r
        assert emu.all_points("rt") == before
        # http:// with api_key forwarded as header api-key; wrong checksum first
        srv = StaticServer({"s.snapshot": data})
        try:
            emu.delete("/collections/rt")
            r = emu.put("/collections/rt/snapshots/recover",
                        {"location": srv.url + "/s.snapshot", "checksum": "3" * 64})
            assert r.status == 400
            assert r.json()["status"]["error"] == (
                "Wrong input: Snapshot checksum mismatch: expected %s, got %s" % ("3" * 64, sd["checksum"]))
            assert emu.post("/collections/rt/points/scroll", {}).status == 404
            r = emu.put("/collections/rt/snapshots/recover",
                        {"location": srv.url + "/s.snapshot", "checksum": sd["checksum"],
                         "api_key": "secret-for-source", "priority": "replica"})
            assert r.status == 200, r
            assert srv.seen[-1].get("api-key") == "secret-for-source"
            assert emu.all_points("rt") == before
            r = emu.put("/collections/rt/snapshots/recover", {"location": srv.url + "/missing"})
            assert r.status == 400
            assert r.json()["status"]["error"] == (
                "Wrong input: Failed to download tar from URL: status - 404 Not Found")
        finally:
            srv.close()
        # recovery replaces data: later writes are gone
        emu.upsert("rt", [{"id": 100000, "vector": [1, 1, 1, 1]}])
        r = emu.put("/collections/rt/snapshots/recover", {"location": loc})
        assert r.status == 200 and emu.all_points("rt") == before
        # incompatible vectors config
        emu.create_collection("other", {"size": 8, "distance": "Dot"})
        r = emu.put("/collections/other/snapshots/recover", {"location": loc})
        assert r.status == 400
        assert r.json()["status"]["error"].startswith(
            "Wrong input: Snapshot is not compatible with existing collection")
        # not an archive with a config
        r = emu.upload("/collections/x/snapshots/upload", b"", filename="empty.snapshot")
        assert r.status == 400 and "does not contain a collection config" in r.text, r


def test_location_errors():
    with Emu(BINARY) as emu:
        cases = [
            ("file://whatever.snapshot", 400,
             "Bad request: Invalid snapshot URI, file path must be absolute or on localhost"),
            ("file:///whatever.snapshot", 400,
             'Bad request: Snapshot file "/whatever.snapshot" does not exist'),
            ("file://localhost/whatever.snapshot", 400,
             'Bad request: Snapshot file "/whatever.snapshot" does not exist'),
            ("s3://bucket/x.snapshot", 400,
             "Bad request: URL s3://bucket/x.snapshot with scheme s3 is not supported"),
        ]
        for loc, status, msg in cases:
            r = emu.put("/collections/nothing/snapshots/recover", {"location": loc})
            assert r.status == status and r.json()["status"]["error"] == msg, (loc, r)
        r = emu.put("/collections/nothing/snapshots/recover", {"location": "file:///etc/passwd"})
        assert r.status == 403
        assert r.json()["status"]["error"].startswith(
            "Forbidden: Snapshot file path must be inside the snapshots directory")
        r = emu.put("/collections/nothing/snapshots/recover", {"location": "file:///etc/passwd"},
                    query={"wait": "false"})
        assert r.status == 202 and r.json()["status"] == "accepted"  # errors hidden
        r = emu.put("/collections/nothing/snapshots/recover", {"nolocation": 1})
        assert r.status == 400 and "missing field `location`" in r.text
        r = emu.upload("/collections/nothing/snapshots/upload", b"x", field="other")
        assert r.status == 400 and r.text == "Required field is missing: snapshot"


def test_shard_snapshots():
    with Emu(BINARY) as emu:
        before = populated(emu, "sh", 40)
        sd = emu.post("/collections/sh/shards/0/snapshots").json()["result"]
        assert re.fullmatch(r"sh-shard-0-%s\.snapshot" % TS, sd["name"]), sd
        data = emu.get("/collections/sh/shards/0/snapshots/" + sd["name"]).body
        assert sha256(data) == sd["checksum"]
        names = tarfile.open(fileobj=io.BytesIO(data)).getnames()
        assert "wal" in names and "replica_state.json" in names
        assert any(re.fullmatch(r"segments/[0-9a-f-]{36}\.tar", n) for n in names), names
        # route 15: streamed, chunked, segments as directories
        r = emu.get("/collections/sh/shards/0/snapshot")
        assert r.status == 200 and "content-length" not in r.headers
        assert r.headers.get("transfer-encoding") == "chunked"
        assert re.fullmatch(r'attachment; filename="sh-shard-0-%s\.snapshot"' % TS,
                            r.headers["content-disposition"])
        snames = tarfile.open(fileobj=io.BytesIO(r.body)).getnames()
        assert any(re.fullmatch(r"segments/[0-9a-f-]{36}/files/points\.json", n) for n in snames)
        stream = r.body
        # recover by name (route 16) and by upload (route 17, result null)
        emu.upsert("sh", [{"id": 99999, "vector": [1, 2, 3, 4]}])
        r = emu.put("/collections/sh/shards/0/snapshots/recover", {"location": sd["name"]})
        assert r.status == 200 and r.json()["result"] is True, r
        assert emu.all_points("sh") == before
        emu.upsert("sh", [{"id": 99999, "vector": [1, 2, 3, 4]}])
        r = emu.upload("/collections/sh/shards/0/snapshots/upload", data,
                       query={"checksum": sd["checksum"]})
        assert r.status == 200 and r.json()["result"] is None, r
        assert emu.all_points("sh") == before
        emu.upsert("sh", [{"id": 99999, "vector": [1, 2, 3, 4]}])
        r = emu.upload("/collections/sh/shards/0/snapshots/upload", stream)
        assert r.status == 200 and emu.all_points("sh") == before
        # errors
        r = emu.put("/collections/sh/shards/0/snapshots/recover", {"location": "file:///x"})
        assert r.status == 400 and "URLs with file scheme are not supported" in r.text
        r = emu.put("/collections/sh/shards/7/snapshots/recover", {"location": sd["name"]})
        assert r.status == 404 and r.json()["status"]["error"] == "Not found: shard 7 not found"
        r = emu.put("/collections/sh/shards/0/snapshots/recover",
                    {"location": sd["name"], "checksum": "abc"})
        assert r.status == 422 and "invalid_sha256_hash" in r.text
        r = emu.upload("/collections/sh/shards/0/snapshots/upload", data, query={"checksum": "zz"})
        assert r.status == 422 and "invalid_sha256_hash" in r.text
        assert emu.delete("/collections/sh/shards/0/snapshots/" + sd["name"]).status == 200
        assert emu.get("/collections/sh/shards/0/snapshots").json()["result"] == []


def test_stream_starts_at_once_without_staging():
    """Route 15 answers before the archive exists: nothing is staged on disk,
    the body is produced as the client reads, and a client that leaves
    mid-stream releases the collection (Qdrant's streaming snapshot)."""
    with Emu(BINARY) as emu:
        populated(emu, "big", 10)
        assert emu.post("/debug/fill/big", query={"mb": 64}).status == 200
        conn = http.client.HTTPConnection(emu.host, emu.port, timeout=30)
        conn.request("GET", "/collections/big/shards/0/snapshot")
        resp = conn.getresponse()
        assert resp.status == 200 and resp.getheader("content-length") is None
        assert resp.getheader("transfer-encoding") == "chunked"
        first = resp.read(4096)
        assert len(first) == 4096
        conn.close()  # the client leaves mid-stream
        # the archive was being produced as it was read (not staged first): the
        # producer is still writing when the client leaves, and only logs it
        deadline = time.time() + 30
        while time.time() < deadline:
            with open(emu.log_path, "rb") as f:
                if b"Failed to stream shard snapshot" in f.read():
                    break
            time.sleep(0.05)
        else:
            raise AssertionError("the stream's producer did not notice the client leaving")
        # the producer notices, releases the collection: a delete goes through
        r = emu.delete("/collections/big", timeout=30)
        assert r.status == 200, r
        # a whole stream of a small shard is a complete tar
        populated(emu, "small", 5)
        r = emu.get("/collections/small/shards/0/snapshot")
        names = tarfile.open(fileobj=io.BytesIO(r.body)).getnames()
        assert "wal" in names and "replica_state.json" in names, names


def test_full_snapshot_and_startup_restore():
    with Emu(BINARY) as emu:
        before = populated(emu, "fa", 30)
        emu.create_collection("fb")
        emu.upsert("fb", sample_points(7, seed=9))
        fb = emu.all_points("fb")
        sd = emu.post("/snapshots").json()["result"]
        assert re.fullmatch(r"full-snapshot-%s\.snapshot" % TS, sd["name"]), sd
        assert emu.get("/collections/fa/snapshots").json()["result"] == []  # moved into it
        data = emu.get("/snapshots/" + sd["name"]).body
        assert sha256(data) == sd["checksum"]
        tf = tarfile.open(fileobj=io.BytesIO(data))
        cfg = json.load(tf.extractfile("config.json"))
        assert set(cfg["collections_mapping"]) == {"fa", "fb"}
        assert cfg["collections_aliases"] == {}
        path = os.path.join(emu.data_dir, "snapshots", sd["name"])
        with Emu(BINARY, ["--storage-snapshot", path]) as fresh:
            assert sorted_points(fresh.all_points("fa")) == sorted_points(before)
            assert fresh.all_points("fb") == fb
        # an existing collection makes startup fail unless --force-snapshot
        one = emu.post("/collections/fa/snapshots").json()["result"]["name"]
        one_path = os.path.join(emu.data_dir, "snapshots", "fa", one)
        emu.stop()
        try:
            Emu(BINARY, ["--snapshot", one_path + ":fa"], data_dir=emu.data_dir)
            raise AssertionError("startup should refuse an existing collection")
        except RuntimeError:
            pass
        with Emu(BINARY, ["--snapshot", one_path + ":fa", "--force-snapshot"],
                 data_dir=emu.data_dir) as again:
            assert again.all_points("fa") == before
        emu.start()


def test_downloads_range_gzip_conditional():
    with Emu(BINARY) as emu:
        populated(emu, "dl", 50)
        sd = emu.post("/collections/dl/snapshots").json()["result"]
        url = "/collections/dl/snapshots/" + sd["name"]
        full = emu.get(url)
        r = emu.get(url, headers={"Range": "bytes=100-199"})
        assert r.status == 206 and r.body == full.body[100:200]
        assert r.headers["content-range"] == "bytes 100-199/%d" % len(full.body)
        r = emu.get(url, headers={"Range": "bytes=-10"})
        assert r.status == 206 and r.body == full.body[-10:]
        r = emu.get(url, headers={"Range": "bytes=%d-" % (len(full.body) + 5)})
        assert r.status == 416 and r.headers["content-range"] == "bytes */%d" % len(full.body)
        r = emu.get(url, headers={"If-None-Match": full.headers["etag"]})
        assert r.status == 304
        r = emu.get(url, headers={"Accept-Encoding": "gzip, deflate"})
        assert r.status == 200 and r.headers.get("content-encoding") == "gzip"
        assert "content-length" not in r.headers
        assert hashlib.sha256(gzip.decompress(r.body)).hexdigest() == sd["checksum"]
        r = emu.get(url, headers={"Accept-Encoding": "gzip", "Range": "bytes=0-9"})
        assert r.status == 206 and "content-encoding" not in r.headers


def test_wait_false_and_restart_persistence():
    with Emu(BINARY) as emu:
        before = populated(emu, "wf", 20)
        r = emu.post("/collections/wf/snapshots", query={"wait": "false"})
        assert r.status == 202 and r.json()["status"] == "accepted"
        deadline = time.time() + 20
        while not emu.get("/collections/wf/snapshots").json()["result"]:
            assert time.time() < deadline
            time.sleep(0.05)
        r = emu.post("/collections/missing/snapshots", query={"wait": "false"})
        assert r.status == 202  # the 404 is only logged
        r = emu.post("/collections/wf/snapshots", query={"wait": "maybe"})
        assert r.status == 400
        emu.stop()
        emu.start()
        assert emu.all_points("wf") == before
        assert len(emu.get("/collections/wf/snapshots").json()["result"]) >= 1


def test_fill_makes_big_snapshots():
    with Emu(BINARY) as emu:
        emu.create_collection("big")
        r = emu.post("/debug/fill/big", query={"mb": "8"})
        assert r.status == 200, r
        sd = emu.post("/collections/big/snapshots").json()["result"]
        assert sd["size"] > 8 * 1024 * 1024
        body = emu.get("/collections/big/snapshots/" + sd["name"]).body
        assert sha256(body) == sd["checksum"]
        assert len(gzip.compress(body[:1 << 20], 1)) > (1 << 20) * 0.99  # incompressible
        emu.delete("/collections/big")
        r = emu.upload("/collections/big/snapshots/upload", body)
        assert r.status == 200
        sd2 = emu.post("/collections/big/snapshots").json()["result"]
        assert abs(sd2["size"] - sd["size"]) < 4096


def test_fill_embeddings_compress_like_real_data():
    """content=embeddings: float32 unit vectors and JSON payloads, deterministic,
    compressible about as much as a real segment (not noise, not text)."""
    with Emu(BINARY) as emu:
        emu.create_collection("emb")
        r = emu.post("/debug/fill/emb", query={"mb": "4", "content": "embeddings", "dim": "8"})
        assert r.status == 200, r
        assert r.json()["result"]["content"] == "embeddings"
        assert emu.post("/debug/fill/emb", query={"mb": "1", "content": "text"}).status == 400
        assert emu.post("/debug/fill/emb", query={"mb": "1", "dim": "0"}).status == 400
        r = emu.post("/debug/fill/emb", query={"mb": "4", "content": "embeddings", "dim": "384"})
        assert r.status == 200, r
        sd = emu.post("/collections/emb/snapshots").json()["result"]
        body = emu.get("/collections/emb/snapshots/" + sd["name"]).body
        with tarfile.open(fileobj=io.BytesIO(body)) as outer:
            fill = None
            for m in outer.getmembers():
                if m.name.endswith(".tar"):
                    with tarfile.open(fileobj=outer.extractfile(m)) as inner:
                        for im in inner.getmembers():
                            if im.name.endswith("fill.bin"):
                                fill = inner.extractfile(im).read()
            assert fill is not None and len(fill) == 4 << 20
        # The first block: 64 vectors of unit length, then a JSON line.
        for p in range(64):
            v = struct.unpack_from("<384f", fill, p * 384 * 4)
            assert abs(sum(x * x for x in v) - 1.0) < 1e-3
        first = fill[64 * 384 * 4:].split(b"\n", 1)[0]
        assert json.loads(first)["doc_id"] == 0
        ratio = len(gzip.compress(body, 6)) / len(body)
        assert 0.6 < ratio < 0.95, ratio
        # Deterministic: the same request writes the same bytes.
        emu.post("/debug/fill/emb", query={"mb": "4", "content": "embeddings", "dim": "384"})
        sd2 = emu.post("/collections/emb/snapshots").json()["result"]
        assert sd2["size"] == sd["size"]


if __name__ == "__main__":
    run_tests(globals())
