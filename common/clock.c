/* dram — SPDX-License-Identifier: BSD-3-Clause */

#include <config.h>

#include <time.h>

#include "clock.h"

int64_t
monotonic_ms (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * INT64_C (1000) + ts.tv_nsec / 1000000;
}
