/* dram — SPDX-License-Identifier: BSD-3-Clause */
#ifndef DRAM_REPORT_CAPTURE_H
#define DRAM_REPORT_CAPTURE_H

/* The unit tests' dram_error keeps the last message here. */
extern char last_error[1024];

/* Forgets the last message. */
extern void clear_error (void);

#endif /* DRAM_REPORT_CAPTURE_H */
