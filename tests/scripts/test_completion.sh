#!/usr/bin/env bash
# The bash completion of the qbackup CLI (contrib/qbackup.bash-completion):
# command words, each command's options, fixed option values, and instance
# names asked of a real qbackupd through the built qbackup binary.
. "$(dirname "$0")/lib.sh"
cd "$QB_SOURCE_DIR"
bash -n contrib/qbackup.bash-completion || fail "completion script does not parse"

qbd_start
export PATH="$QB_BUILD_DIR:$PATH" QBACKUP_URL="http://127.0.0.1:$QBD_PORT"
[ -x "$QB_BUILD_DIR/qbackup" ] || fail "no qbackup binary in $QB_BUILD_DIR"

# bash-completion's _init_completion, reduced to what the script uses (the
# package is not installed on the test machines).
_init_completion() {
  words=("${COMP_WORDS[@]}")
  cword=$COMP_CWORD
  cur=${COMP_WORDS[COMP_CWORD]}
  prev=${COMP_WORDS[COMP_CWORD - 1]:-}
}
. contrib/qbackup.bash-completion

# complete WORD... : completes the last word; prints the candidates.
complete_words() {
  COMP_WORDS=(qbackup "$@")
  COMP_CWORD=$#
  COMPREPLY=()
  _qbackup
  [ ${#COMPREPLY[@]} -gt 0 ] || return 0
  printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' '
}

expect() { # expect "WANT" WORD...
  local want=$1
  shift
  local got
  got=$(complete_words "$@")
  [ "$got" = "$want" ] || fail "completing '$*': got '$got', want '$want'"
}

expect "restore run runs " r
expect "destinations " de
expect "check " destinations ""
expect "--overwrite " restore p c --ov
expect "backup restore " runs --kind ""
expect "latest " restore p c --snapshot ""
expect "--plan " snapshots --pl
expect "default " restore p c --to ""
expect "" run --key "" # a free value: nothing offered
echo "ok: bash completion"
