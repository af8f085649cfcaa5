/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* The record of an attach (state.h) as every front-end fills it, and
 * the line that says what was attached.
 */

#include <config.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "human.h"
#include "record.h"

/* How the record's tls field reads, followed by SEP; "" without TLS. */
const char *
state_tls_name (const char *tls, const char *sep)
{
  static char buf[64];

  if (tls[0] == '\0')
    return "";
  snprintf (buf, sizeof buf, "%s%s",
            strcmp (tls, "kernel") == 0 ? "kernel TLS"
            : strcmp (tls, "proxy") == 0 ? "TLS proxy" : "userspace TLS", sep);
  return buf;
}

void
print_attached (const struct attach_state *st)
{
  char size[32];

  format_size (st->size, size, sizeof size);
  printf ("%s: %s %s lent by %s over %u connection%s (%s%s%s)\n",
          st->device, size, st->swap ? "of swap" : "device", st->donor,
          st->connections, st->connections == 1 ? "" : "s",
          state_tls_name (st->tls, ", "),
          st->handover,
          st->discard ? ", discard" : "");
  fflush (stdout);
}

void
fill_state (struct attach_state *st, const char *mode,
            const struct options *o, const struct donor *d)
{
  snprintf (st->mode, sizeof st->mode, "%s", mode);
  snprintf (st->donor, sizeof st->donor, "%s", d->name);
  snprintf (st->export_name, sizeof st->export_name, "%s",
            o->export_name ? o->export_name : "");
  st->size = d->size;
  st->connections = d->nr;
  st->swap = o->swap;
  st->priority = o->priority;
  st->discard = o->discard;
  snprintf (st->label, sizeof st->label, "%s", o->label ? o->label : "");
  st->attached_at = time (NULL);
  st->have_capacity = d->have_capacity;
  st->donor_size = d->capacity.size;
  st->donor_region = d->capacity.region;
  st->donor_free = d->capacity.free_bytes;
  st->donor_regions = d->capacity.regions;
}
