#!/usr/bin/env bash
# dram — SPDX-License-Identifier: BSD-3-Clause
# A client that is not on loopback must use TLS (or the operator must
# say insecure=true).  Runs in a network namespace of its own, where
# 192.0.2.1 and 2001:db8::1 are "remote" addresses.
source "${srcdir:-$(dirname "$0")}/functions.sh"
set -e -x

requires "$NBDKIT" nbdinfo nbdcopy ip
requires_root
make_tmpdir

ns=dram-tls-$$
ip netns add "$ns" || fail "cannot create a network namespace (ip netns add $ns)"
on_exit "ip netns del '$ns'"
ip -n "$ns" link set lo up
ip -n "$ns" addr add 192.0.2.1/32 dev lo
ip -n "$ns" addr add 2001:db8::1/128 dev lo nodad
in_ns () { ip netns exec "$ns" "$@"; }

port=10809
# A PSK file as nbdkit-tls(1) describes: username:hex key.
printf 'alice:%s\n' "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
  > "$tmpdir/keys.psk"
chmod 0600 "$tmpdir/keys.psk"
head -c $((4 << 20)) /dev/urandom > "$tmpdir/data"

# Starts the donor in the namespace with nbdkit options $@, its log in
# $tmpdir/log.
start_ns_donor ()
{
  rm -f "$tmpdir/ns.pid" "$tmpdir/log"
  in_ns "$NBDKIT" -P "$tmpdir/ns.pid" -p $port "$@" > "$tmpdir/log" 2>&1
  on_exit "stop_pidfile '$tmpdir/ns.pid'"
  wait_for_file "$tmpdir/ns.pid"
}

# Plain text from a remote address: refused, and the log says how to fix it.
start_ns_donor -f "$DRAM_PLUGIN" size=64M &
# start_ns_donor's on_exit ran in the background subshell: stopped from
# here too, should a check below fail.
on_exit "stop_pidfile '$tmpdir/ns.pid'"
wait_for_file "$tmpdir/ns.pid"
for addr in 192.0.2.1 '[2001:db8::1]'; do
  rc=0
  in_ns nbdinfo "nbd://$addr:$port" || rc=$?
  test "$rc" -ne 0
  # Not even the donor's capacity.
  in_ns nbdinfo --list "nbd://$addr:$port" > "$tmpdir/list" 2>&1 || :
  ! grep -q "dram donor:" "$tmpdir/list" ||
    fail "NBD_OPT_LIST described the donor to a client it refuses"
done
sleep 0.5
cat "$tmpdir/log"
grep -qF "refusing a connection from 192.0.2.1 without TLS" "$tmpdir/log"
grep -qF "refusing a connection from 2001:db8::1 without TLS" "$tmpdir/log"
grep -qF "start nbdkit with --tls=require --tls-psk=FILE" "$tmpdir/log"
# Loopback is always allowed.
in_ns nbdinfo "nbd://127.0.0.1:$port" | grep -q 'export-size: 67108864'
in_ns nbdinfo "nbd://[::1]:$port" | grep -q 'export-size: 67108864'
stop_pidfile "$tmpdir/ns.pid"
wait

# insecure=true: the operator's choice.
start_ns_donor "$DRAM_PLUGIN" size=64M insecure=true
in_ns nbdcopy "$tmpdir/data" "nbd://192.0.2.1:$port"
in_ns nbdcopy "nbd://192.0.2.1:$port" - | head -c $((4 << 20)) | cmp - "$tmpdir/data"
stop_pidfile "$tmpdir/ns.pid"

# TLS-PSK from the remote address: served, data round-trips; a client
# without the key is refused.
start_ns_donor --tls=require --tls-psk="$tmpdir/keys.psk" "$DRAM_PLUGIN" size=64M
tls="nbds://alice@192.0.2.1:$port/?tls-psk-file=$tmpdir/keys.psk"
in_ns nbdinfo "$tls" | grep -q 'protocol: newstyle-fixed with TLS'
in_ns nbdcopy "$tmpdir/data" "$tls"
in_ns nbdcopy "$tls" - | head -c $((4 << 20)) | cmp - "$tmpdir/data"
printf 'alice:%s\n' "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
  > "$tmpdir/wrong.psk"
rc=0
in_ns nbdinfo "nbds://alice@192.0.2.1:$port/?tls-psk-file=$tmpdir/wrong.psk" \
  2> "$tmpdir/err" || rc=$?
cat "$tmpdir/err"
[ "$rc" -ne 0 ] || fail "a client with a wrong key was served"
grep -q "gnutls_handshake" "$tmpdir/err" ||
  fail "a wrong key was not refused in the TLS handshake"
rc=0
in_ns nbdinfo "nbd://192.0.2.1:$port" 2> "$tmpdir/err" || rc=$?
cat "$tmpdir/err"
[ "$rc" -ne 0 ] || fail "a plain-text client was served by a TLS donor"
# nbdinfo's words for NBD_REP_ERR_TLS_REQD on its NBD_OPT_GO.
grep -q "opt_go request: Operation not supported" "$tmpdir/err" ||
  fail "a plain-text client was not refused its export"
# Neither took the donor down: it still serves the right key.
kill -0 "$(cat "$tmpdir/ns.pid")" || fail "the donor died of a refused client"
in_ns nbdcopy "$tls" - | head -c $((4 << 20)) | cmp - "$tmpdir/data" ||
  fail "the donor no longer serves its data after the refusals"
