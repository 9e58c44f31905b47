#!/usr/bin/env bash
# Secrets at rest (issue 11 item 17), on the real daemon and its real files:
# a Qdrant API key and S3 credentials given over the API are in no file of
# the data folder in clear (catalogue, WAL); the daemon restarted with its
# key still has them (the API says they are set); restarted without the key
# it refuses to start and names the setting; a rotated key file (new key
# first, old one second) is accepted and the values are re-sealed.
. "$(dirname "$0")/lib.sh"

# One data folder, the daemon restarted on it (lib.sh: qbd_launch, qbd_halt).
QBD_DIR=$(mktemp -d /tmp/qbackup-secrets-test.XXXXXX)
trap qbd_stop EXIT
dir=$QBD_DIR
start() { # start [extra args...]: (re)starts qbackupd on $dir/var; sets base
  qbd_launch "$@"
  base="http://127.0.0.1:$QBD_PORT"
}

api_key="qdrant-api-key-6f1d0c2b"
s3_secret="s3-secret-key-9a8b7c6d5e"
start
curl -fsS -X POST "$base/v1/instances" -H 'Content-Type: application/json' \
  -d "{\"name\":\"prod\",\"url\":\"http://127.0.0.1:9\",\"api_key\":\"$api_key\"}" >/dev/null ||
  fail "create instance"
curl -fsS -X POST "$base/v1/destinations" -H 'Content-Type: application/json' \
  -d "{\"name\":\"off\",\"kind\":\"s3\",\"settings\":{\"bucket\":\"qb-secrets\",\"endpoint\":\"http://127.0.0.1:9\"},\"credentials\":{\"access_key\":\"AKIATESTSECRETS\",\"secret_key\":\"$s3_secret\"}}" \
  >/dev/null || fail "create destination"
qbd_halt
[ -f "$dir/var/secrets.key" ] || fail "no key file created in the data folder"
[ "$(stat -c %a "$dir/var/secrets.key")" = 600 ] || fail "key file is not mode 0600"
for f in "$dir"/var/qbackup.db*; do
  grep -aq -e "$api_key" -e "$s3_secret" "$f" && fail "a secret is in clear in $(basename "$f")"
done
grep -aq -e "$api_key" -e "$s3_secret" "$dir/log" && fail "a secret is in the log"

# Restarted with its key: the values are there (set), never echoed.
start
out=$(curl -fsS "$base/v1/instances/prod") || fail "get instance"
grep -q "$api_key" <<<"$out" && fail "the API key is echoed: $out"
grep -q '"api_key_set":true' <<<"$out" || fail "the instance lost its API key: $out"
qbd_halt

# Without its key: refuse to start, naming the setting; nothing changed.
mv "$dir/var/secrets.key" "$dir/old.key"
before=$(sha256sum "$dir/var/qbackup.db" | cut -d' ' -f1)
"$QB_DAEMON" serve --listen 127.0.0.1:0 --data-dir "$dir/var" --qdrant-url http://127.0.0.1:9 \
  2>"$dir/nokey.log" && fail "qbackupd started without the key of its sealed secrets"
grep -q "secrets_key" "$dir/nokey.log" || fail "the refusal does not name the setting: $(cat "$dir/nokey.log")"
[ ! -e "$dir/var/secrets.key" ] || fail "a new key was created over sealed secrets"
[ "$(sha256sum "$dir/var/qbackup.db" | cut -d' ' -f1)" = "$before" ] || fail "the catalogue changed"

# Rotation: a new key first, the old one below it.
new=$(head -c 32 /dev/urandom | base64)
{ echo "$new"; grep -v '^#' "$dir/old.key"; } >"$dir/rotated.key"
chmod 600 "$dir/rotated.key"
start --secrets-key-file "$dir/rotated.key"
out=$(curl -fsS "$base/v1/instances/prod") || fail "get instance after rotation"
grep -q '"api_key_set":true' <<<"$out" || fail "the instance lost its API key after rotation: $out"
qbd_halt
grep -q "event=secrets.ready.*resealed=[1-9]" "$dir/log" || fail "rotation re-sealed nothing: $(grep secrets "$dir/log")"
# Now the new key alone opens everything.
echo "$new" >"$dir/new.key"
chmod 600 "$dir/new.key"
start --secrets-key-file "$dir/new.key"
qbd_halt
echo "ok: secrets sealed at rest, refused without the key, rotated"
