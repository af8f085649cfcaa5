/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* Choosing an NBD device, and making sure one is not in use. */

#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <libmount.h>

#include "device.h"
#include "parse.h"
#include "report.h"
#include "swap.h"

int
nbd_device_index (const char *dev)
{
  uint64_t v;

  if (strncmp (dev, "/dev/nbd", 8) != 0 || dev[8] == '\0' ||
      parse_uint (dev, dev + 8, 0, INT_MAX, &v) == -1) {
    dram_error ("%s is not an NBD device (expected /dev/nbdN)", dev);
    return -1;
  }
  return v;
}

static bool
sysfs_exists (int index, const char *attr)
{
  char path[128];

  snprintf (path, sizeof path, "/sys/block/nbd%d%s", index, attr);
  return access (path, F_OK) == 0;
}

void
load_module (const char *name)
{
  pid_t pid = fork ();
  int status;

  if (pid == -1)
    return;
  if (pid == 0) {
    execlp ("modprobe", "modprobe", "-q", name, (char *) NULL);
    _exit (127);
  }
  while (waitpid (pid, &status, 0) == -1 && errno == EINTR)
    ;
}

bool
nbd_driver_present (bool load)
{
  if (access ("/sys/module/nbd", F_OK) == 0)
    return true;
  if (!load)
    return false;
  load_module ("nbd");
  return access ("/sys/module/nbd", F_OK) == 0;
}

bool
nbd_connected (int index)
{
  return sysfs_exists (index, "/pid");
}

/* A mount of DEV or of one of its partitions (DEVpN). */
static const char *
mounted_on (struct libmnt_table *tb, const char *dev)
{
  struct libmnt_iter *it = mnt_new_iter (MNT_ITER_FORWARD);
  struct libmnt_fs *fs;
  const char *src, *target = NULL;
  size_t len = strlen (dev);

  while (it && mnt_table_next_fs (tb, it, &fs) == 0) {
    src = mnt_fs_get_srcpath (fs);
    if (src && strncmp (src, dev, len) == 0 &&
        (src[len] == '\0' || src[len] == 'p')) {
      target = mnt_fs_get_target (fs);
      break;
    }
  }
  mnt_free_iter (it);
  return target;
}

int
device_busy (const char *dev)
{
  struct libmnt_table *tb;
  const char *target;
  int r = 0;

  if (swap_active (NULL, dev, NULL, NULL)) {
    dram_error ("%s is busy: it is already in use as swap", dev);
    return -1;
  }
  tb = mnt_new_table_from_file ("/proc/self/mountinfo");
  if (tb && (target = mounted_on (tb, dev)) != NULL) {
    dram_error ("%s is busy: it is mounted on %s", dev, target);
    r = -1;
  }
  mnt_unref_table (tb);
  return r;
}

int
device_check_free (const char *dev, bool taken, const char *how)
{
  if (device_busy (dev) == -1)
    return -1;
  if (taken) {
    dram_error ("%s is busy: it is already %s", dev, how);
    return -1;
  }
  return 0;
}

int
device_check_unused (const char *dev, int index)
{
  if (!sysfs_exists (index, "")) {
    dram_error ("%s does not exist (the nbd driver has devices "
                "/dev/nbd0 to /dev/nbdN-1 for its nbds_max=N)", dev);
    return -1;
  }
  return device_check_free (dev, nbd_connected (index),
                            "connected to a server");
}

int
nbd_find_free (void)
{
  DIR *dir = opendir ("/sys/block");
  struct dirent *e;
  char dev[64];
  int best = -1, idx;

  if (dir == NULL) {
    dram_error ("/sys/block: %m");
    return -1;
  }
  while ((e = readdir (dir)) != NULL) {
    if (sscanf (e->d_name, "nbd%d", &idx) != 1 || idx < 0)
      continue;
    if (best != -1 && idx > best)
      continue;
    snprintf (dev, sizeof dev, "/dev/nbd%d", idx);
    if (nbd_connected (idx) || swap_active (NULL, dev, NULL, NULL))
      continue;
    best = idx;
  }
  closedir (dir);
  if (best == -1)
    dram_error ("every /dev/nbdN is in use (load the nbd module with a "
                "larger nbds_max, or detach one)");
  return best;
}

static uint64_t
sysfs_size (int index)
{
  char path[128];
  unsigned long long sectors = 0;
  FILE *fp;

  snprintf (path, sizeof path, "/sys/block/nbd%d/size", index);
  fp = fopen (path, "re");
  if (fp == NULL)
    return 0;
  if (fscanf (fp, "%llu", &sectors) != 1)
    sectors = 0;
  fclose (fp);
  return sectors;
}

int
nbd_wait_connected (int index, pid_t child, int secs)
{
  int i, status;

  for (i = 0; i < secs * 20; i++) {
    if (nbd_connected (index) && sysfs_size (index) > 0)
      return 0;
    if (child > 0 && waitpid (child, &status, WNOHANG) == child) {
      dram_error ("/dev/nbd%d: the kernel dropped the connection at once",
                  index);
      return -1;
    }
    usleep (50000);
  }
  dram_error ("/dev/nbd%d did not come up within %d seconds", index, secs);
  return -1;
}

int
nbd_wait_disconnected (int index, int secs)
{
  int i;

  for (i = 0; i < secs * 20; i++) {
    if (!nbd_connected (index))
      return 0;
    usleep (50000);
  }
  dram_error ("/dev/nbd%d is still connected after %d seconds", index, secs);
  return -1;
}
