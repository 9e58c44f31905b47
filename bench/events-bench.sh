#!/usr/bin/env bash
# bench/events-bench.sh -- what live event streams (GET /v1/events) cost:
#
# 1. Starts a Release qbackupd (build/, scripts/build) on a fresh data
#    folder with no Qdrant (runs fail at once, which is all we need: the
#    events of a run are written as it is queued and ends).
# 2. Opens STREAMS raw event streams and measures the daemon's CPU time
#    over IDLE seconds (heartbeats and the feed thread's ticks only).
# 3. Queues RUNS runs, one at a time, and times each POST until its
#    run.queued arrives on one of the streams.
#
# usage: bench/events-bench.sh [STREAMS=16] [IDLE=20] [RUNS=20]
set -euo pipefail
cd "$(dirname "$0")/.."
streams=${1:-16} idle=${2:-20} runs=${3:-20}
[ -x build/qbackupd ] || scripts/build >/dev/null
dir=$(mktemp -d /tmp/qbackup-events-bench.XXXXXX)
build/qbackupd --listen 127.0.0.1:0 --data-dir "$dir/data" --port-file "$dir/port" \
  --events-max-clients $((streams + 1)) 2>"$dir/log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 1 200); do [ -s "$dir/port" ] && break; sleep 0.05; done
python3 - "$(cat "$dir/port")" "$pid" "$streams" "$idle" "$runs" <<'PY'
import json, socket, sys, time, urllib.request
port, pid, nstreams, idle, nruns = map(int, sys.argv[1:])
def cpu():
    f = open(f'/proc/{pid}/stat').read().split(')')[1].split()
    return (int(f[11]) + int(f[12])) / 100.0
socks = []
for _ in range(nstreams):
    s = socket.create_connection(('127.0.0.1', port))
    s.sendall(b'GET /v1/events HTTP/1.1\r\nHost: bench\r\n\r\n')
    socks.append(s)
time.sleep(1)
c0, t0 = cpu(), time.time()
time.sleep(idle)
print(f"idle: {nstreams} open streams, daemon CPU {100 * (cpu() - c0) / (time.time() - t0):.2f}% "
      f"of one core over {idle} s")
base = f'http://127.0.0.1:{port}'
urllib.request.urlopen(urllib.request.Request(f'{base}/v1/plans', method='POST', data=json.dumps(
    {"name": "bench", "instance": "default", "destination": "local", "collections": ["c"]}).encode(),
    headers={'Content-Type': 'application/json'})).read()
s = socks[0]
s.setblocking(False)
try:
    while s.recv(65536):
        pass
except BlockingIOError:
    pass
s.setblocking(True)
s.settimeout(5)
lat = []
for _ in range(nruns):
    t = time.time()
    r = urllib.request.urlopen(urllib.request.Request(f'{base}/v1/plans/bench/runs', method='POST'))
    rid = json.loads(r.read())['id']
    data = b''
    while f'"type":"run.queued","plan":"bench","instance":"default","run_id":{rid}'.encode() not in data:
        data += s.recv(65536)
    lat.append((time.time() - t) * 1000)
    time.sleep(0.3)
lat.sort()
print(f"POST /v1/plans/bench/runs -> its run.queued on a stream: median {lat[len(lat) // 2]:.0f} ms, "
      f"max {lat[-1]:.0f} ms (n={len(lat)})")
PY
