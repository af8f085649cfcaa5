/* dram — SPDX-License-Identifier: BSD-3-Clause */
#ifndef DRAM_NETLINK_H
#define DRAM_NETLINK_H

#include <stdint.h>

#include <netlink/msg.h>

/* What the kernel's NBD_CMD_CONNECT takes. */
struct nbd_connect_req {
  int index;                    /* /dev/nbdINDEX; -1: the kernel picks */
  uint64_t size;
  uint64_t block_size;
  uint64_t server_flags;
  uint64_t timeout;             /* seconds; 0: none */
  uint64_t dead_conn_timeout;   /* seconds; 0: none */
  uint64_t client_flags;
  const int *fds;
  unsigned nr_fds;
  const char *backend;          /* NULL: none */
};

/* Builds the messages (the tests read them back). */
extern struct nl_msg *nbd_msg_connect (int family,
                                       const struct nbd_connect_req *req);
extern struct nl_msg *nbd_msg_disconnect (int family, int index);

/* Sends NBD_CMD_CONNECT.  Returns the device index the kernel used,
 * -1 after reporting, or -2 when the kernel has no "nbd" netlink family
 * (then the ioctls are the way).
 */
extern int nbd_netlink_connect (const struct nbd_connect_req *req);

/* Sends NBD_CMD_DISCONNECT.  Returns 0, -1 after reporting, or -2 when
 * there is no "nbd" netlink family.
 */
extern int nbd_netlink_disconnect (int index);

#endif /* DRAM_NETLINK_H */
