/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* dram_error and dram_debug for the unit tests: a test checks the
 * message its bad input produced.
 */

#include <config.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "report.h"
#include "report-capture.h"

char last_error[1024];

void
clear_error (void)
{
  last_error[0] = '\0';
}

void
dram_error (const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (last_error, sizeof last_error, fmt, ap);
  va_end (ap);
  if (getenv ("DRAM_TEST_VERBOSE"))
    fprintf (stderr, "error: %s\n", last_error);
}

void
dram_report_to_syslog (const char *ident)
{
}

void
dram_debug (const char *fmt, ...)
{
  va_list ap;

  if (getenv ("DRAM_TEST_VERBOSE") == NULL)
    return;
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  fputc ('\n', stderr);
  va_end (ap);
}
