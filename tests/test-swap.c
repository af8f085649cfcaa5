/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests: the swap header is the one mkswap(8) writes, and the
 * standard tools read ours; swapon flags; /proc/swaps parsing.
 */

#include <config.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/swap.h>

#include <check.h>

#include "unit.h"
#include "swap.h"

static const uint8_t uuid[SWAP_UUID_LEN] = {
  0x3b, 0x4f, 0x0a, 0x4e, 0x12, 0x34, 0x45, 0x67,
  0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67,
};
#define UUID_TEXT "3b4f0a4e-1234-4567-89ab-cdef01234567"

static const struct {
  uint64_t size;
  const char *label;
} sizes[] = {
  { 40960, NULL },
  { 1 << 20, "dram" },
  { (64 << 20) + 4096, "0123456789abcde" },
  { (UINT64_C (1) << 30) + 12345, "x" },
};

/* Runs a shell command; fails the test if it fails. */
static void
run (const char *cmd)
{
  int r = system (cmd);

  ck_assert_msg (r == 0, "'%s' exited with %d", cmd, r);
}

static char *
read_file (const char *path, size_t len)
{
  char *buf = calloc (1, len);
  int fd = open (path, O_RDONLY);

  ck_assert_int_ge (fd, 0);
  ck_assert_int_eq (pread (fd, buf, len, 0), (ssize_t) len);
  close (fd);
  return buf;
}

START_TEST (same_as_mkswap)
{
  long ps = sysconf (_SC_PAGESIZE);
  char ours[] = "/tmp/dram-swap-ours.XXXXXX";
  char theirs[] = "/tmp/dram-swap-theirs.XXXXXX";
  char cmd[512], out[128];
  char *a, *b;
  int fd_ours = mkstemp (ours), fd_theirs = mkstemp (theirs);
  FILE *fp;

  ck_assert_int_eq (ftruncate (fd_ours, sizes[_i].size), 0);
  ck_assert_int_eq (ftruncate (fd_theirs, sizes[_i].size), 0);
  ck_assert_int_eq (swap_header_write (fd_ours, ours, sizes[_i].size, uuid,
                                       sizes[_i].label), 0);
  snprintf (cmd, sizeof cmd, "mkswap -q -U %s %s%s %s", UUID_TEXT,
            sizes[_i].label ? "-L " : "",
            sizes[_i].label ? sizes[_i].label : "", theirs);
  run (cmd);

  a = read_file (ours, ps);
  b = read_file (theirs, ps);
  ck_assert_mem_eq (a, b, ps);
  free (a);
  free (b);
  /* Nothing after the first page was touched. */
  ck_assert_int_eq (lseek (fd_ours, ps, SEEK_DATA) == -1, 1);

  /* blkid and swaplabel read what we wrote. */
  snprintf (cmd, sizeof cmd, "blkid -p -o value -s TYPE %s", ours);
  fp = popen (cmd, "r");
  ck_assert_ptr_nonnull (fgets (out, sizeof out, fp));
  pclose (fp);
  ck_assert_str_eq (out, "swap\n");
  snprintf (cmd, sizeof cmd, "swaplabel %s", ours);
  fp = popen (cmd, "r");
  {
    char all[512] = "";
    size_t n = fread (all, 1, sizeof all - 1, fp);
    all[n] = '\0';
    pclose (fp);
    ck_assert_ptr_nonnull (strstr (all, "UUID:  " UUID_TEXT));
    if (sizes[_i].label) {
      snprintf (out, sizeof out, "LABEL: %s\n", sizes[_i].label);
      ck_assert_ptr_nonnull (strstr (all, out));
    }
  }
  close (fd_ours);
  close (fd_theirs);
  unlink (ours);
  unlink (theirs);
}
END_TEST

START_TEST (too_small)
{
  unsigned char page[4096];

  clear_error ();
  ck_assert_int_eq (swap_header_build (page, 4096, 9 * 4096, uuid, NULL), -1);
  ck_assert_ptr_nonnull (strstr (last_error, "36864 bytes is too small for "
                                 "swap (at least 10 pages"));
  ck_assert_int_eq (swap_header_build (page, 4096, 10 * 4096, uuid, NULL), 0);
  ck_assert_int_eq (page[1028], 9);     /* last page */
  ck_assert_int_eq (memcmp (page + 4086, "SWAPSPACE2", 10), 0);
}
END_TEST

START_TEST (uuids)
{
  uint8_t a[16], b[16];
  char text[40];

  ck_assert_int_eq (uuid_generate_v4 (a), 0);
  ck_assert_int_eq (uuid_generate_v4 (b), 0);
  ck_assert_int_ne (memcmp (a, b, 16), 0);
  ck_assert_int_eq (a[6] >> 4, 4);
  ck_assert_int_eq (a[8] >> 6, 2);
  uuid_format (uuid, text);
  ck_assert_str_eq (text, UUID_TEXT);
}
END_TEST

START_TEST (flags)
{
  ck_assert_int_eq (swap_flags (-1, false), 0);
  ck_assert_int_eq (swap_flags (-1, true), SWAP_FLAG_DISCARD);
  ck_assert_int_eq (swap_flags (0, false), SWAP_FLAG_PREFER);
  ck_assert_int_eq (swap_flags (5, true),
                    SWAP_FLAG_PREFER | 5 | SWAP_FLAG_DISCARD);
  ck_assert_int_eq (swap_flags (32767, false), SWAP_FLAG_PREFER | 32767);
}
END_TEST

START_TEST (proc_swaps)
{
  char path[] = "/tmp/dram-swaps.XXXXXX";
  int fd = mkstemp (path);
  FILE *fp = fdopen (fd, "w");
  uint64_t used = 0;
  int prio = 0;

  fputs ("Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
         "/dev/zram0                              partition\t4194300\t\t0\t\t100\n"
         "/dev/nbd0                               partition\t524284\t\t1024\t\t-2\n"
         "/dev/nbd10                              partition\t524284\t\t7\t\t5\n",
         fp);
  fclose (fp);
  ck_assert (swap_active (path, "/dev/nbd0", &used, &prio));
  ck_assert_uint_eq (used, 1024);
  ck_assert_int_eq (prio, -2);
  ck_assert (swap_active (path, "/dev/nbd10", &used, &prio));
  ck_assert_uint_eq (used, 7);
  ck_assert_int_eq (prio, 5);
  ck_assert (!swap_active (path, "/dev/nbd1", NULL, NULL));
  ck_assert (!swap_active (path, "/dev/nbd", NULL, NULL));
  unlink (path);
  ck_assert (!swap_active (path, "/dev/nbd0", NULL, NULL));
}
END_TEST

#define N(a) ((int) (sizeof a / sizeof a[0]))

int
main (void)
{
  TCase *tc = tcase_create ("swap");

  tcase_add_loop_test (tc, same_as_mkswap, 0, N (sizes));
  tcase_add_test (tc, too_small);
  tcase_add_test (tc, uuids);
  tcase_add_test (tc, flags);
  tcase_add_test (tc, proc_swaps);
  return run_tcase ("swap", tc);
}
