# SPDX-License-Identifier: Apache-2.0
"""Fault injection and the request log of qdrant-emu (/debug/faults,
/debug/requests)."""
import http.client
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from emuharness import Emu, binary_from_argv, run_tests, sample_points, sha256  # noqa: E402

BINARY = binary_from_argv()


def arm(emu, **rule):
    r = emu.post("/debug/faults", rule)
    assert r.status == 200, r
    return r


def snapshot(emu, name="f", mb=0):
    if emu.get("/collections/%s/exists" % name).json()["result"]["exists"] is False:
        emu.create_collection(name)
        emu.upsert(name, sample_points(20))
    if mb:
        emu.post("/debug/fill/%s" % name, query={"mb": str(mb)})
    return emu.post("/collections/%s/snapshots" % name).json()["result"]


def test_fail_next_n_matching_prefix():
    with Emu(BINARY) as emu:
        emu.create_collection("f")
        arm(emu, kind="fail", status=503, count=2, path_prefix="/collections/f/snapshots",
            method="POST")
        for _ in range(2):
            r = emu.post("/collections/f/snapshots")
            assert r.status == 503
            assert r.json()["status"]["error"] == "Service internal error: injected fault"
        assert emu.get("/collections/f").status == 200  # other paths untouched
        assert emu.post("/collections/f/snapshots").status == 200
        assert emu.get("/debug/faults").json()["result"] == []
        arm(emu, kind="fail", status=500, message="boom", plain=True)
        r = emu.get("/collections")
        assert r.status == 500 and r.text == "boom"
        arm(emu, kind="fail", status=502, count=0, path_prefix="/cluster")
        for _ in range(3):
            assert emu.get("/cluster").status == 502
        assert emu.delete("/debug/faults").status == 200
        assert emu.get("/cluster").status == 200


def test_drop_and_delay():
    with Emu(BINARY) as emu:
        arm(emu, kind="drop", path_prefix="/collections")
        try:
            emu.get("/collections")
            raise AssertionError("connection should have been dropped")
        except (http.client.HTTPException, ConnectionError, socket.error):
            pass
        assert emu.get("/collections").status == 200
        arm(emu, kind="delay", delay_ms=400, path_prefix="/collections")
        t0 = time.time()
        assert emu.get("/collections").status == 200
        assert time.time() - t0 >= 0.35


def test_throttle_truncate_stall_downloads():
    with Emu(BINARY) as emu:
        sd = snapshot(emu, mb=1)
        url = "/collections/f/snapshots/" + sd["name"]
        arm(emu, kind="throttle", bytes_per_sec=2 * 1024 * 1024, path_prefix=url)
        t0 = time.time()
        r = emu.get(url)
        took = time.time() - t0
        assert r.status == 200 and sha256(r.body) == sd["checksum"]
        assert took >= 0.4, took  # ~1 MiB at 2 MiB/s
        arm(emu, kind="truncate", after_bytes=1000, path_prefix=url)
        conn = http.client.HTTPConnection("127.0.0.1", emu.port, timeout=30)
        conn.request("GET", url)
        resp = conn.getresponse()
        assert resp.status == 200 and int(resp.getheader("content-length")) == sd["size"]
        try:
            resp.read()
            raise AssertionError("body should be cut short")
        except http.client.IncompleteRead as e:
            assert len(e.partial) == 1000, len(e.partial)
        conn.close()
        arm(emu, kind="stall", after_bytes=4096, stall_ms=500, path_prefix=url)
        t0 = time.time()
        r = emu.get(url)
        assert sha256(r.body) == sd["checksum"] and time.time() - t0 >= 0.45
        # faults on the streamed shard snapshot (route 15) too
        arm(emu, kind="truncate", after_bytes=512, path_prefix="/collections/f/shards/0/snapshot")
        try:
            emu.get("/collections/f/shards/0/snapshot")
            raise AssertionError("stream should be cut short")
        except (http.client.HTTPException, ConnectionError):
            pass
        # clean: the chunked stream ends with its zero chunk, a normal EOF
        arm(emu, kind="truncate", after_bytes=700, clean=True,
            path_prefix="/collections/f/shards/0/snapshot")
        assert emu.get("/debug/faults").json()["result"][0]["clean"] is True
        r = emu.get("/collections/f/shards/0/snapshot")
        assert r.status == 200 and len(r.body) == 700, len(r.body)
        assert r.headers.get("transfer-encoding") == "chunked"


def test_wrong_checksum():
    with Emu(BINARY) as emu:
        arm(emu, kind="wrong_checksum")
        sd = snapshot(emu)
        body = emu.get("/collections/f/snapshots/" + sd["name"]).body
        assert sha256(body) != sd["checksum"] and len(sd["checksum"]) == 64
        listed = emu.get("/collections/f/snapshots").json()["result"][0]
        assert listed["checksum"] == sd["checksum"]  # consistently wrong
        time.sleep(1.1)  # next snapshot gets a new name
        sd2 = snapshot(emu)
        assert sha256(emu.get("/collections/f/snapshots/" + sd2["name"]).body) == sd2["checksum"]


def test_request_log_is_exact_and_redacted():
    with Emu(BINARY, ["--api-key", "k-full-123"]) as emu:
        h = {"api-key": "k-full-123"}
        emu.create_collection("f", headers=h)
        assert emu.delete("/debug/requests").status == 200
        emu.put("/collections/f/snapshots/recover",
                {"location": "http://127.0.0.1:1/x", "api_key": "remote-secret"},
                query={"wait": "false"}, headers=dict(h, **{"X-Request-Id": "req-7"}))
        emu.get("/collections/f/snapshots", headers={"Authorization": "Bearer k-full-123",
                                                     "Range": "bytes=0-1"})
        emu.get("/collections", headers={"api-key": "wrong"})
        emu.upload("/collections/f/snapshots/upload", b"abc", filename="a.snapshot",
                   query={"checksum": "0" * 64}, headers=h)
        log = emu.get("/debug/requests").json()["result"]
        reqs = log["requests"]
        assert [(r["method"], r["path"]) for r in reqs] == [
            ("PUT", "/collections/f/snapshots/recover"),
            ("GET", "/collections/f/snapshots"),
            ("GET", "/collections"),
            ("POST", "/collections/f/snapshots/upload"),
        ], reqs
        r0, r1, r2, r3 = reqs
        assert r0["query"] == {"wait": "false"} and r0["status"] == 202
        assert r0["headers"]["x-request-id"] == "req-7" and r0["key"] == "full"
        assert r0["body"] == {"location": "http://127.0.0.1:1/x", "api_key": "<redacted>"}
        assert r1["auth"] == "bearer" and r1["headers"]["range"] == "bytes=0-1"
        assert r2["key"] == "invalid" and r2["status"] == 401
        assert r3["upload"] == {"field": "snapshot", "filename": "a.snapshot", "bytes": 3}
        assert r3["query"]["checksum"] == "0" * 64 and r3["status"] == 400
        raw = emu.get("/debug/requests").text
        assert "k-full-123" not in raw and "remote-secret" not in raw
        assert "api-key" not in raw.replace('"auth":"api-key"', "")
        emu.delete("/debug/requests")
        assert emu.get("/debug/requests").json()["result"]["requests"] == []


if __name__ == "__main__":
    run_tests(globals())
