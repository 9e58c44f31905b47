# SPDX-License-Identifier: Apache-2.0
"""Conformance of qdrant-emu with Qdrant's OpenAPI specs (spec/, Apache-2.0).

* every route the emulator implements exists in the spec with that method;
* every status code it answers is one the spec allows for the operation and
  one Qdrant really uses;
* every JSON response validates against the schema the spec references
  ($ref resolved into components; OpenAPI `nullable` mapped to JSON Schema).
Where CONTRACT.md (read from Qdrant's source) and the spec disagree, the
source wins and the exception is named here: download/401/upload-403 errors
are text/plain, and route 17 answers `null` where the spec says boolean.
"""
import json
import os
import re
import sys

import jsonschema

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from emuharness import Emu, binary_from_argv, run_tests, sample_points, sha256  # noqa: E402

BINARY = binary_from_argv()
SPEC_DIR = os.environ.get("EMU_SPEC_DIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "spec")
QDRANT_CODES = {200, 202, 206, 304, 400, 401, 403, 404, 409, 412, 415, 416, 422, 500, 503}
PLAIN_ERROR_OPS = {  # CONTRACT.md §1 "Plain text, not JSON"
    ("get", "/collections/{collection_name}/snapshots/{snapshot_name}"),
    ("get", "/snapshots/{snapshot_name}"),
    ("get", "/collections/{collection_name}/shards/{shard_id}/snapshots/{snapshot_name}"),
    ("get", "/collections/{collection_name}/shards/{shard_id}/snapshot"),
}


def to_json_schema(node):
    """OpenAPI 3.0 schema objects -> JSON Schema (nullable handling)."""
    if isinstance(node, list):
        return [to_json_schema(x) for x in node]
    if not isinstance(node, dict):
        return node
    node = {k: to_json_schema(v) for k, v in node.items()}
    if node.get("nullable") is True:
        node.pop("nullable")
        if set(node) <= {"description", "default", "example"}:
            return {"type": "null"}
        return {"anyOf": [node, {"type": "null"}]}
    return node


class Spec:
    def __init__(self, filename):
        with open(os.path.join(SPEC_DIR, filename)) as f:
            self.raw = json.load(f)
        self.doc = to_json_schema(self.raw)
        self.resolver = jsonschema.RefResolver.from_schema(self.doc)
        self.checked = 0

    def op(self, method, pattern):
        path = self.raw["paths"].get(pattern)
        assert path is not None, "path %s not in spec" % pattern
        assert method in path, "%s %s not in spec" % (method.upper(), pattern)
        return self.doc["paths"][pattern][method]

    def validate(self, method, pattern, resp, result_override=None):
        method = method.lower()
        op = self.op(method, pattern)
        responses = op["responses"]
        code = str(resp.status)
        assert resp.status in QDRANT_CODES, "status %d is not one Qdrant uses" % resp.status
        if code in responses:
            decl = responses[code]
        elif "4XX" in responses and 400 <= resp.status < 500:
            decl = responses["4XX"]
        elif "default" in responses:
            decl = responses["default"]
        else:
            raise AssertionError("%s %s: status %s not allowed by spec" % (method, pattern, code))
        ctype = resp.headers.get("content-type", "")
        content = decl.get("content", {})
        if resp.status >= 400 and ((method, pattern) in PLAIN_ERROR_OPS or resp.status == 401
                                   or pattern.endswith("/upload") and resp.status in (400, 403, 415)
                                   and "json" not in ctype):
            assert "json" not in ctype, "Qdrant answers %s here in plain text" % code
            return
        if "application/json" in content:
            assert ctype.startswith("application/json"), "%s: content-type %r" % (pattern, ctype)
            doc = resp.json()
            if result_override is not None:
                doc = dict(doc)
                result_override(doc)
            schema = content["application/json"]["schema"]
            jsonschema.Draft7Validator(schema, resolver=self.resolver).validate(doc)
            self.checked += 1
        elif "text/plain" in content:
            assert ctype.startswith("text/plain"), ctype
        elif "application/octet-stream" in content:
            assert ctype == "application/octet-stream", ctype


def call(emu, spec, method, pattern, params=None, override=None, **kw):
    path = pattern
    for k, v in (params or {}).items():
        path = path.replace("{%s}" % k, str(v))
    resp = emu.request(method, path, **kw)
    spec.validate(method, pattern, resp, override)
    return resp


def test_validator_rejects_bad_documents():
    from emuharness import Response
    spec = Spec("openapi-v1.19.json")
    bad = Response(200, {"content-type": "application/json"},
                   json.dumps({"result": [{"name": 5}], "status": "ok", "time": 0.1}).encode())
    try:
        spec.validate("get", "/collections/{collection_name}/snapshots", bad)
    except jsonschema.ValidationError:
        return
    raise AssertionError("schema validation is not biting")


def test_routes_exist_in_spec():
    spec = Spec("openapi-v1.19.json")
    with Emu(BINARY) as emu:
        routes = emu.get("/debug/routes").json()["result"]
        n = 0
        for r in routes:
            if r["access"] == "debug":
                continue
            spec.op(r["method"].lower(), r["path"])
            n += 1
        assert n >= 30, n


def test_v119_responses_validate():
    spec = Spec("openapi-v1.19.json")
    C = "/collections/{collection_name}"
    c = {"collection_name": "conf"}
    with Emu(BINARY) as emu:
        for p in ("/", "/healthz", "/livez", "/readyz", "/cluster", "/collections"):
            assert call(emu, spec, "GET", p).status == 200
        assert call(emu, spec, "PUT", C, c, body={"vectors": {"size": 4, "distance": "Cosine"}}).status == 200
        # AlreadyExists is 409 (src/actix/helpers.rs), text "Wrong input: …"
        again = call(emu, spec, "PUT", C, c, body={"vectors": {"size": 4, "distance": "Cosine"}})
        assert again.status == 409, again
        assert again.json()["status"]["error"] == "Wrong input: Collection `conf` already exists!"
        assert call(emu, spec, "GET", C, c).json()["result"]["points_count"] == 0
        assert call(emu, spec, "GET", C + "/exists", c).json()["result"]["exists"] is True
        call(emu, spec, "PUT", C + "/points", c, body={"points": sample_points(20)}, query={"wait": "true"})
        r = call(emu, spec, "PUT", C + "/points", c, body={"points": [{"id": 1, "vector": [1, 2]}]})
        assert r.status == 400 and "dimension" in r.json()["status"]["error"]
        r = call(emu, spec, "POST", C + "/points/scroll", c, body={"limit": 5, "with_vector": True})
        assert len(r.json()["result"]["points"]) == 5
        assert call(emu, spec, "POST", C + "/points/count", c, body={"exact": True}).json()["result"]["count"] == 20
        call(emu, spec, "POST", C + "/points", c, body={"ids": [1, 2], "with_vector": True})
        call(emu, spec, "GET", C + "/points/{id}", {"collection_name": "conf", "id": 1})
        assert call(emu, spec, "GET", C + "/points/{id}", {"collection_name": "conf", "id": 999}).status == 404
        call(emu, spec, "GET", C + "/cluster", c)
        assert call(emu, spec, "GET", C, {"collection_name": "missing"}).status == 404
        # collection snapshots: 1-4
        sd = call(emu, spec, "POST", C + "/snapshots", c).json()["result"]
        assert call(emu, spec, "POST", C + "/snapshots", c, query={"wait": "false"}).status == 202
        call(emu, spec, "GET", C + "/snapshots", c)
        s = dict(c, snapshot_name=sd["name"])
        r = call(emu, spec, "GET", C + "/snapshots/{snapshot_name}", s)
        assert sha256(r.body) == sd["checksum"]
        assert call(emu, spec, "GET", C + "/snapshots/{snapshot_name}", dict(c, snapshot_name="nope")).status == 404
        # recovery errors and successes: 5, 6
        loc = call(emu, spec, "PUT", C + "/snapshots/recover", c, body={"location": "file:///etc/passwd"})
        assert loc.status == 403
        bad = call(emu, spec, "PUT", C + "/snapshots/recover", c,
                   body={"location": "file:///etc/passwd", "checksum": "xyz"})
        assert bad.status == 422
        up = call(emu, spec, "POST", C + "/snapshots/upload", c, query={"checksum": "12"})
        assert up.status == 422
        up = emu.upload("/collections/conf/snapshots/upload", r.body, filename=sd["name"])
        spec.validate("post", C + "/snapshots/upload", up)
        assert up.status == 200, up
        assert call(emu, spec, "DELETE", C + "/snapshots/{snapshot_name}", s).status == 200
        # full snapshots: 7-10
        full = call(emu, spec, "POST", "/snapshots").json()["result"]
        call(emu, spec, "GET", "/snapshots")
        f = {"snapshot_name": full["name"]}
        call(emu, spec, "GET", "/snapshots/{snapshot_name}", f)
        assert call(emu, spec, "DELETE", "/snapshots/{snapshot_name}", f).status == 200
        assert call(emu, spec, "GET", "/snapshots/{snapshot_name}", f).status == 404
        # shard snapshots: 11-17
        SH = C + "/shards/{shard_id}"
        sh = dict(c, shard_id=0)
        ssd = call(emu, spec, "POST", SH + "/snapshots", sh).json()["result"]
        call(emu, spec, "GET", SH + "/snapshots", sh)
        ss = dict(sh, snapshot_name=ssd["name"])
        data = call(emu, spec, "GET", SH + "/snapshots/{snapshot_name}", ss).body
        call(emu, spec, "GET", SH + "/snapshot", sh)
        assert call(emu, spec, "GET", SH + "/snapshots", dict(c, shard_id=3)).status == 404
        r = call(emu, spec, "PUT", SH + "/snapshots/recover", sh, body={"location": ssd["name"]})
        assert r.status == 200, r

        def null_to_bool(doc):  # CONTRACT §1: route 17 answers null
            assert doc["result"] is None
            doc["result"] = True
        up = emu.upload("/collections/conf/shards/0/snapshots/upload", data)
        spec.validate("post", SH + "/snapshots/upload", up, null_to_bool)
        assert call(emu, spec, "DELETE", SH + "/snapshots/{snapshot_name}", ss).status == 200
        assert call(emu, spec, "DELETE", C, c).json()["result"] is True
        assert call(emu, spec, "DELETE", C, c).json()["result"] is False
    assert spec.checked >= 35, spec.checked


def test_v18_shapes():
    spec = Spec("openapi-v1.8.json")
    C = "/collections/{collection_name}"
    c = {"collection_name": "old"}
    with Emu(BINARY, ["--version", "1.8.0"]) as emu:
        assert emu.get("/").json()["version"] == "1.8.0"
        call(emu, spec, "PUT", C, c, body={"vectors": {"size": 4, "distance": "Dot"}})
        call(emu, spec, "PUT", C + "/points", c, body={"points": sample_points(5)})
        info = call(emu, spec, "GET", C, c).json()["result"]
        assert info["vectors_count"] == 5
        sd = call(emu, spec, "POST", C + "/snapshots", c).json()["result"]
        assert re.fullmatch(r"[0-9a-f]{64}", sd["checksum"])
        call(emu, spec, "GET", C + "/snapshots", c)
        call(emu, spec, "GET", "/cluster")


def test_v17_has_no_checksum():
    spec = Spec("openapi-v1.8.json")
    with Emu(BINARY, ["--version", "1.7.4"]) as emu:
        emu.create_collection("old")
        r = call(emu, spec, "POST", "/collections/{collection_name}/snapshots", {"collection_name": "old"})
        sd = r.json()["result"]
        assert "checksum" not in sd, sd
        lst = emu.get("/collections/old/snapshots").json()["result"]
        assert "checksum" not in lst[0]
        assert not [f for f in os.listdir(os.path.join(emu.data_dir, "snapshots", "old"))
                    if f.endswith(".checksum")]


if __name__ == "__main__":
    run_tests(globals())
