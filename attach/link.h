/* dram — SPDX-License-Identifier: BSD-3-Clause */
#ifndef DRAM_LINK_H
#define DRAM_LINK_H

/* One connection to the donor, as the engine (engine.c) drives it:
 * either libnbd's handle (nbdlink.c), or, after libnbd's handshake,
 * the bare socket (socklink.c).  A link finishes each request it
 * accepted exactly once, by link_completed (), on whichever thread
 * learnt how it ended.
 */

#include <stdbool.h>

#include <libnbd.h>

#include "engine.h"

struct link;

struct link_ops {
  /* From any thread: sends R.  Returns 0 when R was handed over (its
   * end comes by link_completed), 1 the same but part of it waits for
   * the socket (the loop must watch it), -1 with errno when R was not
   * sent at all (and never will be).
   */
  int (*send) (struct link *l, struct engine_req *r);
  /* On the loop's thread: what to poll, and what poll said. */
  int (*fd) (struct link *l);
  short (*events) (struct link *l);
  /* Returns -1 when the connection failed; error () says why. */
  int (*notify) (struct link *l, short revents);
  bool (*dead) (struct link *l);
  /* The last failure, on the thread that saw it. */
  const char *(*error) (struct link *l);
  /* Nothing in flight: tells the donor goodbye. */
  void (*shutdown) (struct link *l);
  /* Nobody is inside the link any more: fails whatever is still in
   * flight, closes and frees it.
   */
  void (*close) (struct link *l);
};

struct link {
  const struct link_ops *ops;
};

/* The engine's: request R ended with ERR (0 or an errno). */
extern void link_completed (struct engine_req *r, int err);

/* A link on libnbd's handle H, which it owns from now on. */
extern struct link *nbd_link (struct nbd_handle *h);

/* The largest number of requests a socket link carries at once. */
#define SOCKET_LINK_MAX_IN_FLIGHT 64

/* A link on the connected socket FD (after the handshake, in simple
 * reply mode, the socket blocking), which it owns from now on.  Over
 * TCP it sends with MSG_ZEROCOPY where the kernel can: the kernel then
 * needs no new memory for what is sent (see socklink.c).  NAME is for
 * messages.  Returns NULL after reporting (FD is closed).
 */
extern struct link *socket_link (int fd, const char *name);

#endif /* DRAM_LINK_H */
