#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
#
# validate_responses.py -- checks recorded qbackupd responses against
# api/openapi.yaml, so the spec is held to what the server really answers.
#
# Usage: validate_responses.py api/openapi.yaml RESPONSES.jsonl...
#
# The integration-test harness appends one JSON object per response to the
# file named by QB_RESPONSE_LOG (tests/integration/harness.c): method, path
# (with query), status, headers (lower-case names), and body (parsed JSON),
# body_text (other text) or only body_len.  Each record is matched to its
# operation by method and path template and must have:
#   - a documented status: the operation's own, or one the spec's
#     introduction documents for every route (route_not_found, ...), then
#     with a problem+json body of the code named there;
#   - a documented media type, and a body valid against its schema ($ref
#     resolved; OpenAPI 3.1 schemas are JSON Schema 2020-12, so `null` is a
#     type in a type array); no body where none is documented (204);
#   - X-Request-Id, every header the spec marks required, and no header of
#     API meaning (Location, Retry-After, Idempotent-Replayed, ...) that the
#     response does not document; documented header values valid too.
# Mismatches are printed, grouped by operation, status and reason with one
# example each, and make the exit status 1.  Stdlib + python3-yaml +
# python3-jsonschema (Debian's 4.10) only.
import json
import re
import sys
import warnings
from collections import OrderedDict

import yaml
import jsonschema

warnings.simplefilter("ignore", DeprecationWarning)

# Answers the spec's introduction documents for any route, with their code.
GLOBAL_STATUS = {
    400: {"invalid_parameter"},
    404: {"route_not_found"},
    405: {"method_not_allowed"},
    414: {"uri_too_long"},
    431: {"header_too_large"},
    500: {"internal"},
    503: {"unavailable"},
}
# Headers a global answer may carry (documented with it in the introduction).
GLOBAL_HEADERS = {405: {"allow"}, 503: {"retry-after"}}
# Transport and always-present headers: not part of any operation's contract.
TRANSPORT_HEADERS = {
    "content-type", "content-length", "date", "connection", "keep-alive",
    "transfer-encoding", "cache-control", "x-request-id",
}

DATE_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def make_format_checker():
    checker = jsonschema.FormatChecker(formats=())

    @checker.checks("date-time")
    def is_date_time(value):
        return not isinstance(value, str) or bool(DATE_TIME.match(value))

    return checker


class Spec:
    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            self.doc = yaml.safe_load(f)
        self.resolver = jsonschema.RefResolver.from_schema(self.doc)
        self.formats = make_format_checker()
        self.routes = []
        for template, item in self.doc["paths"].items():
            names = re.findall(r"\{([^}]+)\}", template)
            rx = "^" + re.sub(r"\\\{[^}]+\\\}", "([^/]+)", re.escape(template)) + "$"
            self.routes.append((len(names), template, re.compile(rx), item))
        # Literal segments win over templates.
        self.routes.sort(key=lambda r: r[0])

    def deref(self, node):
        while isinstance(node, dict) and "$ref" in node:
            _, node = self.resolver.resolve(node["$ref"])
        return node

    def route(self, path):
        for _, template, rx, item in self.routes:
            if rx.match(path):
                return template, item
        return None, None

    def errors(self, schema, instance):
        v = jsonschema.Draft202012Validator(schema, resolver=self.resolver,
                                            format_checker=self.formats)
        out = []
        for e in sorted(v.iter_errors(instance), key=lambda e: list(e.absolute_path)):
            where = "/".join(str(p) for p in e.absolute_path) or "(body)"
            out.append("%s: %s" % (where, e.message[:300]))
        return out


def check_body(spec, rec, response, problems):
    """Media type and body against the documented content."""
    headers = rec.get("headers", {})
    ctype = headers.get("content-type", "").split(";")[0].strip().lower()
    content = response.get("content")
    if not content:
        if rec.get("body_len", 0) and rec["method"] != "HEAD":
            problems.append("body (%s, %d bytes) where none is documented"
                            % (ctype or "no type", rec["body_len"]))
        return
    media = content.get(ctype)
    if media is None:
        problems.append("content type %r not documented (documented: %s)"
                        % (ctype, ", ".join(sorted(content))))
        return
    schema = media.get("schema")
    if schema is None or rec["method"] == "HEAD" or "transfer_error" in rec:
        return
    if "json" in ctype:
        if "body" not in rec:
            problems.append("body is not JSON: %r" % rec.get("body_text", "")[:200])
            return
        problems.extend(spec.errors(schema, rec["body"]))
    elif "body_text" in rec:
        problems.extend(spec.errors(schema, rec["body_text"]))


def header_value(schema, value):
    schema_type = schema.get("type")
    if schema_type == "integer":
        try:
            return int(value)
        except ValueError:
            return value
    return value


def check_headers(spec, rec, response, status, global_answer, problems):
    headers = rec.get("headers", {})
    documented = {}
    for name, h in (response.get("headers") or {}).items():
        documented[name.lower()] = spec.deref(h)
    if "x-request-id" not in headers:
        problems.append("no X-Request-Id")
    for name, h in documented.items():
        if h.get("required") and name not in headers:
            problems.append("required header %s missing" % name)
        if name in headers and "schema" in h:
            for e in spec.errors(h["schema"], header_value(spec.deref(h["schema"]),
                                                           headers[name])):
                problems.append("header %s: %s" % (name, e.split(": ", 1)[-1]))
    allowed = set(documented) | TRANSPORT_HEADERS
    if global_answer:
        allowed |= GLOBAL_HEADERS.get(status, set())
    for name in headers:
        if name not in allowed:
            problems.append("header %s not documented" % name)


def check_record(spec, rec):
    """Returns (operation label, list of problems) for one record."""
    method = rec["method"].upper()
    path = rec["path"].split("?", 1)[0]
    status = int(rec["status"])
    template, item = spec.route(path)
    op = item.get(method.lower()) if item else None
    if op is None and method == "HEAD" and item:
        op = item.get("get")
    label = "%s %s" % (method, template or path)
    problems = []
    response = None
    global_answer = False
    if op is not None:
        responses = op.get("responses", {})
        response = responses.get(str(status)) or responses.get("%dXX" % (status // 100))
    if response is None:
        # Not the operation's own answer: only a global one will do.
        if op is None and status not in GLOBAL_STATUS:
            problems.append("no operation %s %s in the spec (status %d)"
                            % (method, path, status))
            return label, problems
        codes = GLOBAL_STATUS.get(status)
        body = rec.get("body")
        code = body.get("code") if isinstance(body, dict) else None
        if not codes or code not in codes:
            problems.append("status %d%s not documented" % (status, " (%s)" % code if code else ""))
            return label, problems
        global_answer = True
        response = {"content": {"application/problem+json": {
            "schema": {"$ref": "#/components/schemas/Problem"}}}}
    else:
        response = spec.deref(response)
    check_body(spec, rec, response, problems)
    check_headers(spec, rec, response, status, global_answer, problems)
    return label, problems


def main(argv):
    if len(argv) < 3:
        print("usage: validate_responses.py OPENAPI.yaml RESPONSES.jsonl...", file=sys.stderr)
        return 2
    spec = Spec(argv[1])
    total = 0
    bad = 0
    unreadable = 0
    groups = OrderedDict()
    for path in argv[2:]:
        with open(path, encoding="utf-8", errors="replace") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except ValueError as e:
                    groups.setdefault(("(log)", 0, "unreadable line: %s" % e), []).append(
                        "%s:%d" % (path, lineno))
                    unreadable += 1
                    continue
                total += 1
                label, problems = check_record(spec, rec)
                if problems:
                    bad += 1
                for p in problems:
                    example = "%s %s" % (rec["method"], rec["path"])
                    groups.setdefault((label, rec["status"], p), []).append(example)
    for (label, status, problem), examples in groups.items():
        print("MISMATCH %s -> %s: %s [%d response%s, e.g. %s]"
              % (label, status, problem, len(examples), "" if len(examples) == 1 else "s",
                 examples[0][:200]))
    print("validate_responses: %d responses checked, %d with mismatches, %d unreadable lines"
          % (total, bad, unreadable))
    return 1 if bad or unreadable or not total else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
