#!/usr/bin/env bash
# dram — SPDX-License-Identifier: BSD-3-Clause
# The nbd mode survives the donor: Debian's kernel in QEMU swaps to
# nbdkit-dram-plugin on the host while the host, on the guest's cue
# (a "DRAM-FAULT name" line on the console), does to the donor what
# guest-reconnect.sh's phases expect:
#   kill   kill -9 the donor (backing=file on tmpfs), start it again on
#          the same port 5 s later: the same region;
#   cut    kill the relay in front of it, cutting every connection,
#          and start it again 10 s later;
#   lost   kill the donor and start it with backing=malloc: a new
#          region, which dram-attach must refuse, while a cgroup's
#          workload swaps to it;
#   tls    kill and restart the TLS-PSK donor (kernel TLS), with the
#          guest's key file (on tmpfs) pushed out to swap first;
#   gone   kill a donor of its own, start it again 15 s later (any
#          region); gone0: kill it for good;
#   stop8, stop30   SIGSTOP a donor of its own for 8 or 30 s: silent,
#          with no RST or FIN.
# The guest checks that every byte comes back or, when the region is
# lost, that the workload dies without reading a wrong one.
# VM_PHASES="kill tls" runs only those phases (for debugging).
set -e -x

. "$(dirname "$0")/vm-functions.sh"

vm_requires qemu-system-x86_64 nbdkit busybox cpio gzip depmod socat setsid
vm_require_kernel
[ "$(vm_kernel_config BLK_DEV_NBD)" != n ] ||
  vm_skip "kernel $VM_KERNEL_VERSION has no NBD driver"
if [ ! -d /dev/shm ] || [ ! -w /dev/shm ]; then
  vm_skip "no writable /dev/shm (tmpfs) for the donors' regions"
fi

plugin=${DRAM_PLUGIN:-$abs_top_builddir/nbdkit-plugin/.libs/nbdkit-dram-plugin.so}
attach=$abs_top_builddir/attach/dram-attach
[ -x "$attach" ] || vm_fail "build dram-attach first ($attach)"
swap_mib=512
# The guest sees about 80 MiB of its 128: 2.5 times that.
work_mib=200

vm_workdir
vm_find_memverify
vm_find_pageout
psk=$VM_WORKDIR/keys.psk
vm_psk_key "$psk"
vm_psk_key "$VM_WORKDIR/wrong.psk"

# The donors' regions: files on tmpfs, which outlive nbdkit.
shm=$(mktemp -d /dev/shm/dram-vm-reconnect.XXXXXX)
vm_on_exit "rm -rf $shm"

# Each donor keeps its port across restarts; the pid of the running
# one is in $VM_WORKDIR/NAME.pid.
plain_port=$(vm_free_port)
tls_port=$(vm_free_port)
relay_port=$(vm_free_port)
gone_port=$(vm_free_port)
stop_port=$(vm_free_port)
[ "$plain_port" != "$tls_port" ] || tls_port=$((plain_port + 1))

# start_donor NAME PORT ARGS...: nbdkit on 127.0.0.1:PORT, waited for.
start_donor ()
{
  local name=$1 port=$2 pid i
  shift 2
  rm -f "$VM_WORKDIR/$name.pidfile"
  nbdkit -f --exit-with-parent -P "$VM_WORKDIR/$name.pidfile" \
    -i 127.0.0.1 -p "$port" "$@" >>"$VM_WORKDIR/$name.log" 2>&1 &
  pid=$!
  echo "$pid" > "$VM_WORKDIR/$name.pid"
  for ((i = 0; i < 300; i++)); do
    [ -s "$VM_WORKDIR/$name.pidfile" ] && return 0
    vm_pid_alive "$pid" || break
    sleep 0.1
  done
  cat "$VM_WORKDIR/$name.log" >&2
  vm_fail "donor $name did not start on port $port"
}

# kill_donor NAME: as a crash would (SIGKILL), and reaped.
kill_donor ()
{
  local pid

  pid=$(cat "$VM_WORKDIR/$1.pid")
  kill -9 "$pid"
  wait "$pid" 2>/dev/null || :
}

# The relay for the cut: its own process group (socat forks one child
# per connection), killed as a whole.
start_relay ()
{
  setsid socat TCP-LISTEN:"$relay_port",bind=127.0.0.1,reuseaddr,fork \
    TCP:127.0.0.1:"$plain_port" &
  echo $! > "$VM_WORKDIR/relay.pid"
  for ((i = 0; i < 100; i++)); do
    ss -Htln "sport = :$relay_port" | grep -q . && return 0
    sleep 0.1
  done
  vm_fail "the relay did not start on port $relay_port"
}

# The conductor below restarts them: whichever runs at exit is stopped.
stop_servers ()
{
  local name

  for name in plain tls gone stop; do
    [ ! -s "$VM_WORKDIR/$name.pid" ] || kill -CONT "$(cat "$VM_WORKDIR/$name.pid")" 2>/dev/null
    [ ! -s "$VM_WORKDIR/$name.pid" ] ||
      vm_kill_pid "$(cat "$VM_WORKDIR/$name.pid")"
  done
  [ ! -s "$VM_WORKDIR/relay.pid" ] ||
    kill -- -"$(cat "$VM_WORKDIR/relay.pid")" 2>/dev/null || :
}
vm_on_exit stop_servers

plain_args=("$plugin" "size=${swap_mib}M" backing=file file="$shm/plain")
tls_args=(--tls=require --tls-psk="$psk" "$plugin" "size=${swap_mib}M"
          backing=file file="$shm/tls")
start_donor plain "$plain_port" "${plain_args[@]}"
start_donor tls "$tls_port" "${tls_args[@]}"
start_donor gone "$gone_port" "$plugin" size=64M
start_donor stop "$stop_port" "$plugin" size=64M
start_relay

# Kernel TLS: the tls module and the ciphers' crypto modules.
ktls_modules="-m tls -m chacha_generic -m poly1305_generic -m chacha20poly1305
  -m ctr -m ghash-generic -m gcm"

# shellcheck disable=SC2086  # ktls_modules is a list of options
vm_build_initramfs -L -o "$VM_WORKDIR/initrd.gz" \
  -s "$VM_DIR/guest-reconnect.sh" \
  -b "$attach" -b "$MEMVERIFY" -b "$PAGEOUT" -m nbd $ktls_modules \
  -f "$psk:/etc/dram/keys.psk" -f "$VM_WORKDIR/wrong.psk:/etc/dram/wrong.psk" \
  -e PLAIN_PORT="$plain_port" -e TLS_PORT="$tls_port" \
  -e RELAY_PORT="$relay_port" -e GONE_PORT="$gone_port" \
  -e STOP_PORT="$stop_port" \
  -e WORK_MIB="$work_mib" -e TLS_WORK_MIB=120 -e WORK_PROCS=2 \
  -e CGROUP_MIB=16 -e CGROUP_WORK_MIB=48 \
  -e PHASES="${VM_PHASES:-all}"

# The conductor: does each fault the guest asks for, once, and logs
# when (the guest cannot see the host's clock).
VM_LOG=$(realpath -m "${VM_LOG_DIR:-.}/$VM_NAME.console.log")
: > "$VM_LOG"
faults=$VM_WORKDIR/faults
conduct ()
{
  local done_faults=" " f

  set +x                        # it polls five times a second
  while :; do
    # Anywhere in a line: the kernel's messages may share it.
    for f in $(grep -ao 'DRAM-FAULT [a-z0-9]*' "$VM_LOG" 2>/dev/null |
               cut -d' ' -f2); do
      case "$done_faults" in *" $f "*) continue ;; esac
      done_faults="$done_faults$f "
      echo "$(date +%s.%N | cut -c1-14) $f start" >> "$faults"
      case "$f" in
        kill)
          kill_donor plain
          sleep 5
          start_donor plain "$plain_port" "${plain_args[@]}"
          ;;
        cut)
          kill -- -"$(cat "$VM_WORKDIR/relay.pid")"
          sleep 10
          start_relay
          ;;
        lost)
          kill_donor plain
          sleep 2
          start_donor plain "$plain_port" "$plugin" "size=${swap_mib}M" \
            backing=malloc
          ;;
        tls)
          kill_donor tls
          sleep 5
          start_donor tls "$tls_port" "${tls_args[@]}"
          ;;
        gone)
          kill_donor gone
          sleep 15
          start_donor gone "$gone_port" "$plugin" size=64M
          ;;
        gone0)
          kill_donor gone
          ;;
        stop8|stop30)
          kill -STOP "$(cat "$VM_WORKDIR/stop.pid")"
          sleep "${f#stop}"
          kill -CONT "$(cat "$VM_WORKDIR/stop.pid")"
          ;;
      esac
      echo "$(date +%s.%N | cut -c1-14) $f done" >> "$faults"
    done
    sleep 0.2
  done
}
conduct > "$VM_WORKDIR/conductor.log" 2>&1 &
conductor=$!
vm_on_exit "kill $conductor 2>/dev/null"

rc=0
# The root on ramfs, not tmpfs: when the lost phase's device fails,
# no page of a program or script the guest still runs can be in it.
VM_APPEND="rootfstype=ramfs ${VM_APPEND:-}" \
MEM=128 CPUS=${CPUS:-2} VM_TIMEOUT=${VM_TIMEOUT:-1200} \
  vm_boot "$VM_WORKDIR/initrd.gz" || rc=$?
kill "$conductor" 2>/dev/null || :
wait "$conductor" 2>/dev/null || :
cat "$VM_WORKDIR/conductor.log" "$faults" 2>/dev/null || :
# The donors' own words, when the guest failed.
if [ "$rc" -ne 0 ]; then
  for f in plain tls; do
    [ ! -s "$VM_WORKDIR/$f.log" ] || sed "s/^/donor $f: /" "$VM_WORKDIR/$f.log"
  done
fi
grep -a '^RESULT\|^memverify: \|^STATUS\|all phases passed' "$VM_LOG" |
  tr -d '\r'
[ "$rc" -eq 0 ]

# Each phase the guest ran had its fault done.
for f in kill cut lost tls gone gone0 stop8 stop30; do
  case $f in gone0) p=gone ;; stop*) p=silent ;; *) p=$f ;; esac
  vm_ran "$p" || continue
  # The guest may be done before the donor is sent SIGCONT again.
  [ "$f" = stop30 ] && when=start || when=done
  grep -q "^[0-9.]* $f $when" "$faults" || vm_fail "the $f fault was not done"
done
