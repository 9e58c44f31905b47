#!/usr/bin/env python3
"""An independent Qdrant v1.19 stand-in, written only from
the Qdrant snapshot contract (CONTRACT.md of the shared reference folder, kept
outside this repository) and Qdrant's OpenAPI spec.

Why it exists: qbackupd is judged against Qdrant stand-ins written by strangers
from the same contract, so its tests must not lean on the habits of our own
emulator. This one is a second, deliberately separate reading of the contract.

One process hosts N peers on N REST ports sharing one in-memory "consensus"
state (collections, shard placement, aliases). Each peer has its own snapshot
directory. With one peer and --standalone it behaves as a node without
distributed mode (GET /cluster -> {"status":"disabled"}).

Run:  python3 qdrant_standin.py --peers 3 [--api-key K] [--read-only-key R]
Control routes (not Qdrant's, ours): POST /standin/peer/{id}/down|up,
POST /standin/faults {"truncate_download": bytes|null, "bad_checksum": bool},
GET /standin/log.
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import socket
import tarfile
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import zlib
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = "1.19.0"
HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")


class ApiError(Exception):
    """An error answered in Qdrant's JSON envelope (or plain text on download
    routes, which the handler decides)."""

    def __init__(self, code, msg, extra=None):
        super().__init__(msg)
        self.code, self.msg, self.extra = code, msg, extra


def not_found_coll(c):
    return ApiError(404, "Not found: Collection `%s` doesn't exist!" % c)


def ts_name():
    return time.strftime("%Y-%m-%d-%H-%M-%S", time.gmtime())


def shard_of(pid, n):
    # Real Qdrant hashes the id; any stable spread works for a backup tool.
    if isinstance(pid, int):
        return pid % n
    return zlib.crc32(str(pid).encode()) % n


class Collection:
    def __init__(self, name, params, extra, peers, start=0):
        self.name = name
        self.params = params  # vectors, shard_number, replication_factor...
        self.extra = extra  # hnsw_config etc. as given, echoed in config
        self.uuid = str(uuid.uuid4())
        n = params["shard_number"]
        rf = min(params["replication_factor"], len(peers))
        self.peers, self.start = peers, start
        # Custom sharding: no shards until shard keys are created (PUT .../shards).
        self.custom = params.get("sharding_method") == "custom"
        self.keys = {}  # shard key -> [shard ids], in creation order
        if self.custom:
            n = 0
        # Consensus spreads shards over peers; `start` rotates per collection so
        # that shard 0 is not always on the first peer (as with real balancing).
        self.placement = {s: [peers[(start + s + k) % len(peers)] for k in range(rf)] for s in range(n)}
        # data[shard][peer] = {point_id: {"vector":..,"payload":..}}: each
        # replica keeps its own copy, so a node's snapshot can only hold its own.
        self.data = {s: {p: {} for p in self.placement[s]} for s in range(n)}
        self.state = {s: {p: "Active" for p in self.placement[s]} for s in range(n)}
        self.payload_schema = {}
        self.transfers = []  # ShardTransferInfo dicts, set by tests

    def config(self):
        cfg = {
            "params": dict(self.params),
            "hnsw_config": self.extra.get("hnsw_config", {"m": 16, "ef_construct": 100, "full_scan_threshold": 10000,
                                                          "max_indexing_threads": 0, "on_disk": False}),
            # What v1.19 shows, nulls included.
            "optimizer_config": dict({"deleted_threshold": 0.2, "vacuum_min_vector_number": 1000,
                                      "default_segment_number": 0, "max_segment_size": None, "memmap_threshold": None,
                                      "indexing_threshold": 10000, "flush_interval_sec": 5,
                                      "max_optimization_threads": None}, **(self.extra.get("optimizers_config") or {})),
            "wal_config": dict({"wal_capacity_mb": 32, "wal_segments_ahead": 0, "wal_retain_closed": 1},
                               **(self.extra.get("wal_config") or {})),
            "quantization_config": self.extra.get("quantization_config"),
            "strict_mode_config": self.extra.get("strict_mode_config") or {"enabled": False},
        }
        if self.extra.get("metadata"):
            cfg["metadata"] = self.extra["metadata"]
        return cfg

    def add_key(self, key, n=None, rf=None):
        if key in self.keys:
            raise ApiError(400, "Wrong input: Shard key %s already exists" % json.dumps(key))
        n = n or self.params["shard_number"]
        rf = min(rf or self.params["replication_factor"], len(self.peers))
        first = max(self.placement, default=-1) + 1  # shard ids are allocated in sequence
        ids = list(range(first, first + n))
        for s in ids:
            self.placement[s] = [self.peers[(self.start + s + k) % len(self.peers)] for k in range(rf)]
            self.data[s] = {p: {} for p in self.placement[s]}
            self.state[s] = {p: "Active" for p in self.placement[s]}
        self.keys[key] = ids

    def key_of(self, s):
        return next((k for k, ids in self.keys.items() if s in ids), None)

    def shard_points(self, s):
        # Any replica will do for reads; replicas are kept equal on writes.
        for p in self.placement[s]:
            return self.data[s][p]
        return {}

    def all_points(self):
        out = {}
        for s in self.data:
            out.update(self.shard_points(s))
        return out


class State:
    """The shared "consensus": what every peer agrees on."""

    def __init__(self, npeers, standalone, root, api_key=None, ro_key=None, peer_ids=None):
        self.lock = threading.RLock()
        self.standalone = standalone
        self.root = root
        self.api_key, self.ro_key = api_key, ro_key
        base = [3037030300099572, 8298468227836786, 5166419034567123, 7001122334455667]
        self.peer_ids = peer_ids or [base[i] if i < len(base) else 9000000000000000 + i for i in range(npeers)]
        self.version = VERSION
        self.jwt_rbac = False
        self.prefix = ""
        self.collections = {}
        self.aliases = {}
        # truncate_clean: a stream that ends early but with a proper last
        # chunk, which is what a reader sees if Qdrant fails mid-stream and
        # the framing still closes (contract: "truncated body").
        self.faults = {"truncate_download": None, "bad_checksum": False, "truncate_clean": None,
                       "s3_storage": False, "slow_download": None,
                       "fail": {}}
        self.down = set()
        self.log = []  # (peer, method, path, status)
        self.p2p = {}
        self.p2p_host = {}
        for p in self.peer_ids:
            os.makedirs(self.snap_dir(p), exist_ok=True)

    def next_start(self):
        self._start = getattr(self, "_start", -1) + 1
        return self._start % len(self.peer_ids)

    def snap_dir(self, peer):
        return os.path.join(self.root, str(peer), "snapshots")

    def coll(self, name):
        c = self.collections.get(name) or self.collections.get(self.aliases.get(name, ""))
        if c is None:
            raise not_found_coll(name)
        return c


# ---------------------------------------------------------------- archives

def _add(tf, name, data, mode=0o644):
    ti = tarfile.TarInfo(name)
    ti.size = len(data)
    ti.mode = mode
    ti.mtime = int(time.time())
    tf.addfile(ti, io.BytesIO(data))


def _add_dir(tf, name):
    ti = tarfile.TarInfo(name)
    ti.type = tarfile.DIRTYPE
    ti.mode = 0o755
    tf.addfile(ti)


CORRUPT = {"on": False}  # fault: the next segments written are unreadable


def segment_tar(points):
    # Our own serialization of a segment: a nested tar, as §9 lays it out.
    if CORRUPT["on"]:
        return b"\0garbage segment" * 64
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tf:
        _add(tf, "snapshot/files/segment.json", json.dumps({"version": 1, "config": {}}).encode())
        _add(tf, "snapshot/files/version.info", b"0.6.0")
        _add(tf, "snapshot/files/points.json", json.dumps(points_list(points)).encode())
    return buf.getvalue()


def points_list(points):
    return [{"id": k, "vector": v["vector"], "payload": v["payload"]} for k, v in points.items()]


def shard_folder(tf, prefix, coll, s, peer, with_data, stream=False):
    """Write one shard folder; segments/WAL only when the replica is local (§7)."""
    states = {str(p): coll.state[s][p] for p in coll.placement[s]}
    _add(tf, prefix + "replica_state.json",
         json.dumps({"is_local": with_data, "this_peer_id": peer, "peers": states}).encode())
    _add(tf, prefix + "shard_config.json", b'{"type":"ReplicaSet"}')
    if not with_data:
        return
    pts = coll.data[s][peer]
    seg = str(uuid.uuid4())
    _add_dir(tf, prefix + "segments/")
    if stream:
        _add(tf, prefix + "segments/%s/files/segment.json" % seg, b'{"version":1}')
        _add(tf, prefix + "segments/%s/files/points.json" % seg, json.dumps(points_list(pts)).encode())
    else:
        _add(tf, prefix + "segments/%s.tar" % seg, segment_tar(pts))
    _add(tf, prefix + "newest_clocks.json", b'{"clocks":[]}')
    _add(tf, prefix + "oldest_clocks.json", b'{"clocks":[]}')
    _add_dir(tf, prefix + "wal/")
    _add(tf, prefix + "wal/open-1", b"")


def collection_archive(st, coll, peer, fileobj):
    with tarfile.open(fileobj=fileobj, mode="w", format=tarfile.GNU_FORMAT) as tf:
        for s in sorted(coll.placement):
            _add_dir(tf, "%d/" % s)
            shard_folder(tf, "%d/" % s, coll, s, peer, peer in coll.placement[s])
        _add(tf, "version.info", b"0.4.2")
        cfg = coll.config()
        cfg["uuid"] = coll.uuid
        _add(tf, "config.json", json.dumps(cfg).encode())
        _add(tf, "shard_key_mapping.json",
             json.dumps([{"key": k, "shard_ids": ids} for k, ids in coll.keys.items()]).encode())
        _add(tf, "payload_index.json", json.dumps({"schema": coll.payload_schema}).encode())


def read_shard(members, prefix, tf):
    """Points of one shard folder inside an open tar, or None when the folder
    carries no local data (only replica_state/shard_config)."""
    names = [m.name for m in members if m.name.startswith(prefix)]
    has_seg = any(n[len(prefix):].startswith("segments") for n in names)
    has_wal = any(n[len(prefix):].startswith("wal") for n in names)
    if not has_seg and not has_wal:
        return None
    if not (has_seg and has_wal):
        raise ApiError(400, "Wrong input: Invalid snapshot")
    pts = {}
    for m in members:
        n = m.name
        if not n.startswith(prefix + "segments/") or not m.isfile():
            continue
        raw = tf.extractfile(m).read()
        if n.endswith(".tar"):
            try:
                with tarfile.open(fileobj=io.BytesIO(raw)) as inner:
                    data = inner.extractfile("snapshot/files/points.json").read()
            except (tarfile.TarError, KeyError):
                raise ApiError(500, "Service internal error: Failed to read segment state")
        elif n.endswith("/files/points.json"):
            data = raw
        else:
            continue
        try:
            for p in json.loads(data):
                pts[p["id"]] = {"vector": p["vector"], "payload": p["payload"]}
        except (ValueError, KeyError, TypeError):
            raise ApiError(500, "Service internal error: Failed to read segment state")
    return pts


def open_archive(path):
    try:
        tf = tarfile.open(path, mode="r:")  # never compressed (§9)
        members = tf.getmembers()
    except (tarfile.TarError, EOFError, OSError) as e:
        raise ApiError(400, "Wrong input: Invalid snapshot: %s" % e)
    for m in members:
        if not (m.isfile() or m.isdir()):
            raise ApiError(400, "Wrong input: Invalid snapshot: unsupported entry %s" % m.name)
        if m.name.startswith("./"):
            m.name = m.name[2:]
    return tf, members


# ---------------------------------------------------------------- operations

class Ops:
    """Everything one peer does; `peer` is its id."""

    def __init__(self, st, peer):
        self.st, self.peer = st, peer

    # ---- snapshots
    def cdir(self, c):
        return os.path.join(self.st.snap_dir(self.peer), c)

    def sdir(self, c, s):
        return os.path.join(self.cdir(c), "shards", str(s))

    def describe(self, path):
        stt = os.stat(path)
        d = {"name": os.path.basename(path),
             "creation_time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(stt.st_mtime))),
             "size": stt.st_size}
        if os.path.exists(path + ".checksum"):
            with open(path + ".checksum") as f:
                d["checksum"] = f.read().strip()
        return d

    def listing(self, d):
        if not os.path.isdir(d):
            return []
        return [self.describe(os.path.join(d, n)) for n in os.listdir(d)
                if n.endswith(".snapshot") and os.path.isfile(os.path.join(d, n))]

    def finish(self, tmp, final):
        os.replace(tmp, final)
        h = hashlib.sha256()
        with open(final, "rb") as f:
            for b in iter(lambda: f.read(1 << 20), b""):
                h.update(b)
        digest = h.hexdigest()
        if self.st.faults.get("bad_checksum"):
            digest = hashlib.sha256(b"not the archive").hexdigest()
        if self.st.faults.get("s3_storage"):
            return self.describe(final)  # never a checksum on S3 (§2)
        # Sidecar promoted after the snapshot (§2).
        with open(final + ".checksum", "w") as f:
            f.write(digest)
        return self.describe(final)

    def create_collection_snapshot(self, c):
        with self.st.lock:
            coll = self.st.coll(c)
            name = "%s-%d-%s.snapshot" % (coll.name, self.peer, ts_name())
            d = self.cdir(coll.name)
            os.makedirs(d, exist_ok=True)
            tmp = os.path.join(d, ".tmp-" + uuid.uuid4().hex)
            with open(tmp, "wb") as f:
                collection_archive(self.st, coll, self.peer, f)
        return self.finish(tmp, os.path.join(d, name))

    def local_shard(self, c, s):
        coll = self.st.coll(c)
        try:
            s = int(s)
        except ValueError:
            raise ApiError(422, "Validation error in path parameters: [shard_id: invalid digit]")
        if s not in coll.placement:
            raise ApiError(404, "Not found: shard %d not found" % s)
        if self.peer not in coll.placement[s]:
            raise ApiError(400, "Wrong input: Shard %d is not a local shard" % s)
        return coll, s

    def create_shard_snapshot(self, c, s):
        with self.st.lock:
            coll, s = self.local_shard(c, s)
            d = self.sdir(coll.name, s)
            os.makedirs(d, exist_ok=True)
            tmp = os.path.join(d, ".tmp-" + uuid.uuid4().hex)
            with open(tmp, "wb") as f, tarfile.open(fileobj=f, mode="w", format=tarfile.GNU_FORMAT) as tf:
                shard_folder(tf, "", coll, s, self.peer, True)
        return self.finish(tmp, os.path.join(d, "%s-shard-%d-%s.snapshot" % (coll.name, s, ts_name())))

    def stream_shard(self, c, s):
        with self.st.lock:
            coll, s = self.local_shard(c, s)
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tf:
                shard_folder(tf, "", coll, s, self.peer, True, stream=True)
        return "%s-shard-%d-%s.snapshot" % (coll.name, s, ts_name()), buf.getvalue()

    def create_full(self):
        with self.st.lock:
            names = sorted(self.st.collections)
            made = {c: self.create_collection_snapshot(c) for c in names}
            d = self.st.snap_dir(self.peer)
            tmp = os.path.join(d, ".tmp-" + uuid.uuid4().hex)
            with open(tmp, "wb") as f, tarfile.open(fileobj=f, mode="w", format=tarfile.GNU_FORMAT) as tf:
                for c, sd in made.items():
                    p = os.path.join(self.cdir(c), sd["name"])
                    tf.add(p, arcname=sd["name"])
                _add(tf, "config.json", json.dumps({
                    "collections_mapping": {c: sd["name"] for c, sd in made.items()},
                    "collections_aliases": dict(self.st.aliases)}).encode())
            # The collection snapshots are moved into the full one (§6).
            for c, sd in made.items():
                p = os.path.join(self.cdir(c), sd["name"])
                os.remove(p)
                os.remove(p + ".checksum")
        return self.finish(tmp, os.path.join(d, "full-snapshot-%s.snapshot" % ts_name()))

    @staticmethod
    def safe_name(n):
        if "/" in n or ".." in n or n.startswith("\\") or not n:
            raise ApiError(404, "Not found: Snapshot %s not found" % n)

    def snap_path(self, d, n):
        self.safe_name(n)
        p = os.path.join(d, n)
        if not os.path.isfile(p):
            raise ApiError(404, "Not found: Snapshot %s not found" % n)
        return p

    def delete(self, p):
        os.remove(p)
        if os.path.exists(p + ".checksum"):
            os.remove(p + ".checksum")
        return True

    # ---- recovery
    def fetch_location(self, loc, api_key, dest_dir):
        u = urllib.parse.urlparse(loc)
        if u.scheme in ("http", "https"):
            req = urllib.request.Request(loc)
            if api_key:
                req.add_header("api-key", api_key)
            try:
                resp = urllib.request.urlopen(req, timeout=60)
            except urllib.error.HTTPError as e:
                raise ApiError(400, "Wrong input: Failed to download tar from URL: status - %d %s" % (e.code, e.reason))
            except (urllib.error.URLError, OSError) as e:
                raise ApiError(400, "Wrong input: Failed to download tar from URL: %s" % e)
            os.makedirs(dest_dir, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=dest_dir, prefix=".dl-")
            with os.fdopen(fd, "wb") as f:
                shutil.copyfileobj(resp, f)
            return tmp, True
        if u.scheme == "file":
            if u.netloc not in ("", "localhost"):
                raise ApiError(400, "Bad request: Invalid snapshot URI, file path must be absolute or on localhost")
            p = urllib.parse.unquote(u.path)
            if not os.path.isabs(p):
                raise ApiError(400, "Bad request: Invalid snapshot URI, file path must be absolute or on localhost")
            if not os.path.exists(p):
                raise ApiError(400, 'Bad request: Snapshot file "%s" does not exist' % p)
            root = os.path.realpath(self.st.snap_dir(self.peer))
            if not os.path.realpath(p).startswith(root + os.sep):
                raise ApiError(403, "Forbidden: Snapshot file path must be inside the snapshots directory")
            return p, False
        raise ApiError(400, "Bad request: Snapshot URI scheme %s is not supported" % u.scheme)

    @staticmethod
    def sha256_file(p):
        h = hashlib.sha256()
        with open(p, "rb") as f:
            for b in iter(lambda: f.read(1 << 20), b""):
                h.update(b)
        return h.hexdigest()

    def recover_collection(self, c, path, priority, checksum):
        if checksum:
            got = self.sha256_file(path)
            if got.lower() != checksum.strip().lower():
                raise ApiError(400, "Wrong input: Snapshot checksum mismatch: expected %s, got %s" % (checksum, got))
        tf, members = open_archive(path)
        with tf:
            top = {m.name.split("/")[0] for m in members}
            if "config.json" not in top:
                raise ApiError(400, "Wrong input: Invalid snapshot: config.json missing")
            try:
                cfg = json.loads(tf.extractfile("config.json").read())
                params = cfg["params"]
            except (ValueError, KeyError, TypeError):
                raise ApiError(400, "Wrong input: Invalid snapshot: bad config.json")
            shard_ids = sorted(int(t) for t in top if t.isdigit())
            try:
                shards = {s: read_shard(members, "%d/" % s, tf) for s in shard_ids}
            except ApiError as e:
                if e.code == 500:
                    self._destroy(c, shard_ids)
                raise
            keymap = []
            try:
                keymap = json.loads(tf.extractfile("shard_key_mapping.json").read())
            except (KeyError, ValueError, AttributeError):
                pass
            pidx = {}
            try:
                pidx = json.loads(tf.extractfile("payload_index.json").read()).get("schema", {})
            except (KeyError, ValueError, AttributeError):
                pass
        with self.st.lock:
            coll = self.st.collections.get(c)
            if coll is None:
                # Missing collection: created from the archive's config (§5).
                extra = {k: cfg.get(k) for k in ("hnsw_config", "wal_config", "quantization_config")
                         if cfg.get(k) is not None}
                if "optimizer_config" in cfg:
                    extra["optimizers_config"] = cfg["optimizer_config"]
                coll = Collection(c, dict(params), extra, self.st.peer_ids, self.st.next_start())
                coll.payload_schema = pidx
                for ent in sorted(keymap, key=lambda e: min(e["shard_ids"])):
                    coll.add_key(ent["key"], len(ent["shard_ids"]))
                self.st.collections[c] = coll
            else:
                mine = coll.params
                if mine.get("vectors") != params.get("vectors") or mine.get("shard_number") != params.get("shard_number"):
                    raise ApiError(400, "Wrong input: Snapshot is not compatible with existing collection: "
                                   "vectors or shard_number differ")
            for s, pts in shards.items():
                if s not in coll.placement:
                    continue
                if pts is None:
                    if self.st.standalone:
                        raise ApiError(400, "Wrong input: Can't restore snapshot in local mode with missing data at shard %d" % s)
                    continue  # shards absent from this node's snapshot are skipped (§7)
                if self.peer not in coll.placement[s]:
                    continue
                self._replace(coll, s, pts, priority)
        return True

    def _destroy(self, c, shard_ids):
        """A failed recovery is destructive (§4, T-FAIL): the local replicas
        stay cleared in ManualRecovery."""
        with self.st.lock:
            coll = self.st.collections.get(c)
            if coll is None:
                return
            for s in shard_ids:
                if s in coll.placement and self.peer in coll.placement[s]:
                    coll.data[s][self.peer] = {}
                    coll.state[s][self.peer] = "ManualRecovery"

    def _replace(self, coll, s, pts, priority):
        coll.data[s][self.peer] = dict(pts)
        # Guess: with priority snapshot the other replicas end up synced from
        # this one (real Qdrant marks them Dead and transfers); no_sync leaves
        # them alone; replica would overwrite local with another replica.
        for p in coll.placement[s]:
            if p == self.peer:
                continue
            if priority in (None, "snapshot"):
                coll.data[s][p] = dict(pts)
            elif priority == "replica":
                coll.data[s][self.peer] = dict(coll.data[s][p])

    def recover_shard(self, c, s, path, priority, checksum):
        coll, s = self.local_shard(c, s)
        if checksum:
            got = self.sha256_file(path)
            if got.lower() != checksum.strip().lower():
                raise ApiError(400, "Wrong input: Snapshot checksum mismatch: expected %s, got %s" % (checksum, got))
        tf, members = open_archive(path)
        with tf:
            pts = read_shard(members, "", tf)
        if pts is None:
            raise ApiError(400, "Wrong input: Invalid snapshot")
        with self.st.lock:
            self._replace(coll, s, pts, priority)
        return None


# ---------------------------------------------------------------- HTTP

DOWNLOAD_ROUTES = ("coll_dl", "full_dl", "shard_dl", "shard_stream")

ROUTES = [
    ("GET", r"/", "root"),
    ("GET", r"/collections", "colls"),
    ("GET", r"/aliases", "aliases"),
    ("POST", r"/collections/aliases", "alias_ops"),
    ("GET", r"/cluster", "cluster"),
    ("GET", r"/snapshots", "full_list"),
    ("POST", r"/snapshots", "full_create"),
    ("GET", r"/snapshots/(?P<s>[^/]+)", "full_dl"),
    ("DELETE", r"/snapshots/(?P<s>[^/]+)", "full_del"),
    ("GET", r"/collections/(?P<c>[^/]+)", "coll_get"),
    ("PUT", r"/collections/(?P<c>[^/]+)", "coll_put"),
    ("DELETE", r"/collections/(?P<c>[^/]+)", "coll_del"),
    ("GET", r"/collections/(?P<c>[^/]+)/exists", "coll_exists"),
    ("GET", r"/collections/(?P<c>[^/]+)/aliases", "coll_aliases"),
    ("GET", r"/collections/(?P<c>[^/]+)/cluster", "coll_cluster"),
    ("PUT", r"/collections/(?P<c>[^/]+)/index", "index_put"),
    ("PUT", r"/collections/(?P<c>[^/]+)/shards", "shard_key_put"),
    ("PUT", r"/collections/(?P<c>[^/]+)/points", "upsert"),
    ("POST", r"/collections/(?P<c>[^/]+)/points/scroll", "scroll"),
    ("POST", r"/collections/(?P<c>[^/]+)/points/count", "count"),
    ("POST", r"/collections/(?P<c>[^/]+)/points/delete", "pdelete"),
    ("GET", r"/collections/(?P<c>[^/]+)/snapshots", "coll_list"),
    ("POST", r"/collections/(?P<c>[^/]+)/snapshots", "coll_create"),
    ("PUT", r"/collections/(?P<c>[^/]+)/snapshots/recover", "coll_recover"),
    ("POST", r"/collections/(?P<c>[^/]+)/snapshots/upload", "coll_upload"),
    ("GET", r"/collections/(?P<c>[^/]+)/snapshots/(?P<s>[^/]+)", "coll_dl"),
    ("DELETE", r"/collections/(?P<c>[^/]+)/snapshots/(?P<s>[^/]+)", "coll_sdel"),
    ("GET", r"/collections/(?P<c>[^/]+)/shards/(?P<sh>[^/]+)/snapshots", "shard_list"),
    ("POST", r"/collections/(?P<c>[^/]+)/shards/(?P<sh>[^/]+)/snapshots", "shard_create"),
    ("PUT", r"/collections/(?P<c>[^/]+)/shards/(?P<sh>[^/]+)/snapshots/recover", "shard_recover"),
    ("POST", r"/collections/(?P<c>[^/]+)/shards/(?P<sh>[^/]+)/snapshots/upload", "shard_upload"),
    ("GET", r"/collections/(?P<c>[^/]+)/shards/(?P<sh>[^/]+)/snapshots/(?P<s>[^/]+)", "shard_dl"),
    ("DELETE", r"/collections/(?P<c>[^/]+)/shards/(?P<sh>[^/]+)/snapshots/(?P<s>[^/]+)", "shard_sdel"),
    ("GET", r"/collections/(?P<c>[^/]+)/shards/(?P<sh>[^/]+)/snapshot", "shard_stream"),
]
ROUTES = [(m, re.compile("^" + p + "$"), n) for m, p, n in ROUTES]

# §8 access classes.
ACCESS = {"coll_list": "r", "coll_dl": "r", "shard_list": "r", "shard_dl": "r",
          "coll_create": "w", "coll_sdel": "w", "shard_create": "w", "shard_sdel": "w", "shard_stream": "w",
          "full_list": "r", "full_dl": "r",
          "coll_recover": "m", "coll_upload": "m", "full_create": "m", "full_del": "m",
          "shard_recover": "m", "shard_upload": "m",
          "coll_put": "m", "coll_del": "m", "shard_key_put": "m", "upsert": "w", "pdelete": "w", "index_put": "w", "alias_ops": "m"}
# Closed to collection-scoped JWTs (global read or more).
GLOBAL_ROUTES = {"cluster", "full_list", "full_dl", "aliases"}
WAITED = {"coll_create", "coll_sdel", "coll_recover", "coll_upload", "full_create", "full_del",
          "shard_create", "shard_sdel", "shard_recover", "shard_upload"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "qdrant-standin"

    def log_message(self, *a):
        pass

    # ---- plumbing
    def _body(self):
        if getattr(self, "_read", None) is not None:
            return self._read
        te = self.headers.get("Transfer-Encoding", "").lower()
        if "chunked" in te:
            out = bytearray()
            while True:
                line = self.rfile.readline()
                n = int(line.split(b";")[0].strip() or b"0", 16)
                if n == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                out += self.rfile.read(n)
                self.rfile.readline()
            self._read = bytes(out)
        else:
            n = int(self.headers.get("Content-Length") or 0)
            self._read = self.rfile.read(n) if n else b""
        return self._read

    def _json_body(self):
        raw = self._body()
        if not raw:
            return {}
        try:
            return json.loads(raw)
        except ValueError as e:
            raise ApiError(400, "Format error in JSON body: %s" % e)

    def _send(self, code, body, ctype="application/json", headers=None):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self._status = code

    def _ok(self, result, t0):
        self._send(200, json.dumps({"result": result, "status": "ok", "time": time.time() - t0}).encode())

    def _err(self, e, plain):
        if plain:
            self._send(e.code, e.msg.encode(), "text/plain; charset=utf-8")
        else:
            st = {"error": e.msg}
            self._send(e.code, json.dumps({"status": st, "time": 0.0}).encode())

    def _dispatch(self):
        t0 = time.time()
        self._read = None
        self._status = None
        st, peer = self.server.st, self.server.peer
        if peer in st.down:
            self.close_connection = True
            return
        u = urllib.parse.urlsplit(self.path)
        path = u.path
        if st.prefix:
            # A reverse proxy in front of the peer serves Qdrant under a path prefix.
            if not path.startswith(st.prefix + "/") and path != st.prefix:
                self._send(404, b"", "text/plain")
                self._status = "404-noprefix"
                return
            path = path[len(st.prefix):]
        # NormalizePath: trailing slashes trimmed [MOD]; we also merge "//"
        # as actix's NormalizePath does (a guess beyond the contract's words).
        path = re.sub(r"/{2,}", "/", path).rstrip("/") or "/"
        q = dict(urllib.parse.parse_qsl(u.query))
        try:
            if path.startswith("/standin/"):
                return self._control(path)
            for m, rx, name in ROUTES:
                mt = rx.match(path)
                if mt and m == self.command:
                    break
            else:
                # actix's default for an unknown route: 404, empty body.
                self._send(404, b"", "text/plain")
                self._status = "404-noroute"
                return
            args = {k: urllib.parse.unquote(v) for k, v in mt.groupdict().items()}
            plain = name in DOWNLOAD_ROUTES
            try:
                self._auth(name, plain, args)
                if name in ("coll_upload", "shard_upload"):
                    ck = q.get("checksum")
                    if ck is not None and not HEX64.match(ck):
                        raise ApiError(422, "Validation error in query parameters: [checksum: invalid_sha256_hash]")
                with st.lock:
                    inj = st.faults.get("fail", {}).get(name)
                    if inj and inj[0] > 0:
                        inj[0] -= 1
                    else:
                        inj = None
                if inj:
                    # Fault: this route answers an error `count` more times.
                    raise ApiError(inj[1], inj[2])
                ops = Ops(st, peer)
                if name in WAITED and q.get("wait", "true") == "false":
                    # wait=false: run in the background, always 202, errors only logged (§1).
                    pre = self._prepare(name, args, q)
                    threading.Thread(target=self._bg, args=(ops, name, args, q, pre), daemon=True).start()
                    self._send(202, json.dumps({"status": "accepted", "time": time.time() - t0}).encode())
                    return
                res = getattr(self, "r_" + name)(ops, args, q)
                if res is not _SENT:
                    self._ok(res, t0)
            except ApiError as e:
                self._err(e, plain or e.extra == "plain")
        finally:
            if self._read is None and (self.headers.get("Content-Length") not in (None, "0")
                                       or self.headers.get("Transfer-Encoding")):
                self.close_connection = True
            body = None
            if self._read is not None and (self.headers.get("Content-Type") or "").startswith("application/json"):
                body = self._read[:2000].decode(errors="replace")
            elif self._read is not None and self._read:
                body = "<%d bytes %s filename=%r>" % (len(self._read), (self.headers.get("Content-Type") or "")[:30],
                                                      getattr(self, "_upload_name", None))
            with st.lock:
                st.log.append((peer, self.command, self.path, self._status,
                               self.headers.get("Accept-Encoding"), self.headers.get("Range"), body))

    def _prepare(self, name, args, q):
        if name in ("coll_upload", "shard_upload", "coll_recover", "shard_recover"):
            self._body()
        return None

    def _bg(self, ops, name, args, q, pre):
        try:
            getattr(self, "r_" + name)(ops, args, q, background=True)
        except ApiError as e:
            print("standin: background %s failed: %s" % (name, e.msg), flush=True)
        except Exception as e:  # noqa: BLE001 - only logged, as Qdrant does
            print("standin: background %s crashed: %r" % (name, e), flush=True)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _dispatch

    def _auth(self, name, plain, args):
        st = self.server.st
        self._claims = None
        if not st.api_key:
            return
        key = self.headers.get("api-key")
        a = self.headers.get("Authorization", "")
        if key is None and a.lower().startswith("bearer "):
            key = a[7:].strip()
        if name == "root":
            return  # "/" is on the auth whitelist with the health routes.
        if key is None:
            raise ApiError(401, "Must provide an API key or an Authorization bearer token", "plain")
        if key == st.api_key:
            return
        need = ACCESS.get(name, "r")
        upload = name in ("coll_upload", "shard_upload")
        if st.ro_key and key == st.ro_key:
            if need == "r":
                return
            what = "Global manage access is required" if need == "m" else "Write access to collection is required"
            raise ApiError(403, "Forbidden: " + what, "plain" if upload else None)
        claims = self._jwt(key) if st.jwt_rbac else None
        if claims is None:
            raise ApiError(401, "Invalid API key or JWT", "plain")
        acc = claims.get("access")
        if acc == "m":
            return
        if acc == "r":
            if need == "r":
                return
            raise ApiError(403, "Forbidden: Global manage access is required", "plain" if upload else None)
        # Collection-scoped: global routes are closed, collection routes by entry.
        self._claims = acc if isinstance(acc, list) else []
        c = args.get("c")
        if name in GLOBAL_ROUTES or need == "m" or c is None:
            if name == "colls":
                return  # listed, filtered to the allowed collections
            what = "Global manage access is required" if need == "m" else "Global access is required"
            raise ApiError(403, "Forbidden: " + what, "plain" if upload else None)
        real = st.aliases.get(c, c)
        ent = [e for e in self._claims if e.get("collection") in (c, real)]
        ok = any(e.get("access") in ("r", "rw") for e in ent) if need == "r" else \
            any(e.get("access") == "rw" for e in ent)
        if not ok:
            raise ApiError(403, "Forbidden: Access to collection %s is required" % c, "plain" if upload else None)

    def _jwt(self, tok):
        import base64
        import hmac

        def b64(x):
            return base64.urlsafe_b64decode(x + "=" * (-len(x) % 4))
        try:
            h, p, sig = tok.split(".")
            want = hmac.new(self.server.st.api_key.encode(), (h + "." + p).encode(), hashlib.sha256).digest()
            if json.loads(b64(h)).get("alg") != "HS256" or not hmac.compare_digest(want, b64(sig)):
                return None
            claims = json.loads(b64(p))
        except (ValueError, TypeError):
            return None
        if "exp" in claims and claims["exp"] < time.time():
            return None
        return claims

    def _control(self, path):
        st = self.server.st
        m = re.match(r"^/standin/peer/(\d+)/(down|up)$", path)
        if m and self.command == "POST":
            (st.down.add if m.group(2) == "down" else st.down.discard)(int(m.group(1)))
            return self._send(200, b'{"ok":true}')
        if path == "/standin/faults" and self.command == "POST":
            st.faults.update(self._json_body())
            return self._send(200, json.dumps(st.faults).encode())
        if path == "/standin/log":
            return self._send(200, json.dumps(st.log).encode())
        self._send(404, b"", "text/plain")

    # ---- file replies
    def _file(self, p):
        """Serve like actix-files NamedFile (§3), with the compression pitfall."""
        st = self.server.st
        if st.faults.get("s3_storage"):
            # S3 storage: chunked octet-stream, no length/Range/Disposition (§3).
            with open(p, "rb") as f:
                self._chunked(200, f.read(), {}, "application/octet-stream", st.faults.get("truncate_download"))
            return _SENT
        size = os.path.getsize(p)
        stt = os.stat(p)
        etag = '"%x:%x"' % (int(stt.st_mtime), size)
        base = {"Content-Disposition": 'attachment; filename="%s"' % os.path.basename(p),
                "Accept-Ranges": "bytes", "ETag": etag,
                "Last-Modified": formatdate(stt.st_mtime, usegmt=True)}
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            for k, v in base.items():
                self.send_header(k, v)
            self.send_header("Content-Length", "0")
            self.end_headers()
            self._status = 304
            return _SENT
        with open(p, "rb") as f:
            data = f.read()
        trunc = st.faults.get("truncate_download")
        rng = self.headers.get("Range")
        if rng:
            m = re.match(r"^bytes=(\d*)-(\d*)", rng.strip())
            if m and (m.group(1) or m.group(2)):
                if m.group(1):
                    a = int(m.group(1))
                    b = int(m.group(2)) if m.group(2) else size - 1
                else:
                    a, b = max(0, size - int(m.group(2))), size - 1
                b = min(b, size - 1)
                if a >= size or a > b:
                    self._send(416, b"", "text/plain", {"Content-Range": "bytes */%d" % size})
                    return _SENT
                h = dict(base, **{"Content-Range": "bytes %d-%d/%d" % (a, b, size)})
                self._raw(206, data[a:b + 1], h, length=b - a + 1, trunc=trunc)
                return _SENT
        enc = self.headers.get("Accept-Encoding", "").lower()
        # Pitfall: any Accept-Encoding gets a compressed, chunked 200 without
        # Content-Length. We can only produce gzip/deflate with the stdlib.
        if "gzip" in enc or "deflate" in enc:
            if "gzip" in enc:
                body, ce = gzip.compress(data), "gzip"
            else:
                body, ce = zlib.compress(data), "deflate"
            self._chunked(200, body, dict(base, **{"Content-Encoding": ce}), "application/octet-stream", trunc)
            return _SENT
        self._raw(200, data, base, length=size, trunc=trunc)
        return _SENT

    def _raw(self, code, data, headers, length, trunc):
        self.send_response(code)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(length))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self._status = code
        slow = st.faults.get("slow_download") if (st := self.server.st) else None
        if slow:
            # Fault: a slow peer, `slow` bytes a second in 8 KiB steps.
            for i in range(0, len(data), 8192):
                if self.server.peer in st.down:
                    break
                self.wfile.write(data[i:i + 8192])
                self.wfile.flush()
                time.sleep(8192 / slow)
            return
        if trunc is not None:
            # Fault: promise the full length, send less, hang up.
            self.wfile.write(data[:trunc])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(data)

    def _chunked(self, code, body, headers, ctype, trunc=None):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Transfer-Encoding", "chunked")
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self._status = code
        clean = self.server.st.faults.get("truncate_clean")
        if clean is not None:
            body = body[:clean]
        elif trunc is not None:
            body = body[:trunc]
        for i in range(0, len(body), 65536):
            part = body[i:i + 65536]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
        if trunc is not None:
            self.close_connection = True  # mid-stream failure: no final chunk
            return
        self.wfile.write(b"0\r\n\r\n")

    # ---- uploads
    def _multipart(self):
        ct = self.headers.get("Content-Type", "")
        if not ct.lower().startswith("multipart/form-data"):
            raise ApiError(415, "Content type error", "plain")
        m = re.search(r'boundary="?([^";]+)"?', ct)
        if not m:
            raise ApiError(400, "Multipart boundary is missing", "plain")
        body = self._body()
        sep = b"--" + m.group(1).encode()
        for part in body.split(sep)[1:]:
            if part.startswith(b"--"):
                break
            head, _, data = part.partition(b"\r\n\r\n")
            if data.endswith(b"\r\n"):
                data = data[:-2]
            disp = next((ln for ln in head.decode("latin-1").split("\r\n")
                         if ln.lower().startswith("content-disposition")), "")
            nm = re.search(r'[; ]name="([^"]*)"', disp)
            fn = re.search(r'filename="([^"]*)"', disp)
            if nm and nm.group(1) == "snapshot":  # first one wins
                self._upload_name = fn.group(1) if fn else None
                return data, (fn.group(1) if fn else None)
        raise ApiError(400, "Required field is missing: snapshot", "plain")

    def _check_upload_checksum(self, data, q):
        ck = q.get("checksum")
        if ck is None:
            return
        got = hashlib.sha256(data).hexdigest()
        if got != ck.lower():
            # Labels swapped, exactly as the contract records (§1).
            raise ApiError(400, "Checksum mismatch: expected %s, actual %s" % (got, ck))

    # ---- route handlers (return result, or _SENT when already answered)
    def r_root(self, ops, a, q):
        self._send(200, json.dumps({"title": "qdrant - vector search engine", "version": ops.st.version,
                                    "commit": "0" * 40}).encode())
        return _SENT

    def r_colls(self, ops, a, q):
        names = sorted(ops.st.collections)
        if getattr(self, "_claims", None) is not None:
            allowed = {e.get("collection") for e in self._claims}
            names = [n for n in names if n in allowed]
        return {"collections": [{"name": n} for n in names]}

    def r_aliases(self, ops, a, q):
        return {"aliases": [{"alias_name": k, "collection_name": v} for k, v in sorted(ops.st.aliases.items())]}

    def r_coll_aliases(self, ops, a, q):
        c = ops.st.coll(a["c"]).name
        return {"aliases": [{"alias_name": k, "collection_name": v} for k, v in ops.st.aliases.items() if v == c]}

    def r_alias_ops(self, ops, a, q):
        for act in self._json_body().get("actions", []):
            if "create_alias" in act:
                x = act["create_alias"]
                ops.st.coll(x["collection_name"])
                ops.st.aliases[x["alias_name"]] = x["collection_name"]
            elif "delete_alias" in act:
                ops.st.aliases.pop(act["delete_alias"]["alias_name"], None)
        return True

    def r_cluster(self, ops, a, q):
        st = ops.st
        if st.standalone:
            return {"status": "disabled"}
        return {"status": "enabled", "peer_id": ops.peer,
                "peers": {str(p): {"uri": "http://%s:%d/" % (st.p2p_host[p], st.p2p[p])} for p in st.peer_ids},
                "raft_info": {"term": 3, "commit": 42, "pending_operations": 0, "leader": st.peer_ids[0],
                              "role": "Leader" if ops.peer == st.peer_ids[0] else "Follower", "is_voter": True},
                "consensus_thread_status": {"consensus_thread_status": "working",
                                            "last_update": time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())},
                "message_send_failures": {}}

    def r_coll_get(self, ops, a, q):
        c = ops.st.coll(a["c"])
        n = len(c.all_points())
        return {"status": "green", "optimizer_status": "ok", "indexed_vectors_count": 0,
                "points_count": n, "segments_count": len(c.placement), "config": c.config(),
                "payload_schema": {k: dict(v, points=n) for k, v in c.payload_schema.items()},
                "update_queue": {"length": 0}}

    def r_coll_exists(self, ops, a, q):
        return {"exists": a["c"] in ops.st.collections}

    def r_coll_put(self, ops, a, q):
        b = self._json_body()
        st = ops.st
        with st.lock:
            if a["c"] in st.collections:
                raise ApiError(400, "Wrong input: Collection `%s` already exists!" % a["c"])
            if "vectors" not in b:
                raise ApiError(422, "Validation error in JSON body: [vectors: missing]")
            params = {"vectors": b["vectors"], "shard_number": int(b.get("shard_number") or (1 if st.standalone else len(st.peer_ids))),
                      "replication_factor": int(b.get("replication_factor") or 1),
                      "write_consistency_factor": int(b.get("write_consistency_factor") or 1),
                      "on_disk_payload": b.get("on_disk_payload", True)}
            if b.get("sparse_vectors"):
                params["sparse_vectors"] = b["sparse_vectors"]
            if b.get("sharding_method"):
                params["sharding_method"] = b["sharding_method"]
            st.collections[a["c"]] = Collection(a["c"], params, b, st.peer_ids, st.next_start())
        return True

    def r_coll_del(self, ops, a, q):
        st = ops.st
        with st.lock:
            existed = st.collections.pop(a["c"], None) is not None
            for k in [k for k, v in st.aliases.items() if v == a["c"]]:
                del st.aliases[k]
        return existed

    def r_index_put(self, ops, a, q):
        c = ops.st.coll(a["c"])
        b = self._json_body()
        fs = b.get("field_schema")
        # PayloadIndexInfo: data_type, params only for a parametrised index, points.
        info = {"data_type": fs["type"], "params": fs} if isinstance(fs, dict) else {"data_type": fs}
        info["points"] = len(c.all_points())
        c.payload_schema[b["field_name"]] = info
        return {"operation_id": 1, "status": "completed"}

    def r_shard_key_put(self, ops, a, q):
        c = ops.st.coll(a["c"])
        b = self._json_body()
        if not c.custom:
            raise ApiError(400, "Bad request: Shard key can only be created for collections with custom sharding")
        with ops.st.lock:
            c.add_key(b["shard_key"], b.get("shards_number"), b.get("replication_factor"))
        return True

    def r_coll_cluster(self, ops, a, q):
        c = ops.st.coll(a["c"])
        local, remote = [], []
        for s in sorted(c.placement):
            for p in c.placement[s]:
                if p == ops.peer:
                    e = {"shard_id": s, "points_count": len(c.data[s][p]), "state": c.state[s][p]}
                    local.append(e)
                else:
                    e = {"shard_id": s, "peer_id": p, "state": c.state[s][p]}
                    remote.append(e)
                if c.custom:
                    e["shard_key"] = c.key_of(s)
        return {"peer_id": ops.peer, "shard_count": len(c.placement), "local_shards": local,
                "remote_shards": remote, "shard_transfers": list(c.transfers)}

    def r_upsert(self, ops, a, q):
        c = ops.st.coll(a["c"])
        b = self._json_body()
        pts = b.get("points")
        if pts is None and "batch" in b:
            bt = b["batch"]
            pts = [{"id": i, "vector": bt["vectors"][k], "payload": (bt.get("payloads") or [None] * len(bt["ids"]))[k]}
                   for k, i in enumerate(bt["ids"])]
        with ops.st.lock:
            targets = sorted(c.placement)
            if c.custom:
                if b.get("shard_key") not in c.keys:
                    raise ApiError(400, "Wrong input: Shard key not specified or unknown: %s" % b.get("shard_key"))
                targets = c.keys[b["shard_key"]]
            for p in pts or []:
                s = targets[shard_of(p["id"], len(targets))]
                for peer in c.placement[s]:
                    c.data[s][peer][p["id"]] = {"vector": p.get("vector"), "payload": p.get("payload") or {}}
        return {"operation_id": 1, "status": "completed"}

    def r_pdelete(self, ops, a, q):
        c = ops.st.coll(a["c"])
        ids = self._json_body().get("points", [])
        with ops.st.lock:
            for s in c.data:
                for peer in c.data[s]:
                    for i in ids:
                        c.data[s][peer].pop(i, None)
        return {"operation_id": 1, "status": "completed"}

    def r_count(self, ops, a, q):
        return {"count": len(ops.st.coll(a["c"]).all_points())}

    def r_scroll(self, ops, a, q):
        c = ops.st.coll(a["c"])
        b = self._json_body()
        pts = c.all_points()
        keys = sorted(pts, key=lambda k: (isinstance(k, str), k))
        off = b.get("offset")
        if off is not None:
            keys = [k for k in keys if (isinstance(k, str), k) >= (isinstance(off, str), off)]
        lim = int(b.get("limit") or 10)
        page, nxt = keys[:lim], (keys[lim] if len(keys) > lim else None)
        wp, wv = b.get("with_payload", True), b.get("with_vector", False)
        out = []
        for k in page:
            r = {"id": k}
            if wp:
                r["payload"] = pts[k]["payload"]
            if wv:
                r["vector"] = pts[k]["vector"]
            out.append(r)
        return {"points": out, "next_page_offset": nxt}

    # snapshots
    def r_coll_list(self, ops, a, q):
        c = ops.st.coll(a["c"])
        return ops.listing(ops.cdir(c.name))

    def r_coll_create(self, ops, a, q, background=False):
        return ops.create_collection_snapshot(a["c"])

    def r_coll_dl(self, ops, a, q):
        c = ops.st.coll(a["c"])
        return self._file(ops.snap_path(ops.cdir(c.name), a["s"]))

    def r_coll_sdel(self, ops, a, q, background=False):
        c = ops.st.coll(a["c"])
        return ops.delete(ops.snap_path(ops.cdir(c.name), a["s"]))

    def _recover_body(self):
        """Routes 5 and 16: the JSON body, its location and checksum, validated as Qdrant does."""
        b = self._json_body()
        loc = b.get("location")
        if not isinstance(loc, str):
            raise ApiError(422, "Validation error in JSON body: [location: missing]")
        ck = b.get("checksum")
        if ck is not None and not HEX64.match(ck):
            raise ApiError(422, "Validation error in JSON body: [checksum: invalid_sha256_hash]")
        return b, loc, ck

    def r_coll_recover(self, ops, a, q, background=False):
        b, loc, ck = self._recover_body()
        path, tmp = ops.fetch_location(loc, b.get("api_key"), os.path.join(ops.st.snap_dir(ops.peer), "tmp"))
        try:
            return ops.recover_collection(a["c"], path, b.get("priority"), ck)
        finally:
            if tmp:
                os.remove(path)

    def r_coll_upload(self, ops, a, q, background=False):
        data, fn = self._multipart()
        self._check_upload_checksum(data, q)
        d = ops.cdir(a["c"])
        os.makedirs(d, exist_ok=True)
        fn = os.path.basename(fn) if fn else str(uuid.uuid4())
        p = os.path.join(d, fn)
        # The uploaded file is kept (§4), so it shows in route 1 without checksum.
        with open(p, "wb") as f:
            f.write(data)
        return ops.recover_collection(a["c"], p, q.get("priority"), None)

    def r_full_list(self, ops, a, q):
        return ops.listing(ops.st.snap_dir(ops.peer))

    def r_full_create(self, ops, a, q, background=False):
        return ops.create_full()

    def r_full_dl(self, ops, a, q):
        return self._file(ops.snap_path(ops.st.snap_dir(ops.peer), a["s"]))

    def r_full_del(self, ops, a, q, background=False):
        return ops.delete(ops.snap_path(ops.st.snap_dir(ops.peer), a["s"]))

    def r_shard_list(self, ops, a, q):
        c, s = ops.local_shard(a["c"], a["sh"])
        return ops.listing(ops.sdir(c.name, s))

    def r_shard_create(self, ops, a, q, background=False):
        return ops.create_shard_snapshot(a["c"], a["sh"])

    def r_shard_dl(self, ops, a, q):
        c, s = ops.local_shard(a["c"], a["sh"])
        return self._file(ops.snap_path(ops.sdir(c.name, s), a["s"]))

    def r_shard_sdel(self, ops, a, q, background=False):
        c, s = ops.local_shard(a["c"], a["sh"])
        return ops.delete(ops.snap_path(ops.sdir(c.name, s), a["s"]))

    def r_shard_stream(self, ops, a, q):
        name, data = ops.stream_shard(a["c"], a["sh"])
        self._chunked(200, data, {"Content-Disposition": 'attachment; filename="%s"' % name},
                      "application/octet-stream", ops.st.faults.get("truncate_download"))
        return _SENT

    def r_shard_recover(self, ops, a, q, background=False):
        b, loc, ck = self._recover_body()
        c, s = ops.local_shard(a["c"], a["sh"])
        if loc.startswith("file:"):
            raise ApiError(400, "Bad request: Snapshot recovery from URLs with file scheme are not supported")
        if re.match(r"^https?://", loc):
            path, tmp = ops.fetch_location(loc, b.get("api_key"), os.path.join(ops.st.snap_dir(ops.peer), "tmp"))
        else:
            path, tmp = ops.snap_path(ops.sdir(c.name, s), loc), False
        try:
            ops.recover_shard(a["c"], a["sh"], path, b.get("priority"), ck)
            return True
        finally:
            if tmp:
                os.remove(path)

    def r_shard_upload(self, ops, a, q, background=False):
        ops.local_shard(a["c"], a["sh"])
        data, _ = self._multipart()
        self._check_upload_checksum(data, q)
        fd, p = tempfile.mkstemp(dir=ops.st.root, prefix=".up-")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        try:
            return ops.recover_shard(a["c"], a["sh"], p, q.get("priority"), None)  # null (§1)
        finally:
            os.remove(p)


_SENT = object()


class PeerServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StandIn:
    """Start N peers on loopback; `urls` lists their REST URLs."""

    def __init__(self, peers=1, standalone=True, api_key=None, ro_key=None, ports=None, root=None, peer_ids=None,
                 hosts=False):
        """hosts=True: peer i listens on 127.0.0.(i+1), all on one REST port,
        like peers on separate hosts (so a REST URL can be guessed from the
        p2p host); otherwise all on 127.0.0.1 with ports of their own."""
        self.root = root or tempfile.mkdtemp(prefix="standin-qdrant-")
        self.st = State(peers, standalone and peers == 1, self.root, api_key, ro_key, peer_ids)
        self.servers, self.urls, self.hosts = {}, {}, {}
        common = self._common_port(peers) if hosts else None
        for i, p in enumerate(self.st.peer_ids):
            host = "127.0.0.%d" % (i + 1) if hosts else "127.0.0.1"
            srv = PeerServer((host, common or (ports or [0] * peers)[i]), Handler)
            srv.st, srv.peer = self.st, p
            self.servers[p] = srv
            self.hosts[p] = host
            self.urls[p] = "http://%s:%d" % (host, srv.server_address[1])
            # p2p URIs are deliberately not the REST ports, as in real Qdrant.
            self.st.p2p[p] = free_port()
            self.st.p2p_host[p] = host
            threading.Thread(target=srv.serve_forever, daemon=True).start()

    @staticmethod
    def _common_port(n):
        for _ in range(50):
            port = free_port()
            try:
                for i in range(n):
                    with socket.socket() as s:
                        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                        s.bind(("127.0.0.%d" % (i + 1), port))
                return port
            except OSError:
                continue
        raise RuntimeError("no common port")

    def peer_down(self, p, down=True, mode="refuse"):
        """mode refuse: the port is closed (connection refused, a dead
        process); mode hangup: connections are accepted and dropped."""
        # Either way, connections already open to it are dropped too.
        (self.st.down.add if down else self.st.down.discard)(p)
        if mode == "hangup":
            return
        srv = self.servers[p]
        if down:
            srv.shutdown()
            srv.server_close()
        else:
            port = int(self.urls[p].rsplit(":", 1)[1])
            srv = PeerServer((self.hosts[p], port), Handler)
            srv.st, srv.peer = self.st, p
            self.servers[p] = srv
            threading.Thread(target=srv.serve_forever, daemon=True).start()

    def stop(self):
        for s in self.servers.values():
            s.shutdown()
            s.server_close()
        shutil.rmtree(self.root, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--peers", type=int, default=1)
    ap.add_argument("--distributed", action="store_true", help="cluster mode even with one peer")
    ap.add_argument("--port", type=int, action="append", help="REST port per peer (0: pick)")
    ap.add_argument("--api-key")
    ap.add_argument("--read-only-key")
    ap.add_argument("--peer-down", type=int, action="append", default=[], help="index of a peer that never answers")
    a = ap.parse_args()
    si = StandIn(a.peers, not a.distributed, a.api_key, a.read_only_key, a.port)
    for i in a.peer_down:
        si.peer_down(si.st.peer_ids[i], mode="hangup")
    for p in si.st.peer_ids:
        print("peer %d rest %s p2p %d" % (p, si.urls[p], si.st.p2p[p]), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        si.stop()


if __name__ == "__main__":
    main()
