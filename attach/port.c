/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* The port of a donor's or an NFS server's address, checked. */

#include <config.h>

#include <stdint.h>
#include <string.h>

#include "parse.h"
#include "port.h"
#include "report.h"

int
port_parse (const char *whole, const char *str, size_t len, unsigned *port)
{
  char buf[16];
  uint64_t v;

  if (len == 0 || len >= sizeof buf) {
    dram_error ("'%s': the port must be a number from 1 to 65535", whole);
    return -1;
  }
  memcpy (buf, str, len);
  buf[len] = '\0';
  if (parse_uint ("port", buf, 1, 65535, &v) == -1) {
    dram_error ("'%s': the port must be a number from 1 to 65535", whole);
    return -1;
  }
  *port = v;
  return 0;
}
