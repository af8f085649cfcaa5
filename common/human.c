/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* Sizes for people. */

#include <config.h>

#include <stdio.h>

#include "human.h"

void
format_size (uint64_t bytes, char *buf, size_t len)
{
  static const char units[] = "KMGTPE";
  unsigned u = 0;
  uint64_t div = 1024;

  if (bytes < 1024) {
    snprintf (buf, len, "%llu", (unsigned long long) bytes);
    return;
  }
  while (u + 1 < sizeof units - 1 && bytes >= div * 1024) {
    div *= 1024;
    u++;
  }
  if (bytes % div == 0)
    snprintf (buf, len, "%llu%c", (unsigned long long) (bytes / div),
              units[u]);
  else
    snprintf (buf, len, "%.1f%c", (double) bytes / div, units[u]);
}
