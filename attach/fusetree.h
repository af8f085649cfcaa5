/* dram — SPDX-License-Identifier: BSD-3-Clause */
#ifndef DRAM_FUSETREE_H
#define DRAM_FUSETREE_H

#define FUSE_USE_VERSION 312

#include <stdbool.h>
#include <stdint.h>

#include <fuse3/fuse_lowlevel.h>

/* The mount's tree: a root directory holding one file, FUSE_TREE_FILE,
 * of a fixed size, opened for direct I/O (no page cache: swap pages
 * must not be copied into memory again on their way out).  A server
 * answers the file's reads, writes, hole punches and fsyncs itself and
 * takes every other request from here.
 */
#define FUSE_TREE_FILE "swap"
#define FUSE_TREE_INO 2
/* The largest read or write FUSE hands over. */
#define FUSE_TREE_MAX_IO (256 * 1024)

/* The file's size, before the session starts. */
extern void fuse_tree_set_size (uint64_t size);

/* For the server's init: asynchronous direct I/O (the loop device keeps
 * many requests in flight), FUSE_TREE_MAX_IO at most per request, no
 * readahead.
 */
extern void fuse_tree_init_conn (struct fuse_conn_info *conn);

extern void fuse_tree_lookup (fuse_req_t req, fuse_ino_t parent,
                              const char *name);
extern void fuse_tree_getattr (fuse_req_t req, fuse_ino_t ino,
                               struct fuse_file_info *fi);
extern void fuse_tree_open (fuse_req_t req, fuse_ino_t ino,
                            struct fuse_file_info *fi);
extern void fuse_tree_flush (fuse_req_t req, fuse_ino_t ino,
                             struct fuse_file_info *fi);
extern void fuse_tree_statfs (fuse_req_t req, fuse_ino_t ino);
extern void fuse_tree_opendir (fuse_req_t req, fuse_ino_t ino,
                               struct fuse_file_info *fi);
extern void fuse_tree_readdir (fuse_req_t req, fuse_ino_t ino, size_t size,
                               off_t off, struct fuse_file_info *fi);

/* The members of a server's struct fuse_lowlevel_ops that the tree
 * answers; the server adds init, read, write, fallocate and fsync.
 */
#define FUSE_TREE_OPS \
  .lookup = fuse_tree_lookup, \
  .getattr = fuse_tree_getattr, \
  .open = fuse_tree_open, \
  .flush = fuse_tree_flush, \
  .statfs = fuse_tree_statfs, \
  .opendir = fuse_tree_opendir, \
  .readdir = fuse_tree_readdir

/* How much of a read of SIZE bytes at OFF lies in the file. */
extern size_t fuse_tree_clamp_read (size_t size, off_t off);
/* Whether a write of SIZE bytes at OFF fits in the file. */
extern bool fuse_tree_fits (size_t size, off_t off);

#endif /* DRAM_FUSETREE_H */
