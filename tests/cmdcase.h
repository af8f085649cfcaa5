/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* Table-driven cases for dram-attach's command line (test-options,
 * test-nfs).
 */
#ifndef DRAM_CMDCASE_H
#define DRAM_CMDCASE_H

#include "options.h"

struct cmd {
  const char *argv[10];         /* after "dram-attach" */
  const char *msg;              /* NULL: accepted */
};

/* Parses C's command line into O and checks the verdict: refused with
 * a message containing C->msg, or accepted (then O is the caller's to
 * free).  I names the case in failures.  Returns whether it was
 * accepted.
 */
extern bool check_cmd (const struct cmd *c, int i, struct options *o);

#endif /* DRAM_CMDCASE_H */
