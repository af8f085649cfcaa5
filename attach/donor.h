/* dram — SPDX-License-Identifier: BSD-3-Clause */
#ifndef DRAM_DONOR_H
#define DRAM_DONOR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <gnutls/gnutls.h>
#include <libnbd.h>

#include "capacity.h"
#include "identity.h"
#include "options.h"

/* The donor as the handshake described it, and the connections to it. */
struct donor {
  uint64_t size;
  bool read_only;
  bool can_flush;
  bool can_fua;
  bool can_trim;
  bool can_multi_conn;
  unsigned nr;                  /* connections made */
  struct nbd_handle *h[MAX_CONNECTIONS];
  gnutls_session_t session[MAX_CONNECTIONS];    /* with TLS */
  int fd[MAX_CONNECTIONS];      /* after donor_take_sockets */
  char name[300];               /* host:port or socket, for messages */
  char identity[IDENTITY_LEN + 1];  /* the region's; "" if not published */
  char username[256];           /* TLS: the PSK's user */
  int psk_fd;                   /* TLS: the key file's locked copy */
  char psk_path[32];            /* ... as libnbd opens it */
  /* A host name's address, found by the first connection: the later
   * ones, and every reconnect, go there without resolving the name
   * again (0: not a host name).
   */
  struct sockaddr_storage peer;
  socklen_t peer_len;
  /* What the donor has left to lend, as it said at connection. */
  bool have_capacity;
  struct capacity capacity;
};

/* The PSK file's copy: its memfd's name (resident.c locks every mapping
 * of it) and the largest key file taken.
 */
#define PSK_MEMFD_NAME "dram-tls-psk"
#define PSK_FILE_MAX (64 * 1024)

/* Connects OPTS->connections times, in simple-reply mode (the kernel
 * understands nothing else), with TLS when asked.  Checks that the
 * donor can serve that many connections.  On failure nothing stays
 * open.
 */
extern int donor_connect (const struct options *opts, struct donor *d);

/* How long to wait for a donor's capacity (one more connection). */
#define CAPACITY_WAIT_MS 3000

/* Asks the donor (a connection of its own, in option mode: no region
 * is opened) what it has left to lend (capacity.h), within TIMEOUT ms.
 * Returns 0, or -1 when it does not say (not a dram donor, no answer).
 */
extern int donor_capacity (const struct options *o, const struct donor *d,
                           int timeout, struct capacity *c);

/* How long to try to reconnect when a connection is lost: OPTS's
 * --reconnect-timeout, or 0 (with a warning) when the donor does not
 * name its region, since then nobody could tell whether its data
 * survived.
 */
extern unsigned donor_reconnect_time (const struct options *opts,
                                      const struct donor *d);

/* One more connection to the same donor (after a connection was
 * lost), within TIMEOUT ms, checked to be the same region: its size
 * and identity.  Returns the connected handle, or NULL with WHY filled; *LOST is set
 * when the donor answered with another region (the data is gone), so
 * that trying again is pointless.
 */
extern struct nbd_handle *donor_reconnect (const struct options *opts,
                                           const struct donor *d,
                                           int timeout, bool *lost,
                                           char *why, size_t len);

/* The NBD transmission flags to give the kernel. */
extern uint64_t donor_kernel_flags (const struct donor *d);

/* A blocking, close-on-exec duplicate of H's socket (libnbd's own
 * stays open until nbd_close); -1 with WHY filled.
 */
extern int donor_dup_socket (struct nbd_handle *h, char *why, size_t len);

/* Takes each connected socket out of libnbd (which then forgets it) so
 * that the kernel can be given it.  The sockets are made blocking.
 */
extern int donor_take_sockets (struct donor *d);

/* With TLS: moves every connection's TLS session into the kernel
 * (see ktls.c) and takes the sockets as donor_take_sockets does.
 * Returns 0; -1 with WHY filled when the kernel cannot do it, with
 * every connection still usable through libnbd; -2 after reporting.
 */
extern int donor_take_ktls_sockets (struct donor *d, char *why, size_t len);

/* The link (link.h) for a connected handle H, which it takes: libnbd's
 * handle when the connection has TLS (which runs in libnbd), otherwise
 * the bare socket, which needs no new memory to send.  Returns NULL
 * after reporting.
 */
struct link;
extern struct link *donor_link (struct nbd_handle *h, const char *name);

/* Closes whatever is still open. */
extern void donor_close (struct donor *d);

#endif /* DRAM_DONOR_H */
