/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* A benchmark peer, not a product: the floor of the module-free route.
 * A FUSE filesystem with one file, "swap", whose bytes live in this
 * process's own locked memory: no donor, no network, no slots, no
 * second thread.  One thread reads /dev/fuse and answers each request
 * in place, which is the fewest wake-ups a FUSE file under a loop
 * device can cost.  Mounted with the options dram's own server uses
 * (direct I/O, asynchronous direct I/O, 256 KiB requests), so that
 * bench/swap-host.sh can say how much of dram's time is the FUSE and
 * loop path itself.
 *
 *   memfuse MOUNTPOINT SIZE_MIB      (stays in the foreground; SIGTERM
 *                                     or an unmount ends it)
 */

#include <config.h>

#define FUSE_USE_VERSION 312

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include <fuse3/fuse_lowlevel.h>

#define FILE_INO 2
#define FILE_NAME "swap"
#define MAX_IO (256 * 1024)

static char *mem;
static uint64_t size;
static time_t start;

static void
fill_attr (fuse_ino_t ino, struct stat *st)
{
  memset (st, 0, sizeof *st);
  st->st_ino = ino;
  st->st_atime = st->st_mtime = st->st_ctime = start;
  st->st_blksize = 4096;
  if (ino == FUSE_ROOT_ID) {
    st->st_mode = S_IFDIR | 0500;
    st->st_nlink = 2;
  }
  else {
    st->st_mode = S_IFREG | 0600;
    st->st_nlink = 1;
    st->st_size = size;
    st->st_blocks = size / 512;
  }
}

static void
op_init (void *userdata, struct fuse_conn_info *conn)
{
  if (conn->capable & FUSE_CAP_ASYNC_DIO)
    conn->want |= FUSE_CAP_ASYNC_DIO;
  conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
  conn->max_read = MAX_IO;
  conn->max_write = MAX_IO;
  conn->max_readahead = 0;
}

static void
op_lookup (fuse_req_t req, fuse_ino_t parent, const char *name)
{
  struct fuse_entry_param e;

  if (parent != FUSE_ROOT_ID || strcmp (name, FILE_NAME) != 0) {
    fuse_reply_err (req, ENOENT);
    return;
  }
  memset (&e, 0, sizeof e);
  e.ino = FILE_INO;
  e.attr_timeout = e.entry_timeout = 3600;
  fill_attr (FILE_INO, &e.attr);
  fuse_reply_entry (req, &e);
}

static void
op_getattr (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
  struct stat st;

  fill_attr (ino, &st);
  fuse_reply_attr (req, &st, 3600);
}

static void
op_open (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
  if (ino != FILE_INO) {
    fuse_reply_err (req, EISDIR);
    return;
  }
  fi->direct_io = 1;
  fuse_reply_open (req, fi);
}

static void
op_read (fuse_req_t req, fuse_ino_t ino, size_t n, off_t off,
         struct fuse_file_info *fi)
{
  if ((uint64_t) off >= size)
    n = 0;
  else if (n > size - off)
    n = size - off;
  fuse_reply_buf (req, mem + off, n);
}

static void
op_write (fuse_req_t req, fuse_ino_t ino, const char *buf, size_t n,
          off_t off, struct fuse_file_info *fi)
{
  if ((uint64_t) off > size || n > size - off) {
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
  /* The memory stays locked: a hole is only zeroes. */
  if ((mode & FALLOC_FL_PUNCH_HOLE) && (uint64_t) off < size) {
    uint64_t n = len;

    memset (mem + off, 0, n > size - off ? size - off : n);
  }
  fuse_reply_err (req, 0);
}

static void
op_ok (fuse_req_t req, fuse_ino_t ino, int datasync,
       struct fuse_file_info *fi)
{
  fuse_reply_err (req, 0);
}

static void
op_flush (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
  fuse_reply_err (req, 0);
}

static const struct fuse_lowlevel_ops ops = {
  .init = op_init,
  .lookup = op_lookup,
  .getattr = op_getattr,
  .open = op_open,
  .read = op_read,
  .write = op_write,
  .fallocate = op_fallocate,
  .fsync = op_ok,
  .flush = op_flush,
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
  start = time (NULL);
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
  snprintf (opts, sizeof opts, "fsname=memfuse,max_read=%d", MAX_IO);
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
