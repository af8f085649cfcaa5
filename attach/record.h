/* dram — SPDX-License-Identifier: BSD-3-Clause */
#ifndef DRAM_RECORD_H
#define DRAM_RECORD_H

#include "donor.h"
#include "options.h"
#include "state.h"

/* The record's fields that every front-end fills the same way. */
extern void fill_state (struct attach_state *st, const char *mode,
                        const struct options *o, const struct donor *d);

/* "DEVICE: SIZE of swap lent by DONOR over N connections (...)". */
extern void print_attached (const struct attach_state *st);

/* How the record's tls field reads, followed by SEP; "" without TLS. */
extern const char *state_tls_name (const char *tls, const char *sep);

#endif /* DRAM_RECORD_H */
