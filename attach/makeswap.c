/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* Making the donor's region swap, whatever the front-end: a donor
 * that can be swap, a region that holds nothing else, then the header
 * and swapon (swap.c).
 */

#include <config.h>

#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

#include "makeswap.h"
#include "probe.h"
#include "report.h"
#include "swap.h"

int
connect_donor (const struct options *o, struct donor *d)
{
  if (donor_connect (o, d) == -1)
    return -1;
  if (o->swap && d->read_only) {
    dram_error ("donor %s serves a read-only export, which cannot be swap",
                d->name);
    donor_close (d);
    return -1;
  }
  return 0;
}

/* Refuses to write over what the region already holds (another
 * recipient's swap under the same export name, say) unless --force.
 */
static int
check_region_unused (const struct options *o, const struct attach_state *st)
{
  char what[200];
  int r = probe_contents (st->device, what, sizeof what);

  if (r <= 0)
    return r;
  if (o->force) {
    dram_error ("warning: %s: region '%s' of donor %s held %s: "
                "overwritten (--force)", st->device, st->export_name,
                st->donor, what);
    return 0;
  }
  dram_error ("%s: region '%s' of donor %s already holds %s: another "
              "recipient's? choose another export or --force", st->device,
              st->export_name, st->donor, what);
  return -1;
}

int
make_swap (const struct options *o, struct attach_state *st)
{
  uint8_t uuid[SWAP_UUID_LEN];
  int fd, r;

  if (check_region_unused (o, st) == -1)
    return -1;
  if (uuid_generate_v4 (uuid) == -1)
    return -1;
  uuid_format (uuid, st->uuid);
  /* O_EXCL: nobody else may have it open (mounted, swap, another tool). */
  fd = open (st->device, O_RDWR | O_EXCL | O_CLOEXEC);
  if (fd == -1) {
    dram_error ("%s: %m", st->device);
    return -1;
  }
  r = swap_header_write (fd, st->device, st->size, uuid, o->label);
  close (fd);
  if (r == -1)
    return -1;
  return swap_on (st->device, o->priority, o->discard);
}
