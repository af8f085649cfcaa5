/* dram — SPDX-License-Identifier: BSD-3-Clause */
#ifndef DRAM_ENGINE_H
#define DRAM_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include <libnbd.h>

struct engine_conn;

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

/* Starts the thread that drives H (which it owns from now on).
 * SOURCE may be NULL.  Returns NULL after reporting.
 */
extern struct engine_conn *engine_start (struct nbd_handle *h,
                                         const struct engine_source *source);

/* From any thread: sends REQ to the donor now, without waiting for the
 * reply.  REQ (and its buffer) must stay valid until its done ()
 * callback, which may run before this returns.  No allocation.
 */
extern void engine_issue (struct engine_conn *c, struct engine_req *req);

/* Asks the loop to finish once nothing is in flight, joins it, and
 * frees the connection (closing the handle).
 */
extern void engine_stop (struct engine_conn *c);

/* The same, for a loop that ends by itself (its source or the donor
 * went).
 */
extern void engine_wait (struct engine_conn *c);

#endif /* DRAM_ENGINE_H */
