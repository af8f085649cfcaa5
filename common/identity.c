/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* Region identities (see identity.h). */

#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "identity.h"
#include "report.h"

#define PREFIX "dram region "

int
identity_new (char *id)
{
  unsigned char bits[IDENTITY_LEN / 2];
  size_t got = 0;
  ssize_t r;
  unsigned i;

  while (got < sizeof bits) {
    r = getrandom (bits + got, sizeof bits - got, 0);
    if (r == -1 && errno == EINTR)
      continue;
    if (r == -1) {
      dram_error ("getrandom: %m");
      return -1;
    }
    got += r;
  }
  for (i = 0; i < sizeof bits; i++)
    snprintf (id + 2 * i, 3, "%02x", bits[i]);
  return 0;
}

int
identity_valid (const char *id)
{
  size_t i;

  for (i = 0; i < IDENTITY_LEN; i++)
    if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
      return 0;
  return id[IDENTITY_LEN] == '\0';
}

void
identity_describe (const char *id, char *buf, size_t len)
{
  snprintf (buf, len, PREFIX "%s", id);
}

int
identity_from_description (const char *description, char *id)
{
  size_t n = strlen (PREFIX);

  if (description == NULL || strncmp (description, PREFIX, n) != 0 ||
      !identity_valid (description + n))
    return -1;
  memcpy (id, description + n, IDENTITY_LEN + 1);
  return 0;
}
