/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* Loop devices for the module-free front-end.  Direct I/O matters: a
 * buffered loop device would copy every swap page into the page cache
 * of the FUSE file, which is memory, on its way out of memory.
 */

#include <config.h>

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/loop.h>

#include "device.h"
#include "loop.h"
#include "parse.h"
#include "report.h"

#define BLOCK 4096
#define TRIES 5                 /* another program may take a free device */

static int
get_free (void)
{
  int ctl = open ("/dev/loop-control", O_RDWR | O_CLOEXEC), n;

  if (ctl == -1) {
    dram_error ("/dev/loop-control: %m");
    return -1;
  }
  n = ioctl (ctl, LOOP_CTL_GET_FREE);
  if (n == -1)
    dram_error ("no free loop device: %m");
  close (ctl);
  return n;
}

/* Kernels before 5.8: one setting at a time. */
static int
configure_old (int lfd, int ffd, const struct loop_info64 *info)
{
  if (ioctl (lfd, LOOP_SET_FD, ffd) == -1)
    return -1;
  if (ioctl (lfd, LOOP_SET_STATUS64, info) == -1 ||
      ioctl (lfd, LOOP_SET_BLOCK_SIZE, (unsigned long) BLOCK) == -1 ||
      ioctl (lfd, LOOP_SET_DIRECT_IO, 1UL) == -1) {
    int e = errno;
    ioctl (lfd, LOOP_CLR_FD);
    errno = e;
    return -1;
  }
  return 0;
}

/* The kernel falls back to buffered I/O silently when the file cannot
 * do direct I/O; that is refused.
 */
static int
check_dio (const char *dev)
{
  char path[128], v = '0';
  FILE *fp;

  snprintf (path, sizeof path, "/sys/block/%s/loop/dio", dev + 5);
  fp = fopen (path, "re");
  if (fp) {
    if (fread (&v, 1, 1, fp) != 1)
      v = '0';
    fclose (fp);
  }
  if (v != '1') {
    dram_error ("%s: the kernel would not use direct I/O on it", dev);
    return -1;
  }
  return 0;
}

int
loop_check_unused (const char *dev)
{
  uint64_t n;

  if (strncmp (dev, "/dev/loop", 9) != 0 || dev[9] == '\0' ||
      parse_uint (dev, dev + 9, 0, INT_MAX, &n) == -1) {
    dram_error ("%s is not a loop device (expected /dev/loopN)", dev);
    return -1;
  }
  return device_check_free (dev, loop_attached (dev), "attached to a file");
}

int
loop_attach (const char *file, bool autoclear, char *dev, size_t len)
{
  bool given = dev[0] != '\0';

  struct loop_config cfg;
  int ffd, lfd = -1, n, try;

  ffd = open (file, O_RDWR | O_DIRECT | O_CLOEXEC);
  if (ffd == -1) {
    dram_error ("%s: %m", file);
    return -1;
  }
  memset (&cfg, 0, sizeof cfg);
  cfg.fd = ffd;
  cfg.block_size = BLOCK;
  cfg.info.lo_flags = LO_FLAGS_DIRECT_IO | (autoclear ? LO_FLAGS_AUTOCLEAR : 0);
  snprintf ((char *) cfg.info.lo_file_name, LO_NAME_SIZE, "%s", file);

  for (try = 0; try < TRIES; try++) {
    if (!given) {
      n = get_free ();
      if (n == -1)
        goto err;
      snprintf (dev, len, "/dev/loop%d", n);
    }
    lfd = open (dev, O_RDWR | O_CLOEXEC);
    if (lfd == -1) {
      dram_error ("%s: %m", dev);
      goto err;
    }
    if (ioctl (lfd, LOOP_CONFIGURE, &cfg) == 0 ||
        ((errno == EINVAL || errno == ENOTTY) &&
         configure_old (lfd, ffd, &cfg.info) == 0))
      break;
    if (errno != EBUSY || given) {
      dram_error ("%s: attaching %s: %m", dev, file);
      goto err;
    }
    close (lfd);                /* taken meanwhile: another one */
    lfd = -1;
  }
  if (lfd == -1) {
    dram_error ("no loop device stayed free");
    goto err;
  }
  if (check_dio (dev) == -1) {
    ioctl (lfd, LOOP_CLR_FD);
    goto err;
  }
  close (ffd);                  /* the device holds the file */
  return lfd;

 err:
  if (lfd >= 0)
    close (lfd);
  close (ffd);
  return -1;
}

bool
loop_attached (const char *dev)
{
  char path[128];

  snprintf (path, sizeof path, "/sys/block/%s/loop", dev + 5);
  return access (path, F_OK) == 0;
}

int
loop_detach (const char *dev)
{
  int fd;

  if (!loop_attached (dev))
    return 0;
  fd = open (dev, O_RDWR | O_CLOEXEC);
  if (fd == -1) {
    dram_error ("%s: %m", dev);
    return -1;
  }
  if (ioctl (fd, LOOP_CLR_FD) == -1 && errno != ENXIO) {
    dram_error ("%s: detaching: %m", dev);
    close (fd);
    return -1;
  }
  close (fd);
  return 0;
}
