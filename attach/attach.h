/* dram — SPDX-License-Identifier: BSD-3-Clause */
#ifndef DRAM_ATTACH_H
#define DRAM_ATTACH_H

#include <stdbool.h>

#include "options.h"

/* dram-attach's exit statuses. */
#define EXIT_USAGE 1            /* bad usage: nothing was done */
#define EXIT_REFUSED 2          /* the donor or the kernel refused */

/* Each returns the exit status. */
extern int attach_run (struct options *opts);
extern int detach_run (const char *what);
extern int status_run (bool json);

#endif /* DRAM_ATTACH_H */
