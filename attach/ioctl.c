/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* The NBD ioctls: NBD_SET_* then NBD_DO_IT, which blocks in the kernel
 * for the life of the connection, so it runs in a child that stays.
 */

#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/nbd.h>

#include "ioctl.h"
#include "report.h"
#include "resident.h"

static int
open_dev (int index)
{
  char dev[64];
  int fd;

  snprintf (dev, sizeof dev, "/dev/nbd%d", index);
  fd = open (dev, O_RDWR | O_CLOEXEC);
  if (fd == -1)
    dram_error ("%s: %m", dev);
  return fd;
}

static int
configure (int fd, int index, const struct nbd_connect_req *req)
{
  unsigned i;

  if (ioctl (fd, NBD_SET_BLKSIZE, (unsigned long) req->block_size) == -1 ||
      ioctl (fd, NBD_SET_SIZE_BLOCKS,
             (unsigned long) (req->size / req->block_size)) == -1 ||
      ioctl (fd, NBD_SET_TIMEOUT, (unsigned long) req->timeout) == -1 ||
      ioctl (fd, NBD_SET_FLAGS, (unsigned long) req->server_flags) == -1) {
    dram_error ("/dev/nbd%d: configuring: %m", index);
    return -1;
  }
  for (i = 0; i < req->nr_fds; i++) {
    if (ioctl (fd, NBD_SET_SOCK, (unsigned long) req->fds[i]) == -1) {
      dram_error ("/dev/nbd%d: NBD_SET_SOCK: %m", index);
      return -1;
    }
  }
  return 0;
}

pid_t
nbd_ioctl_connect (int index, const struct nbd_connect_req *req)
{
  pid_t pid;
  int fd = open_dev (index);

  if (fd == -1)
    return -1;
  if (configure (fd, index, req) == -1) {
    ioctl (fd, NBD_CLEAR_SOCK);
    close (fd);
    return -1;
  }
  pid = fork ();
  if (pid == -1) {
    dram_error ("fork: %m");
    ioctl (fd, NBD_CLEAR_SOCK);
    close (fd);
    return -1;
  }
  if (pid == 0) {
    static const char *const libs[] = { "libc.", "ld-linux", NULL };

    if (daemonize_io () == -1 || become_resident (libs) == -1)
      resident_exit (EXIT_FAILURE);
    if (ioctl (fd, NBD_DO_IT) == -1 && errno != EPIPE)
      dram_error ("/dev/nbd%d: NBD_DO_IT: %m", index);
    ioctl (fd, NBD_CLEAR_QUE);
    ioctl (fd, NBD_CLEAR_SOCK);
    resident_exit (EXIT_SUCCESS);
  }
  close (fd);
  return pid;
}

int
nbd_ioctl_disconnect (int index)
{
  int fd = open_dev (index), r = 0;

  if (fd == -1)
    return -1;
  if (ioctl (fd, NBD_DISCONNECT) == -1) {
    dram_error ("/dev/nbd%d: NBD_DISCONNECT: %m", index);
    r = -1;
  }
  ioctl (fd, NBD_CLEAR_SOCK);
  close (fd);
  return r;
}
