/* dram — SPDX-License-Identifier: BSD-3-Clause */
#ifndef DRAM_PARSE_H
#define DRAM_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Parse a size such as "1G", "512M", "4096" or "4k" (suffixes are
 * powers of 1024, as nbdkit's sizes).  WHAT names the value in the
 * error message.  Returns 0, or -1 after reporting.
 */
extern int parse_size (const char *what, const char *str, uint64_t *ret);

/* Parse a non-negative decimal integer in [MIN, MAX]. */
extern int parse_uint (const char *what, const char *str,
                       uint64_t min, uint64_t max, uint64_t *ret);

/* Parse true/false, yes/no, on/off, 1/0 (any case). */
extern int parse_bool (const char *what, const char *str, bool *ret);

/* A duration: digits with an optional unit s, m, h or d (seconds when
 * none), as milliseconds.  "0" is allowed.
 */
extern int parse_duration (const char *what, const char *str,
                           uint64_t *ms);

/* The index of STR in NAMES[0..N), or -1 (the caller says what the
 * choices are).
 */
extern int choice_index (const char *const *names, size_t n, const char *str);

#endif /* DRAM_PARSE_H */
