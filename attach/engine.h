/* dram — SPDX-License-Identifier: BSD-3-Clause */
#ifndef DRAM_ENGINE_H
#define DRAM_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "health.h"

struct engine_conn;
struct link;

/* A request carried to the donor by a connection's event loop. */
struct engine_req {
  uint16_t type;                /* NBD_CMD_READ, _WRITE, _FLUSH, _TRIM */
  bool fua;
  uint32_t len;
  uint64_t offset;
  void *buf;                    /* READ: filled; WRITE: sent */
  int error;                    /* 0 or an errno, set before done () */
  /* Called once on the connection's thread when the request ends. */
  void (*done) (struct engine_req *req);
  void *opaque;
  /* The engine's. */
  struct engine_conn *conn;
  struct engine_req *next;      /* while waiting for a reconnect */
};

/* How a connection that dies comes back.  CONNECT makes a new link
 * (link.h) to the same region within TIMEOUT_MS, or returns NULL with WHY
 * filled, setting *LOST when the donor's region is not the one written
 * (trying again is pointless).  Requests in flight when the connection
 * died, and new ones, wait and are sent again on the new connection,
 * for at most GIVE_UP seconds; after that, or when the region is lost,
 * they fail with EIO, and so does every later request.  NOW is the
 * clock of the deadline and the pauses (NULL: monotonic_ms).
 */
struct engine_reconnect {
  struct link *(*connect) (void *opaque, int timeout_ms, bool *lost,
                           char *why, size_t len);
  void *opaque;
  unsigned give_up;             /* seconds */
  struct health *health;        /* may be NULL */
  int64_t (*now) (void);
};

/* Something else the loop polls besides the donor: the TLS proxy's
 * kernel socket.  READABLE runs on the loop's thread when FD can be
 * read and WANT says to poll it; it returns -1 to end the loop.
 */
struct engine_source {
  int fd;
  bool (*want) (void *opaque);
  int (*readable) (void *opaque);
  void *opaque;
};

/* Starts the thread that drives the link L (which it owns from now
 * on; on failure too).
 * SOURCE and RECONNECT may be NULL (without RECONNECT a lost
 * connection fails its requests with ENOTCONN).  Returns NULL after
 * reporting.
 */
extern struct engine_conn *engine_start (struct link *l,
                                         const struct engine_source *source,
                                         const struct engine_reconnect *rc);

/* From any thread: sends REQ to the donor now, without waiting for the
 * reply.  REQ (and its buffer) must stay valid until its done ()
 * callback, which may run before this returns.  No allocation.
 */
extern void engine_issue (struct engine_conn *c, struct engine_req *req);

/* Asks the loop to finish once nothing is in flight, joins it, and
 * frees the connection (closing the link).
 */
extern void engine_stop (struct engine_conn *c);

/* The same, for a loop that ends by itself (its source or the donor
 * went).
 */
extern void engine_wait (struct engine_conn *c);

#endif /* DRAM_ENGINE_H */
