/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* What every unit test shares: a dram_error that keeps the last message
 * for the test to check, and running a Check suite.
 */
#ifndef DRAM_UNIT_H
#define DRAM_UNIT_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>

/* The unit tests' dram_error keeps the last message here. */
extern char last_error[1024];

/* Forgets the last message. */
extern void clear_error (void);

/* Fills BUF with a pattern of SEED that has no zero byte. */
extern void fill_pattern (unsigned char *buf, size_t n, unsigned seed);

/* Whether the N bytes at BUF are all zero. */
extern bool all_zero (const unsigned char *buf, size_t n);

/* Runs TC as the suite NAME; returns the exit status. */
extern int run_tcase (const char *name, TCase *tc);

#endif /* DRAM_UNIT_H */
