/* dram — SPDX-License-Identifier: BSD-3-Clause */
#ifndef DRAM_NETLINK_H
#define DRAM_NETLINK_H

#include <stdbool.h>
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
/* NBD_CMD_RECONFIGURE for device INDEX with NR_FDS new sockets: the
 * kernel puts each in the place of a dead connection (the first dead
 * one it finds), and drops it when none is dead.  BACKEND must be what
 * NBD_CMD_CONNECT gave (the kernel refuses the message otherwise), or
 * NULL if it gave none.
 */
extern struct nl_msg *nbd_msg_reconfigure (int family, int index,
                                           const char *backend,
                                           const int *fds, unsigned nr_fds);

/* The device index an NBD_CMD_LINK_DEAD notification of FAMILY names,
 * or -1 when HDR is anything else.
 */
extern int nbd_parse_link_dead (int family, struct nlmsghdr *hdr);

/* Sends NBD_CMD_CONNECT.  Returns the device index the kernel used,
 * -1 after reporting, or -2 when the kernel has no "nbd" netlink family
 * (then the ioctls are the way).
 */
extern int nbd_netlink_connect (const struct nbd_connect_req *req);

/* Sends NBD_CMD_DISCONNECT.  Returns 0, -1 after reporting, or -2 when
 * there is no "nbd" netlink family.
 */
extern int nbd_netlink_disconnect (int index);

/* Sends NBD_CMD_RECONFIGURE with new sockets.  Returns 0, -1 after
 * reporting, or -2 when there is no "nbd" netlink family.
 */
extern int nbd_netlink_reconfigure (int index, const char *backend,
                                    const int *fds, unsigned nr_fds);

/* A listener for the driver's notifications (its multicast group),
 * counting the connections of one device that the kernel reports dead.
 */
struct nbd_events;

/* Subscribes.  NULL after reporting. */
extern struct nbd_events *nbd_events_open (int index);

/* The descriptor to poll for POLLIN. */
extern int nbd_events_fd (const struct nbd_events *ev);

/* Reads what is waiting, without blocking.  Returns how many
 * connections of the device died since the last call, or -1 after
 * reporting.  *OVERRUN is set when the kernel dropped notifications
 * (the socket's buffer was full), so that some may be missing.
 */
extern int nbd_events_read (struct nbd_events *ev, bool *overrun);

extern void nbd_events_close (struct nbd_events *ev);

#endif /* DRAM_NETLINK_H */
