/* dram — SPDX-License-Identifier: BSD-3-Clause */
#ifndef DRAM_PORT_H
#define DRAM_PORT_H

#include <stddef.h>

/* The port of an address (an NBD donor's, an NFS server's): LEN bytes
 * at STR, a number from 1 to 65535, into *PORT.  Returns -1 after
 * reporting, quoting WHOLE, the address as written.
 */
extern int port_parse (const char *whole, const char *str, size_t len,
                       unsigned *port);

#endif /* DRAM_PORT_H */
