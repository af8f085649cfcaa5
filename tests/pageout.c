/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* pageout FILE...: pushes each file's pages out of memory, to swap for
 * a file on tmpfs, and waits until none is left resident (mincore), so
 * that a test can make sure the next read of it needs a swap-in.
 * Exit 0 when every page is out, 1 when some stayed, 2 on errors.
 *
 * MADV_PAGEOUT (Linux 5.4) on a shared mapping writes a tmpfs page to
 * swap and unmaps it.  The written page stays in the swap cache until
 * reclaim frees it, which needs memory pressure on the page's memory
 * cgroup: run this while a workload swaps, with the file charged to
 * that workload's cgroup (written from inside it).  Touching the page
 * again would bring it back from the swap cache, so it is only waited
 * for.
 */

#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

#define TRIES 600               /* 60 s in all */

/* Pages of P (LEN bytes, NR pages) still in memory; -1 on error. */
static long
resident (void *p, size_t len, size_t nr, unsigned char *vec)
{
  long n = 0;
  size_t i;

  if (mincore (p, len, vec) == -1) {
    perror ("pageout: mincore");
    return -1;
  }
  for (i = 0; i < nr; i++)
    n += vec[i] & 1;
  return n;
}

static int
page_out (const char *path)
{
  long page = sysconf (_SC_PAGESIZE), left = -1;
  struct timespec pause = { 0, 100 * 1000 * 1000 };
  unsigned char *vec = NULL;
  volatile unsigned char sum = 0;
  struct stat st;
  size_t nr, i;
  void *p;
  int fd, t, r = 2;

  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd == -1 || fstat (fd, &st) == -1) {
    fprintf (stderr, "pageout: %s: %s\n", path, strerror (errno));
    goto out;
  }
  if (st.st_size == 0) {
    fprintf (stderr, "pageout: %s is empty\n", path);
    goto out;
  }
  nr = (st.st_size + page - 1) / page;
  vec = malloc (nr);
  p = mmap (NULL, st.st_size, PROT_READ, MAP_SHARED, fd, 0);
  if (vec == NULL || p == MAP_FAILED) {
    fprintf (stderr, "pageout: %s: %s\n", path, strerror (errno));
    goto out;
  }
  left = resident (p, st.st_size, nr, vec);
  if (left > 0) {
    /* Map what is there (no I/O: it is in memory), then out. */
    for (i = 0; i < nr; i++)
      if (vec[i] & 1)
        sum += ((unsigned char *) p)[i * page];
    if (madvise (p, st.st_size, MADV_PAGEOUT) == -1) {
      fprintf (stderr, "pageout: %s: madvise MADV_PAGEOUT: %s\n", path,
               strerror (errno));
      left = -1;
    }
  }
  for (t = 0; t < TRIES && left > 0; t++) {
    nanosleep (&pause, NULL);
    left = resident (p, st.st_size, nr, vec);
  }
  munmap (p, st.st_size);
  if (left == 0) {
    printf ("pageout: %s: %zu page(s) out of memory\n", path, nr);
    r = 0;
  }
  else if (left > 0) {
    fprintf (stderr, "pageout: %s: %ld of %zu page(s) still in memory "
             "after %d s (no swap, or no memory pressure?)\n", path, left, nr,
             TRIES / 10);
    r = 1;
  }
 out:
  free (vec);
  if (fd >= 0)
    close (fd);
  return r;
}

int
main (int argc, char *argv[])
{
  int i, r, worst = 0;

  if (argc < 2 || strcmp (argv[1], "--help") == 0) {
    fprintf (argc < 2 ? stderr : stdout, "usage: pageout FILE...\n");
    return argc < 2 ? 2 : 0;
  }
  for (i = 1; i < argc; i++) {
    r = page_out (argv[i]);
    if (r > worst)
      worst = r;
  }
  return worst;
}
