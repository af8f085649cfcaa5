/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* The harnesses' dram_error and dram_debug (silent: bad input is what
 * they are fed, so every message is expected), the finding that
 * aborts, and turning the input into strings and numbers.
 */

#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "report.h"

/* The message is still formatted, so that a bad argument to it (a
 * freed string, a wrong type) is found; FUZZ_VERBOSE=1 prints it.
 */
static void __attribute__ ((format (printf, 2, 0)))
quiet (const char *prefix, const char *fmt, va_list ap)
{
  static int verbose = -1;
  char msg[1024];
  int saved_errno = errno;

  vsnprintf (msg, sizeof msg, fmt, ap);
  if (verbose == -1)
    verbose = getenv ("FUZZ_VERBOSE") != NULL;
  if (verbose)
    fprintf (stderr, "%s%s\n", prefix, msg);
  errno = saved_errno;
}

void
dram_error (const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  quiet ("error: ", fmt, ap);
  va_end (ap);
}

void
dram_debug (const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  quiet ("debug: ", fmt, ap);
  va_end (ap);
}

void
fuzz_trace (const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  quiet ("", fmt, ap);
  va_end (ap);
}

void
dram_report_in_background (const char *ident, int fd)
{
}

void
dram_report_flush (void)
{
}

void
fuzz_fail (const char *fmt, ...)
{
  va_list ap;

  fprintf (stderr, "FINDING: ");
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  fputc ('\n', stderr);
  abort ();
}

char **
fuzz_split (const uint8_t *data, size_t size, size_t *n)
{
  size_t i, count = 0;
  char **v, *text;

  for (i = 0; i < size; i++)
    if (data[i] == '\n' || data[i] == '\0')
      count++;
  if (size > 0 && data[size - 1] != '\n' && data[size - 1] != '\0')
    count++;

  v = malloc ((count + 1) * sizeof *v + size + 1);
  if (v == NULL)
    abort ();
  text = (char *) (v + count + 1);
  if (size > 0)
    memcpy (text, data, size);
  text[size] = '\0';

  *n = 0;
  for (i = 0; i < size; i++) {
    if (i == 0 || text[i - 1] == '\0')
      v[(*n)++] = &text[i];
    if (text[i] == '\n')
      text[i] = '\0';
  }
  v[*n] = NULL;
  return v;
}

uint8_t
take_u8 (struct fuzz_input *in)
{
  return in->pos < in->size ? in->data[in->pos++] : 0;
}

uint32_t
take_u32 (struct fuzz_input *in)
{
  uint32_t v = 0;
  int i;

  for (i = 0; i < 4; i++)
    v = v << 8 | take_u8 (in);
  return v;
}

uint64_t
take_u64 (struct fuzz_input *in)
{
  uint64_t v = take_u32 (in);

  return v << 32 | take_u32 (in);
}

size_t
input_left (const struct fuzz_input *in)
{
  return in->size - in->pos;
}
