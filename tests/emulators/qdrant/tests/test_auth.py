# SPDX-License-Identifier: Apache-2.0
"""api-key auth of qdrant-emu as Qdrant answers it (CONTRACT.md §8)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from emuharness import Emu, binary_from_argv, run_tests, sample_points  # noqa: E402

BINARY = binary_from_argv()
FULL = {"api-key": "full-key"}
RO = {"api-key": "ro-key"}
DENIED = "Forbidden: Global manage access is required"


def emu():
    return Emu(BINARY, ["--api-key", "full-key", "--read-only-api-key", "ro-key"])


def test_missing_and_invalid_keys():
    with emu() as e:
        r = e.get("/collections")
        assert r.status == 401
        assert r.text == "Must provide an API key or an Authorization bearer token"
        assert "content-type" not in r.headers
        r = e.get("/collections", headers={"api-key": "nope"})
        assert r.status == 401 and r.text == "Invalid API key or JWT"
        r = e.get("/no/such/route")
        assert r.status == 401  # auth runs before routing, as in actix
        for p in ("/", "/healthz", "/livez", "/readyz"):
            assert e.get(p).status == 200, p
        assert e.get("/collections", headers={"Authorization": "Bearer full-key"}).status == 200
        assert e.get("/collections", headers={"Authorization": "Bearer ro-key"}).status == 200


def test_read_only_key():
    with emu() as e:
        e.create_collection("a", headers=FULL)
        e.upsert("a", sample_points(5), headers=FULL)
        sd = e.post("/collections/a/snapshots", headers=FULL).json()["result"]
        for path in ("/collections", "/collections/a", "/collections/a/snapshots", "/snapshots",
                     "/collections/a/shards/0/snapshots", "/cluster"):
            assert e.get(path, headers=RO).status == 200, path
        assert e.get("/collections/a/snapshots/" + sd["name"], headers=RO).status == 200
        assert e.post("/collections/a/points/scroll", {}, headers=RO).status == 200
        assert e.post("/collections/a/points/count", {}, headers=RO).status == 200
        for method, path, body in (
                ("PUT", "/collections/b", {"vectors": {"size": 2, "distance": "Dot"}}),
                ("DELETE", "/collections/a", None),
                ("PUT", "/collections/a/points", {"points": sample_points(1)}),
                ("POST", "/collections/a/snapshots", None),
                ("POST", "/snapshots", None),
                ("DELETE", "/collections/a/snapshots/" + sd["name"], None),
                ("GET", "/collections/a/shards/0/snapshot", None),
                ("PUT", "/collections/a/snapshots/recover", {"location": "file:///x"})):
            r = e.request(method, path, body=body, headers=RO)
            assert r.status == 403, (method, path, r)
            assert r.json()["status"]["error"] == DENIED
        # wait=false hides the denial behind 202 (Qdrant's time_or_accept)
        r = e.post("/collections/a/snapshots", headers=RO, query={"wait": "false"})
        assert r.status == 202
        assert len(e.get("/collections/a/snapshots", headers=RO).json()["result"]) == 1


def test_read_only_upload_refused_before_body():
    with emu() as e:
        e.create_collection("a", headers=FULL)
        r = e.upload("/collections/a/snapshots/upload", b"x" * 100000, headers=RO)
        assert r.status == 403 and r.text == DENIED and "content-type" not in r.headers
        upload_dir = os.path.join(e.data_dir, "snapshots", "tmp", "upload")
        assert not os.path.isdir(upload_dir) or os.listdir(upload_dir) == []
        r = e.upload("/collections/a/shards/0/snapshots/upload", b"x", headers=RO)
        assert r.status == 403 and r.text == DENIED
        assert e.get("/debug/requests").json()["result"]["requests"][-1]["key"] == "read-only"


def test_full_key_everything():
    with emu() as e:
        e.create_collection("a", headers=FULL)
        e.upsert("a", sample_points(5), headers=FULL)
        sd = e.post("/collections/a/snapshots", headers=FULL).json()["result"]
        data = e.get("/collections/a/snapshots/" + sd["name"], headers=FULL).body
        r = e.upload("/collections/a/snapshots/upload", data, headers=FULL)
        assert r.status == 200, r
        assert e.post("/snapshots", headers=FULL).status == 200
        assert e.delete("/collections/a", headers=FULL).json()["result"] is True


def test_only_read_only_key_configured():
    with Emu(BINARY, ["--read-only-api-key", "ro-key"]) as e:
        assert e.get("/collections").status == 401
        assert e.get("/collections", headers=RO).status == 200
        r = e.put("/collections/x", {"vectors": {"size": 2, "distance": "Dot"}}, headers=RO)
        assert r.status == 403


if __name__ == "__main__":
    run_tests(globals())
