/* dram — SPDX-License-Identifier: BSD-3-Clause */
#ifndef DRAM_MAKESWAP_H
#define DRAM_MAKESWAP_H

#include "donor.h"
#include "options.h"
#include "state.h"

/* donor_connect, refusing a read-only export when swap is wanted. */
extern int connect_donor (const struct options *o, struct donor *d);

/* Makes ST's device swap, after checking that the region holds no
 * swap or filesystem (unless --force).  Returns 0, or -1 after
 * reporting.
 */
extern int make_swap (const struct options *o, struct attach_state *st);

#endif /* DRAM_MAKESWAP_H */
