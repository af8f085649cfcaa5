/* dram — SPDX-License-Identifier: BSD-3-Clause */
#ifndef DRAM_IDENTITY_H
#define DRAM_IDENTITY_H

#include <stddef.h>

/* A region's identity: 128 random bits, made when the region is made
 * (its RAM is new), as 32 lower-case hex digits.  The donor publishes
 * it as the export description, "dram region ID"; a recipient that
 * reconnects uses a donor only while it shows the same identity, so
 * that data lost with a donor's RAM is never read back as zeros.
 */
#define IDENTITY_LEN 32

/* Fills ID (IDENTITY_LEN + 1 bytes).  Returns -1 after reporting. */
extern int identity_new (char *id);

/* Whether ID is IDENTITY_LEN lower-case hex digits and nothing else. */
extern int identity_valid (const char *id);

/* "dram region ID", for the export description. */
extern void identity_describe (const char *id, char *buf, size_t len);

/* The identity in an export description, copied to ID.  Returns 0, or
 * -1 when DESCRIPTION is not a dram region's (another plugin).
 */
extern int identity_from_description (const char *description, char *id);

#endif /* DRAM_IDENTITY_H */
