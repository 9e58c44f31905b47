#!/usr/bin/python3
"""Compares qbackupd's route table with api/openapi.yaml, both ways.

Every route the server serves must be in the spec with the same method, and
every operation in the spec must be served; each operation's x-qbackup-role
must equal the role the server enforces; the Problem schema's code enum must
equal the registry in src/http/errors.def.  Exit status 1 lists every
mismatch.
"""
import re
import subprocess
import sys

import yaml

daemon, spec_path, errors_def = sys.argv[1:4]
problems = []

# Route table as served, with the default public/token settings.
out = subprocess.run([daemon, "list-routes"], check=True, capture_output=True, text=True).stdout
served = {}
for line in out.splitlines():
    method, pattern, role = line.split()
    served[(method, pattern)] = role

with open(spec_path) as f:
    spec = yaml.safe_load(f)
documented = {}
for path, item in spec.get("paths", {}).items():
    for method, op in item.items():
        if method in ("parameters", "summary", "description"):
            continue
        role = op.get("x-qbackup-role")
        if role is None:
            problems.append(f"spec: {method.upper()} {path} has no x-qbackup-role")
        documented[(method.upper(), path)] = role

for key in sorted(served.keys() - documented.keys()):
    problems.append(f"served but not in the spec: {key[0]} {key[1]}")
for key in sorted(documented.keys() - served.keys()):
    problems.append(f"in the spec but not served: {key[0]} {key[1]}")
for key in sorted(served.keys() & documented.keys()):
    if served[key] != documented[key]:
        problems.append(f"{key[0]} {key[1]}: server enforces {served[key]}, "
                        f"spec says {documented[key]}")

with open(errors_def) as f:
    registry = re.findall(r'^QB_API_ERROR\(\w+, "(\w+)"', f.read(), re.M)
enum = spec["components"]["schemas"]["Problem"]["properties"]["code"]["enum"]
if sorted(registry) != sorted(enum):
    problems.append(f"Problem.code enum {sorted(enum)} != errors.def {sorted(registry)}")

for p in problems:
    print("MISMATCH:", p)
print(f"{len(served)} routes served, {len(documented)} documented, {len(problems)} mismatches")
sys.exit(1 if problems else 0)
