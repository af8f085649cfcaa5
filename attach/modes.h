/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* Between attach.c, which does what every front-end does, and the
 * front-ends (nbdmode.c, fusemode.c, nfsmode.c).
 */
#ifndef DRAM_MODES_H
#define DRAM_MODES_H

#include <sys/types.h>

#include "donor.h"
#include "options.h"
#include "state.h"

#define CONNECT_WAIT 10         /* seconds for a device to come up */

/* attach.c */
extern void stop_helper (pid_t pid);
/* Waits for the helper PID (WHAT, for messages) to write a byte to FD,
 * saying it serves, or to die.  Returns 0, or -1 after reporting.
 */
extern int wait_helper_ready (int fd, pid_t pid, const char *what);
/* donor_connect, refusing a read-only export when swap is wanted. */
extern int connect_donor (const struct options *o, struct donor *d);
extern int make_swap (const struct options *o, struct attach_state *st);
extern void print_attached (const struct attach_state *st);
/* The record's fields that every front-end fills the same way. */
extern void fill_state (struct attach_state *st, const char *mode,
                        const struct options *o, const struct donor *d);

/* Each front-end: attach returns dram-attach's exit status; detach
 * undoes all but the swap (already off) and the record, returning 0 or
 * -1 after reporting.
 */
extern int attach_nbd (const struct options *o);
extern int detach_nbd (const struct attach_state *st);
extern const char *nbdmode_state (const struct attach_state *st);

extern int attach_fuse (const struct options *o);
extern int detach_fuse (const struct attach_state *st);
extern const char *fusemode_state (const struct attach_state *st);

extern int attach_nfs (const struct options *o);
extern int detach_nfs (const struct attach_state *st);
extern const char *nfsmode_state (const struct attach_state *st);

#endif /* DRAM_MODES_H */
