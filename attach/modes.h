/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* The front-ends (nbdmode.c, fusemode.c, nfsmode.c), which attach.c
 * runs, and the shared pieces they use (which know no front-end).
 */
#ifndef DRAM_MODES_H
#define DRAM_MODES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "donor.h"
#include "exitcode.h"
#include "helper.h"
#include "makeswap.h"
#include "options.h"
#include "record.h"
#include "state.h"

/* A front-end, as attach.c runs it: it never calls back into
 * attach.c.  Every operation but ATTACH, DETACH and STATE may be NULL.
 */
struct attach_mode {
  const char *name;             /* --mode=NAME, and the record's mode */
  enum mode mode;
  bool automatic;               /* one that --mode=auto may pick */
  bool region;                  /* a region of its own on an NBD donor */
  /* Whether it can run on this machine; when not, says why (ASKED:
   * --mode=NAME; otherwise --mode=auto goes on to the next).
   */
  bool (*available) (bool asked);
  /* Returns dram-attach's exit status. */
  int (*attach) (const struct options *o);
  /* Before swapoff: stops what would reconnect the device. */
  void (*quiesce) (const struct attach_state *st);
  /* Gives the whole region back to the donor: TRIM_FILE names what
   * to open, TRIM gives SIZE bytes of it back (-1 with errno).
   */
  void (*trim_file) (const struct attach_state *st, char *buf, size_t len);
  int (*trim) (int fd, uint64_t size);
  /* Undoes all but the swap (already off) and the record, returning 0
   * or -1 after reporting.
   */
  int (*detach) (const struct attach_state *st);
  /* The connection as the front-end sees it, for --status. */
  const char *(*state) (const struct attach_state *st);
  /* Whether WHAT, given to --detach, names ST's attach. */
  bool (*known_as) (const struct attach_state *st, const char *what);
};

/* The front-ends: nbdmode.c, fusemode.c, nfsmode.c. */
extern const struct attach_mode nbd_mode, fuse_mode, nfs_mode;

#endif /* DRAM_MODES_H */
