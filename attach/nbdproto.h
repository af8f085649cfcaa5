/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* The NBD transmission phase as the kernel speaks it: simple requests
 * and simple replies (https://github.com/NetworkBlockDevice/nbd,
 * doc/proto.md).  Our own definitions, because <linux/nbd.h> renamed
 * fields between kernel versions.
 */
#ifndef DRAM_NBDPROTO_H
#define DRAM_NBDPROTO_H

#include <errno.h>
#include <stdint.h>

#define NBD_REQUEST_MAGIC 0x25609513
#define NBD_SIMPLE_REPLY_MAGIC 0x67446698

#define NBD_CMD_READ 0
#define NBD_CMD_WRITE 1
#define NBD_CMD_DISC 2
#define NBD_CMD_FLUSH 3
#define NBD_CMD_TRIM 4
#define NBD_CMD_WRITE_ZEROES 6

#define NBD_CMD_FLAG_FUA (1 << 0)

/* Big-endian on the wire. */
struct nbd_request {
  uint32_t magic;
  uint32_t type;                /* flags << 16 | command */
  char handle[8];
  uint64_t from;
  uint32_t len;
} __attribute__ ((packed));

struct nbd_simple_reply {
  uint32_t magic;
  uint32_t error;
  char handle[8];
} __attribute__ ((packed));

/* The errors NBD can carry; anything else travels as EIO. */
static inline uint32_t
nbd_errno_to_wire (int err)
{
  switch (err) {
  case 0: return 0;
  case EPERM: return 1;
  case EIO: return 5;
  case ENOMEM: return 12;
  case EINVAL: return 22;
  case ENOSPC: return 28;
  case EOVERFLOW: return 75;
  case ENOTSUP: return 95;
  case ESHUTDOWN: return 108;
  default: return 5;
  }
}

/* The other way: a reply's error (0 for none); what NBD has no word
 * for is EIO.
 */
static inline int
nbd_errno_from_wire (uint32_t err)
{
  switch (err) {
  case 0: return 0;
  case 1: return EPERM;
  case 5: return EIO;
  case 12: return ENOMEM;
  case 22: return EINVAL;
  case 28: return ENOSPC;
  case 75: return EOVERFLOW;
  case 95: return ENOTSUP;
  case 108: return ESHUTDOWN;
  default: return EIO;
  }
}

#endif /* DRAM_NBDPROTO_H */
