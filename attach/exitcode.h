/* dram — SPDX-License-Identifier: BSD-3-Clause */
#ifndef DRAM_EXITCODE_H
#define DRAM_EXITCODE_H

/* dram-attach's exit statuses. */
#define EXIT_USAGE 1            /* bad usage: nothing was done */
#define EXIT_REFUSED 2          /* the donor or the kernel refused */

#endif /* DRAM_EXITCODE_H */
