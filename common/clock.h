/* dram — SPDX-License-Identifier: BSD-3-Clause */
#ifndef DRAM_CLOCK_H
#define DRAM_CLOCK_H

#include <stdint.h>

/* Milliseconds of CLOCK_MONOTONIC: for deadlines and back-off. */
extern int64_t monotonic_ms (void);

#endif /* DRAM_CLOCK_H */
