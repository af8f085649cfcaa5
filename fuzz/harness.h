/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* What every fuzzing harness shares.  A harness is built twice: with
 * clang and libFuzzer for `make fuzz`, and with the project's compiler
 * and driver.c for the regression test that `make check` runs.
 */
#ifndef DRAM_HARNESS_H
#define DRAM_HARNESS_H

#include <stddef.h>
#include <stdint.h>

/* libFuzzer's entry point; each harness defines it. */
extern int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* A finding: prints it and aborts, which libFuzzer and the driver both
 * report as a crash.
 */
extern void fuzz_fail (const char *fmt, ...)
  __attribute__ ((noreturn, format (printf, 1, 2)));

/* Prints what the harness does, with FUZZ_VERBOSE=1 (as dram_error's
 * and dram_debug's messages are then).
 */
extern void fuzz_trace (const char *fmt, ...)
  __attribute__ ((format (printf, 1, 2)));

/* Splits DATA into strings at every '\n' and '\0' (a last empty piece
 * after a final separator is dropped).  Returns a NULL-terminated
 * array of *N strings in one allocation, for free (); aborts when out
 * of memory.
 */
extern char **fuzz_split (const uint8_t *data, size_t size, size_t *n);

/* Reads the input a few bytes at a time; past its end, zeros. */
struct fuzz_input {
  const uint8_t *data;
  size_t size;
  size_t pos;
};

extern uint8_t take_u8 (struct fuzz_input *in);
extern uint32_t take_u32 (struct fuzz_input *in);
extern uint64_t take_u64 (struct fuzz_input *in);
extern size_t input_left (const struct fuzz_input *in);

#endif /* DRAM_HARNESS_H */
