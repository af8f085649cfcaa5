/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* The private mounts of the fuse and nfs modes, under the run
 * directory: whether they are there, and taking them away.
 */

#include <config.h>

#include <errno.h>
#include <sys/mount.h>

#include <libmount.h>

#include "mount.h"
#include "report.h"

struct libmnt_fs *
mount_find (const char *target, struct libmnt_table **tb)
{
  *tb = mnt_new_table_from_file ("/proc/self/mountinfo");
  if (*tb == NULL)
    return NULL;
  return mnt_table_find_target (*tb, target, MNT_ITER_BACKWARD);
}

bool
mounted (const char *target)
{
  struct libmnt_table *tb;
  bool r = mount_find (target, &tb) != NULL;

  mnt_unref_table (tb);
  return r;
}

/* Once swap is off (and the loop device gone) nothing of ours holds
 * the mount, which is private to dram-attach: what still keeps it (a
 * FUSE server that died, "Transport endpoint is not connected"; a loop
 * device still being released; an NFS server gone after swapoff) must
 * not leave it behind, so it is detached and the kernel frees it with
 * its last user.
 */
int
unmount (const char *target)
{
  if (!mounted (target))
    return 0;
  if (umount2 (target, 0) == 0)
    return 0;
  if (umount2 (target, MNT_DETACH) == 0 || errno == EINVAL)
    return 0;                   /* EINVAL: no longer mounted */
  dram_error ("umount %s: %m", target);
  return -1;
}
