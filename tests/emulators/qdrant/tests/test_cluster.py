# SPDX-License-Identifier: Apache-2.0
"""qdrant-emu in cluster mode: three peers (127.0.0.1-3, one port, one
--cluster-dir) must look like a three-node Qdrant 1.19 to a backup tool.

* every cluster-route answer validates against the v1.19 spec;
* peer ids are exact JSON integers above 2^53, the leader is the first peer;
* placement of shard_number x replication_factor, custom sharding with keys;
* points written through one peer are read back through any other;
* collection snapshots hold every shard folder but segments only for the
  peer's own replicas; shard routes on a peer without the shard answer
  Qdrant's "not a local ... shard"; route 15 streams a valid tar;
* shard recovery activates the recovered replica, kills the others and
  heals them with a visible transfer; debug replica states stay put;
* a killed peer makes reads of its only-replica shards fail;
* a collection archive recovers only the answering peer's shards, creates
  a missing collection with its payload indexes, and leaves an existing
  one's config and indexes alone (other vectors: 400).
"""
import io
import json
import os
import re
import sys
import tarfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from emuharness import Cluster, Emu, binary_from_argv, run_tests, sample_points  # noqa: E402
from test_conformance import Spec, call  # noqa: E402

BINARY = binary_from_argv()
C = "/collections/{collection_name}"
SH = C + "/shards/{shard_id}"
TS = r"\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}"


def ids_of(cluster):
    return [p.get("/cluster").json()["result"]["peer_id"] for p in cluster.peers]


def view(peer, coll):
    r = peer.get("/collections/%s/cluster" % coll)
    assert r.status == 200, r
    return r.json()["result"]


def replicas(peer, coll):
    """{(shard_id, peer_id): state} as one peer sees it."""
    v = view(peer, coll)
    out = {(s["shard_id"], v["peer_id"]): s["state"] for s in v["local_shards"]}
    out.update({(s["shard_id"], s["peer_id"]): s["state"] for s in v["remote_shards"]})
    return out


def wait_for(cond, timeout=15, what="condition"):
    deadline = time.time() + timeout
    while True:
        got = cond()
        if got:
            return got
        assert time.time() < deadline, "timed out waiting for %s" % what
        time.sleep(0.05)


def tar_names(data):
    return tarfile.open(fileobj=io.BytesIO(data)).getnames()


def upsert(peer, coll, points, **body):
    body["points"] = points
    r = peer.put("/collections/%s/points" % coll, body, query={"wait": "true"})
    assert r.status == 200, r
    return r


def test_cluster_views_conform_and_ids_are_exact():
    spec = Spec("openapi-v1.19.json")
    with Cluster(BINARY, 3) as cl:
        ids = ids_of(cl)
        assert len(set(ids)) == 3
        for i, p in enumerate(cl.peers):
            r = call(p, spec, "GET", "/cluster")
            assert b"e+" not in r.body and b"E+" not in r.body, r.body
            res = r.json()["result"]
            assert isinstance(res["peer_id"], int) and res["peer_id"] > 2 ** 53
            assert res["peer_id"] == ids[i]
            assert str(res["peer_id"]).encode() in r.body  # printed digit for digit
            assert set(res["peers"]) == {str(x) for x in ids}
            assert res["peers"][str(ids[i])]["uri"] == "http://127.0.0.%d:6335/" % (i + 1)
            assert res["raft_info"]["leader"] == ids[0]
            assert res["raft_info"]["role"] == ("Leader" if i == 0 else "Follower")
            assert res["status"] == "enabled" and res["message_send_failures"] == {}
        c = {"collection_name": "conf"}
        assert call(cl[0], spec, "PUT", C, c,
                    body={"vectors": {"size": 4, "distance": "Dot"}}).status == 200
        r = call(cl[1], spec, "PUT", C, c, body={"vectors": {"size": 4, "distance": "Dot"}})
        assert r.status == 409
        info = call(cl[2], spec, "GET", C, c).json()["result"]
        assert info["config"]["params"]["shard_number"] == 3  # one per peer, as Qdrant
        upsert(cl[1], "conf", sample_points(30))
        for p in cl.peers:
            r = call(p, spec, "GET", C + "/cluster", c)
            assert b"e+" not in r.body
            v = r.json()["result"]
            assert v["shard_count"] == 3 and "resharding_operations" not in v
            assert all(isinstance(s["peer_id"], int) for s in v["remote_shards"])
        # payload index and schema
        r = call(cl[0], spec, "PUT", C + "/index", c,
                 body={"field_name": "tag", "field_schema": "keyword"}, query={"wait": "true"})
        assert r.json()["result"]["status"] == "completed"
        call(cl[0], spec, "PUT", C + "/index", c,
             body={"field_name": "nested.a", "field_schema": {"type": "integer", "range": True}})
        r = call(cl[0], spec, "PUT", C + "/index", c, body={"field_name": "x"})
        assert r.status == 400
        schema = call(cl[2], spec, "GET", C, c).json()["result"]["payload_schema"]
        assert schema["tag"] == {"data_type": "keyword", "points": 30}, schema
        assert schema["nested.a"]["data_type"] == "integer"
        assert schema["nested.a"]["params"] == {"type": "integer", "range": True}
        f = dict(c, field_name="nested.a")
        assert call(cl[1], spec, "DELETE", C + "/index/{field_name}", f).status == 200
        assert "nested.a" not in cl[0].get("/collections/conf").json()["result"]["payload_schema"]
        # aliases
        body = {"actions": [{"create_alias": {"collection_name": "conf", "alias_name": "a1"}},
                            {"create_alias": {"collection_name": "conf", "alias_name": "a2"}}]}
        assert call(cl[0], spec, "POST", "/collections/aliases", body=body).json()["result"] is True
        body = {"actions": [{"rename_alias": {"old_alias_name": "a2", "new_alias_name": "b2"}},
                            {"delete_alias": {"alias_name": "a1"}}]}
        assert call(cl[1], spec, "POST", "/collections/aliases", body=body).status == 200
        got = call(cl[2], spec, "GET", "/aliases").json()["result"]["aliases"]
        assert got == [{"alias_name": "b2", "collection_name": "conf"}], got
        got = call(cl[2], spec, "GET", C + "/aliases", c).json()["result"]["aliases"]
        assert [a["alias_name"] for a in got] == ["b2"]
        r = call(cl[0], spec, "POST", "/collections/aliases",
                 body={"actions": [{"rename_alias": {"old_alias_name": "zz",
                                                     "new_alias_name": "y"}}]})
        assert r.status == 404 and r.json()["status"]["error"] == "Not found: Alias zz does not exists!"
        r = call(cl[0], spec, "POST", "/collections/aliases",
                 body={"actions": [{"create_alias": {"collection_name": "nope",
                                                     "alias_name": "y"}}]})
        assert r.status == 404
        assert cl[1].get("/collections/b2").json()["result"]["points_count"] == 30  # by alias
        assert cl[2].post("/collections/b2/points/count", {}).json()["result"]["count"] == 30
        r = cl[0].put("/collections/b2", {"vectors": {"size": 4, "distance": "Dot"}})
        assert r.status == 400 and "Alias with the same name already exists" in r.text
        # full snapshots carry the aliases
        sd = cl[1].post("/snapshots").json()["result"]
        data = cl[1].get("/snapshots/" + sd["name"]).body
        cfg = json.load(tarfile.open(fileobj=io.BytesIO(data)).extractfile("config.json"))
        assert cfg["collections_aliases"] == {"b2": "conf"}
        assert call(cl[0], spec, "DELETE", C, c).json()["result"] is True
        assert cl[2].get("/aliases").json()["result"]["aliases"] == []
    assert spec.checked >= 20, spec.checked


def test_placement_shard_number_and_replication():
    with Cluster(BINARY, 3) as cl:
        ids = ids_of(cl)
        for coll, rf in (("r1", 1), ("r2", 2)):
            r = cl[2].put("/collections/" + coll, {"vectors": {"size": 4, "distance": "Dot"},
                                                   "shard_number": 6, "replication_factor": rf})
            assert r.status == 200, r
            want = {(s, ids[(s + j) % 3]): "Active" for s in range(6) for j in range(rf)}
            for i, p in enumerate(cl.peers):
                assert replicas(p, coll) == want, (coll, i)
                local = sorted(s["shard_id"] for s in view(p, coll)["local_shards"])
                assert local == sorted(s for s in range(6) if any((s + j) % 3 == i
                                                                  for j in range(rf)))
                # only local shards have data folders on this peer
                base = os.path.join(p.data_dir, "storage", "collections", coll)
                for s in range(6):
                    st = json.load(open(os.path.join(base, str(s), "replica_state.json")))
                    assert st["this_peer_id"] == ids[i]
                    assert st["is_local"] == (s in local)
                    assert os.path.isdir(os.path.join(base, str(s), "segments")) == (s in local)
            info = cl[0].get("/collections/" + coll).json()["result"]["config"]["params"]
            assert info["shard_number"] == 6 and info["replication_factor"] == rf
        text = open(os.path.join(cl[0].data_dir, "storage", "collections", "r1", "0",
                                 "replica_state.json")).read()
        assert '"this_peer_id":%d' % ids[0] in text  # exact in files too


def test_custom_sharding_with_two_keys():
    spec = Spec("openapi-v1.19.json")
    with Cluster(BINARY, 3) as cl:
        ids = ids_of(cl)
        c = {"collection_name": "cu"}
        assert cl[0].put("/collections/cu", {"vectors": {"size": 4, "distance": "Dot"},
                                             "sharding_method": "custom"}).status == 200
        assert view(cl[1], "cu")["shard_count"] == 0  # no shard before the first key
        assert call(cl[1], spec, "PUT", C + "/shards", c,
                    body={"shard_key": "eu", "shards_number": 2}).json()["result"] is True
        assert call(cl[2], spec, "PUT", C + "/shards", c, body={"shard_key": 7}).status == 200
        r = call(cl[0], spec, "PUT", C + "/shards", c, body={"shard_key": 7})
        assert r.status == 400 and r.json()["status"]["error"] == "Bad request: Shard key 7 already exists"
        keys = call(cl[0], spec, "GET", C + "/shards", c).json()["result"]["shard_keys"]
        assert keys == [{"key": "eu"}, {"key": 7}]
        # Qdrant numbers a key's shards from max_shard_id() + 1: eu -> 1, 2; 7 -> 3
        v = call(cl[0], spec, "GET", C + "/cluster", c).json()["result"]
        keyed = {s["shard_id"]: s["shard_key"] for s in v["local_shards"] + v["remote_shards"]}
        assert keyed == {1: "eu", 2: "eu", 3: 7}, keyed
        assert replicas(cl[0], "cu") == {(1, ids[1]): "Active", (2, ids[2]): "Active",
                                        (3, ids[0]): "Active"}
        r = cl[0].put("/collections/cu/points", {"points": sample_points(3)})
        assert r.status == 400 and r.json()["status"]["error"] == "Wrong input: Shard key not specified"
        r = cl[0].put("/collections/cu/points", {"points": sample_points(3), "shard_key": "xx"})
        assert r.status == 400 and r.json()["status"]["error"] == "Wrong input: Shard key xx not found"
        upsert(cl[0], "cu", sample_points(20), shard_key="eu")
        upsert(cl[2], "cu", sample_points(5, seed=3), shard_key=7)
        assert cl[1].post("/collections/cu/points/count", {}).json()["result"]["count"] == 25
        assert cl[1].post("/collections/cu/points/count",
                          {"shard_key": 7}).json()["result"]["count"] == 5
        eu = cl[2].post("/collections/cu/points/scroll", {"limit": 100, "shard_key": "eu"})
        assert len(eu.json()["result"]["points"]) == 20
        r = cl[0].put("/collections/plain", {"vectors": {"size": 4, "distance": "Dot"}})
        r = cl[0].put("/collections/plain/shards", {"shard_key": "k"})
        assert r.status == 400
        assert r.json()["status"]["error"] == "Bad request: Shard Key k cannot be created with Auto sharding method"
        # dropping a key drops its shards on every peer
        assert call(cl[2], spec, "POST", C + "/shards/delete", c,
                    body={"shard_key": "eu"}).json()["result"] is True
        for p in cl.peers:
            assert view(p, "cu")["shard_count"] == 1
            base = os.path.join(p.data_dir, "storage", "collections", "cu")
            wait_for(lambda: not os.path.exists(os.path.join(base, "1")), what="shard 1 gone")
        assert cl[1].post("/collections/cu/points/count", {}).json()["result"]["count"] == 5
        mapping = json.load(open(os.path.join(cl[1].data_dir, "storage", "collections", "cu",
                                              "shard_key_mapping.json")))
        assert mapping == [{"key": 7, "shard_ids": [3]}]


def test_points_through_any_peer():
    with Cluster(BINARY, 3) as cl:
        cl[0].put("/collections/p", {"vectors": {"size": 4, "distance": "Cosine"},
                                     "shard_number": 6, "replication_factor": 2})
        pts = sample_points(200)
        for k in range(0, 200, 50):
            upsert(cl[k // 50 % 3], "p", pts[k:k + 50])
        all_points = [p.all_points("p") for p in cl.peers]
        assert len(all_points[0]) == 200
        assert all_points[0] == all_points[1] == all_points[2]
        ints = [p["id"] for p in all_points[0] if isinstance(p["id"], int)]
        assert ints == sorted(ints)  # ids in Qdrant's order across shards
        for p in cl.peers:
            info = p.get("/collections/p").json()["result"]
            assert info["points_count"] == 200 and info["segments_count"] == 6
        # every shard got some, each held on exactly two peers
        counts = {}
        for p in cl.peers:
            for s in view(p, "p")["local_shards"]:
                counts.setdefault(s["shard_id"], []).append(s["points_count"])
        assert sorted(counts) == list(range(6))
        assert all(len(c) == 2 and c[0] == c[1] > 0 for c in counts.values()), counts
        assert sum(c[0] for c in counts.values()) == 200
        r = cl[2].post("/collections/p/points", {"ids": [1, 2, 999999], "with_vector": True})
        assert [x["id"] for x in r.json()["result"]] == [1, 2]
        r = cl[1].get("/collections/p/points/4")
        assert r.status == 200 and r.json()["result"]["payload"]["i"] == 4
        assert cl[1].get("/collections/p/points/999999").status == 404
        r = cl[1].post("/collections/p/points/delete", {"points": [1, 2, 4]},
                       query={"wait": "true"})
        assert r.status == 200
        assert cl[0].post("/collections/p/points/count", {}).json()["result"]["count"] == 197
        page = cl[2].post("/collections/p/points/scroll", {"limit": 7}).json()["result"]
        assert len(page["points"]) == 7 and page["next_page_offset"] is not None


def test_collection_snapshot_holds_local_segments_only():
    with Cluster(BINARY, 3) as cl:
        ids = ids_of(cl)
        cl[0].put("/collections/s", {"vectors": {"size": 4, "distance": "Dot"},
                                     "shard_number": 6})
        upsert(cl[0], "s", sample_points(60))
        for i, p in enumerate(cl.peers):
            sd = p.post("/collections/s/snapshots").json()["result"]
            assert re.fullmatch(r"s-%d-%s\.snapshot" % (ids[i], TS), sd["name"]), sd
            data = p.get("/collections/s/snapshots/" + sd["name"]).body
            tf = tarfile.open(fileobj=io.BytesIO(data))
            names = tf.getnames()
            for s in range(6):
                assert "%d/replica_state.json" % s in names and "%d/shard_config.json" % s in names
                local = s % 3 == i
                segs = [n for n in names if re.fullmatch(r"%d/segments/[0-9a-f-]{36}\.tar" % s, n)]
                assert bool(segs) == local, (i, s, names)
                assert ("%d/wal" % s in names) == local
                st = json.load(tf.extractfile("%d/replica_state.json" % s))
                assert st["is_local"] == local and st["this_peer_id"] == ids[i]
                assert st["peers"] == {str(ids[s % 3]): "Active"}
            assert "config.json" in names and "shard_key_mapping.json" in names


def test_shard_routes_off_peer_and_stream():
    with Cluster(BINARY, 3) as cl:
        cl[0].put("/collections/o", {"vectors": {"size": 4, "distance": "Dot"},
                                     "shard_number": 3})
        upsert(cl[0], "o", sample_points(40))
        # shard 1 lives on peer 1 only
        sd = cl[1].post("/collections/o/shards/1/snapshots").json()["result"]
        local_or_proxy = "Wrong input: Shard 1 is not a local or queue proxy shard"
        r = cl[0].get("/collections/o/shards/1/snapshots")
        assert r.status == 400
        assert r.json()["status"]["error"] == "Wrong input: Shard 1 is not a local shard"
        r = cl[0].post("/collections/o/shards/1/snapshots")
        assert r.status == 400 and r.json()["status"]["error"] == local_or_proxy
        r = cl[0].get("/collections/o/shards/1/snapshots/" + sd["name"])
        assert r.status == 400 and r.text == local_or_proxy
        assert r.headers["content-type"].startswith("text/plain")
        r = cl[0].delete("/collections/o/shards/1/snapshots/" + sd["name"])
        assert r.status == 400 and r.json()["status"]["error"] == local_or_proxy
        r = cl[2].get("/collections/o/shards/1/snapshot")
        assert r.status == 400 and r.text == local_or_proxy
        r = cl[2].put("/collections/o/shards/1/snapshots/recover", {"location": sd["name"]})
        assert r.status == 400 and r.json()["status"]["error"] == local_or_proxy
        for p in cl.peers:
            r = p.get("/collections/o/shards/99/snapshots")
            assert r.status == 404
            assert r.json()["status"]["error"] == "Not found: shard 99 not found"
            r = p.get("/collections/o/shards/99/snapshot")
            assert r.status == 404 and r.text == "Not found: shard 99 not found"
        # route 15 on the hosting peer: chunked, no length, a valid tar
        r = cl[1].get("/collections/o/shards/1/snapshot")
        assert r.status == 200 and "content-length" not in r.headers
        assert r.headers.get("transfer-encoding") == "chunked"
        names = tar_names(r.body)
        pts = [n for n in names if re.fullmatch(r"segments/[0-9a-f-]{36}/files/points\.json", n)]
        assert len(pts) == 1 and "wal" in names and "replica_state.json" in names
        tf = tarfile.open(fileobj=io.BytesIO(r.body))
        held = json.load(tf.extractfile(pts[0]))
        assert len(held) == view(cl[1], "o")["local_shards"][0]["points_count"] > 0


def test_shard_recovery_heals_the_other_replica():
    spec = Spec("openapi-v1.19.json")
    with Cluster(BINARY, 3, ["--heal-ms", "600"]) as cl:
        ids = ids_of(cl)
        cl[0].put("/collections/h", {"vectors": {"size": 4, "distance": "Dot"},
                                     "shard_number": 3, "replication_factor": 2})
        upsert(cl[2], "h", sample_points(60))
        before = cl[0].all_points("h")
        # shard 0 is on peers 0 and 1; snapshot it on peer 1
        sd = cl[1].post("/collections/h/shards/0/snapshots").json()["result"]
        upsert(cl[0], "h", [{"id": 10 ** 6 + k, "vector": [1, 2, 3, k]} for k in range(30)])
        assert len(cl[0].all_points("h")) == 90
        r = cl[1].put("/collections/h/shards/0/snapshots/recover", {"location": sd["name"]})
        assert r.status == 200 and r.json()["result"] is True, r
        states = replicas(cl[2], "h")
        assert states[(0, ids[1])] == "Active" and states[(0, ids[0])] == "Dead", states
        # the heal runs as a transfer from the recovered replica, then turns Active
        c = {"collection_name": "h"}

        def transfer():
            v = call(cl[2], spec, "GET", C + "/cluster", c).json()["result"]
            return v["shard_transfers"]
        ts = wait_for(transfer, what="heal transfer")
        assert ts == [{"shard_id": 0, "from": ids[1], "to": ids[0], "sync": True,
                       "method": "wal_delta"}], ts
        assert replicas(cl[0], "h")[(0, ids[0])] == "Recovery"
        wait_for(lambda: not transfer() and replicas(cl[1], "h")[(0, ids[0])] == "Active",
                 what="healed replica")
        # peer 0's own replica of shard 0 now holds the snapshot's data
        local = {s["shard_id"]: s["points_count"] for s in view(cl[0], "h")["local_shards"]}
        peer1 = {s["shard_id"]: s["points_count"] for s in view(cl[1], "h")["local_shards"]}
        assert local[0] == peer1[0]
        got = cl[0].all_points("h")
        assert len(got) == 90 - sum(1 for k in range(30)
                                    if not any(p["id"] == 10 ** 6 + k for p in got))
        for p in cl.peers:
            assert p.all_points("h") == got
        assert len(got) < 90 and all(p in got for p in before)
        # priority no_sync leaves the other replica alone; upload (route 17) answers null
        data = cl[1].get("/collections/h/shards/0/snapshots/" + sd["name"]).body
        r = cl[0].upload("/collections/h/shards/0/snapshots/upload", data,
                         query={"priority": "no_sync"})
        assert r.status == 200 and r.json()["result"] is None, r
        assert replicas(cl[2], "h")[(0, ids[1])] == "Active"


def test_debug_replica_states_and_transfers():
    spec = Spec("openapi-v1.19.json")
    with Cluster(BINARY, 3, ["--heal-ms", "100"]) as cl:
        ids = ids_of(cl)
        cl[0].put("/collections/d", {"vectors": {"size": 4, "distance": "Dot"},
                                     "shard_number": 3, "replication_factor": 2})
        upsert(cl[0], "d", sample_points(30))
        r = cl[1].post("/debug/cluster/replica", {"collection": "d", "shard_id": 2,
                                                  "peer_id": str(ids[2]), "state": "Dead"})
        assert r.status == 200, r
        r = cl[1].post("/debug/cluster/replica", {"collection": "d", "shard_id": 2,
                                                  "peer_id": ids[0], "state": "Listener"})
        assert r.status == 200, r  # a JSON number above 2^53 names the peer too
        for st in ("Partial", "Initializing", "PartialSnapshot", "Recovery", "Resharding",
                   "ReshardingScaleDown", "ActiveRead", "ManualRecovery", "Active"):
            assert cl[2].post("/debug/cluster/replica", {
                "collection": "d", "shard_id": 0, "peer_id": str(ids[1]), "state": st}).status == 200
            assert replicas(cl[0], "d")[(0, ids[1])] == st
            call(cl[0], spec, "GET", C + "/cluster", {"collection_name": "d"})
        assert cl[2].post("/debug/cluster/replica", {
            "collection": "d", "shard_id": 0, "peer_id": str(ids[1]), "state": "Bogus"}).status == 400
        time.sleep(0.6)  # several heal periods: debug states are final
        for p in cl.peers:
            s = replicas(p, "d")
            assert s[(2, ids[2])] == "Dead" and s[(2, ids[0])] == "Listener", s
        # no readable replica left for shard 2: reads fail like Qdrant
        r = cl[1].post("/collections/d/points/count", {})
        assert r.status == 500
        assert "does not have enough active replicas" in r.json()["status"]["error"], r
        r = cl[1].post("/debug/cluster/transfer", {"collection": "d", "shard_id": 1,
                                                   "from": str(ids[1]), "to": str(ids[0]),
                                                   "sync": False, "method": "snapshot"})
        assert r.status == 200, r
        for p in cl.peers:
            v = call(p, spec, "GET", C + "/cluster", {"collection_name": "d"}).json()["result"]
            assert v["shard_transfers"] == [{"shard_id": 1, "from": ids[1], "to": ids[0],
                                             "sync": False, "method": "snapshot"}]
        assert cl[0].delete("/debug/cluster/transfers").status == 200
        assert view(cl[2], "d")["shard_transfers"] == []


def test_killed_peer_fails_reads_of_its_shards():
    with Cluster(BINARY, 3) as cl:
        cl[0].put("/collections/k", {"vectors": {"size": 4, "distance": "Dot"},
                                     "shard_number": 6})
        upsert(cl[0], "k", sample_points(90))
        before = cl[1].all_points("k")
        cl[2].kill()
        r = cl[0].post("/collections/k/points/scroll", {"limit": 100})
        assert r.status == 500 and "read operations failed" in r.json()["status"]["error"], r
        assert cl[1].post("/collections/k/points/count", {}).status == 500
        assert cl[1].get("/collections/k").status == 500
        more = [{"id": 1000 + k, "vector": [1, 0, 0, k]} for k in range(30)]
        r = cl[0].put("/collections/k/points", {"points": more})
        assert r.status == 500  # some land on the dead peer's shards
        # the view still lists the down peer (Qdrant keeps it until removed)
        assert len(cl[0].get("/cluster").json()["result"]["peers"]) == 3
        cl[2].start()  # same host, port, data directory and id
        cl.wait_peers(3)
        after = cl[0].all_points("k")
        assert all(p in after for p in before) and len(after) >= 90


def test_collection_recovery_restores_local_shards():
    with Cluster(BINARY, 3) as cl:
        cl[0].put("/collections/r", {"vectors": {"size": 4, "distance": "Dot"},
                                     "shard_number": 3})
        upsert(cl[0], "r", sample_points(60))
        before = cl[0].all_points("r")
        snaps = []
        for p in cl.peers:
            sd = p.post("/collections/r/snapshots").json()["result"]
            snaps.append(p.get("/collections/r/snapshots/" + sd["name"]).body)
        assert cl[0].delete("/collections/r").json()["result"] is True
        assert cl[0].put("/collections/r", {"vectors": {"size": 4, "distance": "Dot"},
                                            "shard_number": 3}).status == 200
        assert cl[1].post("/collections/r/points/count", {}).json()["result"]["count"] == 0
        for i, p in enumerate(cl.peers):
            r = p.upload("/collections/r/snapshots/upload", snaps[i])
            assert r.status == 200, r
        for p in cl.peers:
            assert p.all_points("r") == before
            assert all(s == "Active" for s in replicas(p, "r").values())
        # shard number must match
        cl[0].put("/collections/r6", {"vectors": {"size": 4, "distance": "Dot"},
                                      "shard_number": 6})
        r = cl[0].upload("/collections/r6/snapshots/upload", snaps[0])
        assert r.status == 400
        assert r.json()["status"]["error"] == (
            "Wrong input: Snapshot is not compatible with existing collection: "
            "Collection shard number: 6 Snapshot shard number: 3")


def test_reset_empties_every_peer():
    with Cluster(BINARY, 3) as cl:
        cl[0].put("/collections/z", {"vectors": {"size": 4, "distance": "Dot"}})
        upsert(cl[0], "z", sample_points(10))
        for p in cl.peers:
            assert p.post("/collections/z/snapshots").status == 200
        assert cl[1].post("/debug/reset").status == 200
        for p in cl.peers:
            assert p.get("/collections").json()["result"]["collections"] == []
            wait_for(lambda: not os.path.exists(os.path.join(p.data_dir, "storage",
                                                             "collections", "z")),
                     what="local data dropped")
            wait_for(lambda: not os.path.exists(os.path.join(p.data_dir, "snapshots", "z")),
                     what="snapshots dropped")
        assert len(cl[2].get("/cluster").json()["result"]["peers"]) == 3


def test_single_node_many_shards():
    with Emu(BINARY) as emu:
        emu.put("/collections/six", {"vectors": {"size": 4, "distance": "Dot"},
                                     "shard_number": 6})
        emu.upsert("six", sample_points(120))
        v = emu.get("/collections/six/cluster").json()["result"]
        assert v["shard_count"] == 6 and len(v["local_shards"]) == 6 and v["remote_shards"] == []
        assert sum(s["points_count"] for s in v["local_shards"]) == 120
        before = emu.all_points("six")
        sd = emu.post("/collections/six/snapshots").json()["result"]
        names = tar_names(emu.get("/collections/six/snapshots/" + sd["name"]).body)
        for s in range(6):
            assert any(re.fullmatch(r"%d/segments/[0-9a-f-]{36}\.tar" % s, n) for n in names)
        data = emu.get("/collections/six/snapshots/" + sd["name"]).body
        emu.delete("/collections/six")
        assert emu.upload("/collections/six/snapshots/upload", data).status == 200
        assert emu.all_points("six") == before
        assert emu.get("/cluster").json()["result"] == {"status": "disabled"}
        # a full snapshot restored at startup brings its aliases back
        emu.post("/collections/aliases", {"actions": [
            {"create_alias": {"collection_name": "six", "alias_name": "latest"}}]})
        full = emu.post("/snapshots").json()["result"]["name"]
        path = os.path.join(emu.data_dir, "snapshots", full)
        with Emu(BINARY, ["--storage-snapshot", path]) as fresh:
            assert fresh.get("/aliases").json()["result"]["aliases"] == [
                {"alias_name": "latest", "collection_name": "six"}]
            assert fresh.all_points("latest") == before


def test_single_node_archive_into_cluster_and_over_existing():
    """recover.rs: a new collection gets the archive's config and payload
    indexes; only the shards of the answering peer are recovered ("Shard is
    not on this node, skip"); an existing collection keeps its config and
    indexes, and other vectors are refused (400)."""
    with Emu(BINARY) as emu, Cluster(BINARY, 3) as cl:
        emu.put("/collections/s", {"vectors": {"size": 4, "distance": "Dot"}, "shard_number": 3})
        emu.upsert("s", sample_points(60))
        assert emu.put("/collections/s/index?wait=true",
                       {"field_name": "k", "field_schema": "keyword"}).status == 200
        sd = emu.post("/collections/s/snapshots").json()["result"]
        data = emu.get("/collections/s/snapshots/" + sd["name"]).body
        assert cl[0].upload("/collections/n/snapshots/upload", data).status == 200
        info = cl[0].get("/collections/n").json()["result"]
        assert info["payload_schema"]["k"]["data_type"] == "keyword"
        mine = {s["shard_id"] for s in view(cl[0], "n")["local_shards"]}
        others = {s["shard_id"] for s in view(cl[0], "n")["remote_shards"]} - mine
        assert others, "placement put every shard on the first peer"
        assert len(cl[0].all_points("n")) < 60
        # over an existing collection: its own config and indexes stay
        cl[0].put("/collections/e", {"vectors": {"size": 4, "distance": "Dot"}, "shard_number": 3,
                                     "hnsw_config": {"m": 48}})
        for p in cl.peers:
            assert p.upload("/collections/e/snapshots/upload", data).status == 200
        info = cl[0].get("/collections/e").json()["result"]
        assert info["config"]["hnsw_config"]["m"] == 48
        assert "k" not in info["payload_schema"]
        assert len(cl[0].all_points("e")) == 60
        cl[0].put("/collections/w", {"vectors": {"size": 8, "distance": "Dot"}, "shard_number": 3})
        r = cl[0].upload("/collections/w/snapshots/upload", data)
        assert r.status == 400
        assert r.json()["status"]["error"].startswith(
            "Wrong input: Snapshot is not compatible with existing collection: Collection vectors")


if __name__ == "__main__":
    run_tests(globals())
