/* dram — SPDX-License-Identifier: BSD-3-Clause */
#ifndef DRAM_ATTACH_H
#define DRAM_ATTACH_H

#include <stdbool.h>

#include "exitcode.h"
#include "options.h"

/* Each returns the exit status. */
extern int attach_run (struct options *opts);
extern int detach_run (const char *what);
extern int status_run (bool json);

#endif /* DRAM_ATTACH_H */
