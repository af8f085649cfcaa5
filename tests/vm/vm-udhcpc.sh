#!/bin/sh
# dram — SPDX-License-Identifier: BSD-3-Clause

# udhcpc event script for the dram test VM (VM_NET=dhcp): configure the
# interface and default route from the lease; no DNS is needed.
# shellcheck disable=SC2154  # udhcpc sets interface, ip, mask, router

case "$1" in
  deconfig)
    ip addr flush dev "$interface"
    ;;
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    for r in $router; do
      ip route add default via "$r" dev "$interface"
      break
    done
    ;;
esac
exit 0
