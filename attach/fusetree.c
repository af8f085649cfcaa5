/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* The FUSE mount's tree (see fusetree.h): everything but the file's
 * data, shared by the fuse mode's server and the benchmark's floor
 * (bench/memfuse.c).
 */

#include <config.h>

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "fusetree.h"

#define BLOCK 4096

static uint64_t size;
static time_t start;

void
fuse_tree_set_size (uint64_t s)
{
  size = s;
  start = time (NULL);
}

void
fuse_tree_init_conn (struct fuse_conn_info *conn)
{
  if (conn->capable & FUSE_CAP_ASYNC_DIO)
    conn->want |= FUSE_CAP_ASYNC_DIO;
  conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
  /* libfuse wants this to repeat the max_read mount option. */
  conn->max_read = FUSE_TREE_MAX_IO;
  conn->max_write = FUSE_TREE_MAX_IO;
  conn->max_readahead = 0;
}

static void
fill_attr (fuse_ino_t ino, struct stat *st)
{
  memset (st, 0, sizeof *st);
  st->st_ino = ino;
  st->st_atime = st->st_mtime = st->st_ctime = start;
  st->st_blksize = BLOCK;
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

void
fuse_tree_lookup (fuse_req_t req, fuse_ino_t parent, const char *name)
{
  struct fuse_entry_param e;

  if (parent != FUSE_ROOT_ID || strcmp (name, FUSE_TREE_FILE) != 0) {
    fuse_reply_err (req, ENOENT);
    return;
  }
  memset (&e, 0, sizeof e);
  e.ino = FUSE_TREE_INO;
  e.attr_timeout = e.entry_timeout = 3600;
  fill_attr (FUSE_TREE_INO, &e.attr);
  fuse_reply_entry (req, &e);
}

void
fuse_tree_getattr (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
  struct stat st;

  if (ino != FUSE_ROOT_ID && ino != FUSE_TREE_INO) {
    fuse_reply_err (req, ENOENT);
    return;
  }
  fill_attr (ino, &st);
  fuse_reply_attr (req, &st, 3600);
}

void
fuse_tree_open (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
  if (ino != FUSE_TREE_INO) {
    fuse_reply_err (req, EISDIR);
    return;
  }
  fi->direct_io = 1;
  fi->keep_cache = 0;
  fuse_reply_open (req, fi);
}

void
fuse_tree_flush (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
  fuse_reply_err (req, 0);
}

void
fuse_tree_statfs (fuse_req_t req, fuse_ino_t ino)
{
  struct statvfs sv;

  memset (&sv, 0, sizeof sv);
  sv.f_bsize = sv.f_frsize = BLOCK;
  sv.f_blocks = size / BLOCK;
  sv.f_files = 2;
  sv.f_namemax = 255;
  fuse_reply_statfs (req, &sv);
}

void
fuse_tree_opendir (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
  if (ino != FUSE_ROOT_ID)
    fuse_reply_err (req, ENOTDIR);
  else
    fuse_reply_open (req, fi);
}

void
fuse_tree_readdir (fuse_req_t req, fuse_ino_t ino, size_t max, off_t off,
                   struct fuse_file_info *fi)
{
  static const struct {
    const char *name;
    fuse_ino_t ino;
  } entries[] = {
    { ".", FUSE_ROOT_ID }, { "..", FUSE_ROOT_ID },
    { FUSE_TREE_FILE, FUSE_TREE_INO },
  };
  char buf[512];
  size_t used = 0, n;
  struct stat st;
  off_t i;

  for (i = off; i < 3; i++) {
    fill_attr (entries[i].ino, &st);
    n = fuse_add_direntry (req, buf + used, sizeof buf - used,
                           entries[i].name, &st, i + 1);
    if (n > sizeof buf - used || used + n > max)
      break;
    used += n;
  }
  fuse_reply_buf (req, buf, used);
}

size_t
fuse_tree_clamp_read (size_t n, off_t off)
{
  if ((uint64_t) off >= size)
    return 0;
  if (n > size - off)
    n = size - off;
  return n > FUSE_TREE_MAX_IO ? FUSE_TREE_MAX_IO : n;
}

bool
fuse_tree_fits (size_t n, off_t off)
{
  return (uint64_t) off <= size && n <= size - off;
}
