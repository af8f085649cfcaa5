/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* A swap file written in full (see swapfile.h). */

#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "report.h"
#include "swapfile.h"

#define CHUNK (1 << 20)

static void
show_progress (const char *path, uint64_t done, uint64_t size, bool last)
{
  fprintf (stderr, "\rdram-attach: writing %s: %" PRIu64 " of %" PRIu64
           " MiB (%d%%)%s", path, done >> 20, size >> 20,
           (int) (done * 100 / size), last ? "\n" : "");
}

/* Zeros over the whole file: every block allocated on the server. */
static int
write_zeros (int fd, const char *path, uint64_t size, bool progress)
{
  char *buf = calloc (1, CHUNK);
  uint64_t done = 0;
  time_t shown = time (NULL);
  size_t n;
  ssize_t w;

  if (buf == NULL) {
    dram_error ("calloc: %m");
    return -1;
  }
  while (done < size) {
    n = size - done < CHUNK ? size - done : CHUNK;
    w = pwrite (fd, buf, n, done);
    if (w == -1 && errno == EINTR)
      continue;
    if (w <= 0) {
      if (w == 0)
        errno = ENOSPC;
      if (progress)
        fputc ('\n', stderr);
      dram_error ("%s: writing at %" PRIu64 " of %" PRIu64 " bytes: %m",
                  path, done, size);
      free (buf);
      return -1;
    }
    done += w;
    if (progress && time (NULL) != shown) {
      shown = time (NULL);
      show_progress (path, done, size, false);
    }
  }
  if (progress)
    show_progress (path, done, size, true);
  free (buf);
  return 0;
}

/* What the kernel checks at swapon (on NFS, nfs_swap_activate):
 * i_blocks * 512 >= i_size.  A fresh open gets fresh attributes.
 */
static int
check_allocated (const char *path, uint64_t size)
{
  struct stat st;
  int fd = open (path, O_RDONLY | O_CLOEXEC);

  if (fd == -1 || fstat (fd, &st) == -1) {
    dram_error ("%s: %m", path);
    if (fd >= 0)
      close (fd);
    return -1;
  }
  close (fd);
  if ((uint64_t) st.st_size != size) {
    dram_error ("%s: %" PRIu64 " bytes, not %" PRIu64, path,
                (uint64_t) st.st_size, size);
    return -1;
  }
  if ((uint64_t) st.st_blocks * 512 < size) {
    dram_error ("%s: only %" PRIu64 " of its %" PRIu64 " bytes are "
                "allocated: the filesystem keeps written zeros as holes, "
                "and the kernel cannot swap on a file with holes", path,
                (uint64_t) st.st_blocks * 512, size);
    return -1;
  }
  return 0;
}

int
swapfile_create (const char *path, uint64_t size,
                 const uint8_t uuid[SWAP_UUID_LEN], const char *label,
                 bool progress)
{
  int fd;

  fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd == -1) {
    if (errno == EEXIST)
      dram_error ("%s exists already (another recipient's swap, or one "
                  "that was not detached: remove it if nothing uses it)",
                  path);
    else
      dram_error ("%s: %m", path);
    return -1;
  }
  /* Whatever the umask. */
  if (fchmod (fd, 0600) == -1) {
    dram_error ("%s: chmod: %m", path);
    goto out_unlink;
  }
  if (write_zeros (fd, path, size, progress) == -1 ||
      swap_header_write (fd, path, size, uuid, label) == -1)
    goto out_unlink;
  /* Swap I/O bypasses the page cache: give its memory back. */
  posix_fadvise (fd, 0, 0, POSIX_FADV_DONTNEED);
  if (close (fd) == -1) {
    fd = -1;
    dram_error ("%s: close: %m", path);
    goto out_unlink;
  }
  fd = -1;
  if (check_allocated (path, size) == -1)
    goto out_unlink;
  return 0;

 out_unlink:
  if (fd >= 0)
    close (fd);
  unlink (path);
  return -1;
}
