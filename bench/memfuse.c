/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* A benchmark peer, not a product: the floor of the module-free route.
 * A FUSE filesystem with one file, "swap", whose bytes live in this
 * process's own locked memory: no donor, no network, no slots, no
 * second thread.  One thread reads /dev/fuse and answers each request
 * in place, which is the fewest wake-ups a FUSE file under a loop
 * device can cost.  The tree and the connection's settings (direct
 * I/O, asynchronous direct I/O, 256 KiB requests) are dram's own
 * (attach/fusetree.c), so that bench/swap-host.sh can say how much of
 * dram's time is the FUSE and loop path itself.
 *
 *   memfuse MOUNTPOINT SIZE_MIB      (stays in the foreground; SIGTERM
 *                                     or an unmount ends it)
 */

#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>

#include "fusetree.h"

static char *mem;

static void
op_read (fuse_req_t req, fuse_ino_t ino, size_t n, off_t off,
         struct fuse_file_info *fi)
{
  fuse_reply_buf (req, mem + off, fuse_tree_clamp_read (n, off));
}

static void
op_write (fuse_req_t req, fuse_ino_t ino, const char *buf, size_t n,
          off_t off, struct fuse_file_info *fi)
{
  if (!fuse_tree_fits (n, off)) {
    fuse_reply_err (req, ENOSPC);
    return;
  }
  memcpy (mem + off, buf, n);
  fuse_reply_write (req, n);
}

static void
op_fallocate (fuse_req_t req, fuse_ino_t ino, int mode, off_t off,
              off_t len, struct fuse_file_info *fi)
{
  int err = fuse_tree_fits (len, off) ? 0 : ENOSPC;

  /* The memory stays locked: a hole is only zeroes. */
  if (err == 0 && (mode & FALLOC_FL_PUNCH_HOLE))
    memset (mem + off, 0, len);
  fuse_reply_err (req, err);
}

static void
op_ok (fuse_req_t req, fuse_ino_t ino, int datasync,
       struct fuse_file_info *fi)
{
  fuse_reply_err (req, 0);
}

static void
op_init (void *userdata, struct fuse_conn_info *conn)
{
  fuse_tree_init_conn (conn);
}

static const struct fuse_lowlevel_ops ops = {
  FUSE_TREE_OPS,
  .init = op_init,
  .read = op_read,
  .write = op_write,
  .fallocate = op_fallocate,
  .fsync = op_ok,
};

int
main (int argc, char *argv[])
{
  char opts[100];
  char *fargv[] = { argv[0], "-o", opts, NULL };
  struct fuse_args args = FUSE_ARGS_INIT (3, fargv);
  struct fuse_session *se;
  char *end;
  unsigned long long mib;
  uint64_t size;
  int r;

  if (argc != 3) {
    fprintf (stderr, "usage: memfuse MOUNTPOINT SIZE_MIB\n");
    return 1;
  }
  errno = 0;
  mib = strtoull (argv[2], &end, 10);
  if (errno || end == argv[2] || *end || mib == 0 || mib > (1 << 20)) {
    fprintf (stderr, "memfuse: bad size in MiB: %s\n", argv[2]);
    return 1;
  }
  size = mib << 20;
  fuse_tree_set_size (size);
  mem = mmap (NULL, size, PROT_READ | PROT_WRITE,
              MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (mem == MAP_FAILED) {
    perror ("memfuse: mmap");
    return 1;
  }
  /* As dram's server: never paged out, never waits on its own swap. */
  if (mlockall (MCL_CURRENT | MCL_FUTURE) == -1) {
    perror ("memfuse: mlockall");
    return 1;
  }
  prctl (PR_SET_IO_FLUSHER, 1, 0, 0, 0);
  snprintf (opts, sizeof opts, "fsname=memfuse,max_read=%d",
            FUSE_TREE_MAX_IO);
  se = fuse_session_new (&args, &ops, sizeof ops, NULL);
  if (se == NULL)
    return 1;
  if (fuse_set_signal_handlers (se) == -1 ||
      fuse_session_mount (se, argv[1]) == -1) {
    fprintf (stderr, "memfuse: cannot mount %s\n", argv[1]);
    fuse_session_destroy (se);
    return 1;
  }
  r = fuse_session_loop (se);
  fuse_session_unmount (se);
  fuse_remove_signal_handlers (se);
  fuse_session_destroy (se);
  return r == 0 ? 0 : 1;
}
