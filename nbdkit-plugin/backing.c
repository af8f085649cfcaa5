/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* Getting the memory: an anonymous mapping, a memfd, or a file on
 * tmpfs or hugetlbfs; and the checks that must fail at start-up rather
 * than when a recipient's swap write arrives.
 */

#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/magic.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>

#include <libmount.h>

#include "guard.h"
#include "meminfo.h"
#include "region.h"
#include "report.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 1
#endif

#define PAGE 4096
#define CAP_IPC_LOCK_BIT 14

/* Whether this process may lock any amount of memory. */
static bool
have_cap_ipc_lock (void)
{
  FILE *fp = fopen ("/proc/self/status", "re");
  char line[256];
  unsigned long long caps = 0;

  if (fp == NULL)
    return false;
  while (fgets (line, sizeof line, fp) != NULL)
    if (sscanf (line, "CapEff: %llx", &caps) == 1)
      break;
  fclose (fp);
  return (caps >> CAP_IPC_LOCK_BIT) & 1;
}

static int
check_mlock (uint64_t size)
{
  struct rlimit rl;

  if (have_cap_ipc_lock ())
    return 0;
  if (getrlimit (RLIMIT_MEMLOCK, &rl) == -1) {
    dram_error ("getrlimit: RLIMIT_MEMLOCK: %m");
    return -1;
  }
  if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= size)
    return 0;
  dram_error ("mlock=true: this process may lock only %llu bytes "
              "(ulimit -l) and lacks CAP_IPC_LOCK; run nbdkit as root or "
              "raise the limit to at least %" PRIu64 " bytes",
              (unsigned long long) rl.rlim_cur, size);
  return -1;
}

/* reserve=true must fail now, not when the OOM killer comes. */
static int
check_available (uint64_t needed)
{
  uint64_t avail;

  if (meminfo_get (NULL, "MemAvailable", &avail) == -1)
    return -1;
  if (needed > avail) {
    dram_error ("reserve=true: the region needs %" PRIu64 " more bytes "
                "but this machine has only %" PRIu64 " available "
                "(MemAvailable)", needed, avail);
    return -1;
  }
  return 0;
}

/* The filesystem type of PATH as the mount table names it, for
 * messages; "unknown" if it cannot be found.
 */
static void
fs_type_name (const char *path, char *buf, size_t len)
{
  struct libmnt_table *tb;
  struct libmnt_fs *fs;
  char *real = realpath (path, NULL);
  const char *type = NULL;

  snprintf (buf, len, "unknown");
  tb = mnt_new_table_from_file ("/proc/self/mountinfo");
  if (tb && real) {
    fs = mnt_table_find_mountpoint (tb, real, MNT_ITER_BACKWARD);
    if (fs)
      type = mnt_fs_get_fstype (fs);
    if (type)
      snprintf (buf, len, "%s", type);
  }
  mnt_unref_table (tb);
  free (real);
}

/* Sets what the filesystem under FD means for the region.  A disk
 * filesystem is refused unless allowed: its pages are written back to
 * disk, which is not lending RAM.
 */
static int
check_fs (struct region *r, int fd, const char *what, const char *path,
          bool allow_disk)
{
  struct statfs sfs;
  char type[64];

  if (fstatfs (fd, &sfs) == -1) {
    dram_error ("%s=%s: statfs: %m", what, path);
    return -1;
  }
  switch (sfs.f_type) {
  case TMPFS_MAGIC:
    r->volatile_fs = true;
    return 0;
  case HUGETLBFS_MAGIC:
    r->volatile_fs = true;
    r->granularity = sfs.f_bsize;
    return 0;
  default:
    if (allow_disk) {
      r->volatile_fs = false;
      return 0;
    }
    fs_type_name (path, type, sizeof type);
    dram_error ("%s=%s is on a %s filesystem, not tmpfs or hugetlbfs: "
                "its pages would go to disk; use a tmpfs (for example "
                "/dev/shm) or add allow-disk=true", what, path, type);
    return -1;
  }
}

/* A tmpfs with a size limit must have room for the whole region, or a
 * later write would find it full.
 */
static int
check_room (const struct region *r, int fd, uint64_t allocated)
{
  struct statvfs sv;
  uint64_t free_bytes;

  if (!r->volatile_fs || r->granularity != PAGE)
    return 0;
  if (fstatvfs (fd, &sv) == -1) {
    dram_error ("file=%s: statvfs: %m", r->path);
    return -1;
  }
  free_bytes = (uint64_t) sv.f_bavail * sv.f_frsize;
  if (r->size - allocated > free_bytes) {
    dram_error ("the tmpfs holding %s has %" PRIu64 " bytes free but the "
                "region needs %" PRIu64 " more; enlarge it "
                "(mount -o remount,size=...) or lower size=",
                r->path, free_bytes, r->size - allocated);
    return -1;
  }
  return 0;
}

static int
open_memfd (struct region *r)
{
  int fd = memfd_create ("dram", MFD_CLOEXEC | MFD_ALLOW_SEALING);

  if (fd == -1) {
    dram_error ("memfd_create: %m");
    return -1;
  }
  if (ftruncate (fd, r->size) == -1) {
    dram_error ("memfd: ftruncate to %" PRIu64 " bytes: %m", r->size);
    close (fd);
    return -1;
  }
  /* Nobody may change its size under the mapping. */
  if (fcntl (fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) == -1)
    dram_debug ("memfd: cannot seal: %m");
  r->fd = fd;
  return 0;
}

int
region_lock (int fd, const char *what, const char *path)
{
  if (flock (fd, LOCK_EX | LOCK_NB) == 0)
    return 0;
  if (errno == EWOULDBLOCK)
    dram_error ("%s=%s is in use by another dram donor", what, path);
  else
    dram_error ("%s=%s: flock: %m", what, path);
  return -1;
}

/* Opens file= (creating it if absent) or a nameless file in dir=.  A
 * file that already holds a region of the same size is reused, which
 * is how a restarted donor keeps the recipient's data.
 */
static int
open_file (struct region *r, const struct dram_params *p)
{
  const char *what = p->file ? "file" : "dir";
  const char *path = p->file ? p->file : p->dir;
  struct stat st;
  int fd;

  if (p->file) {
    fd = open (path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0)
      r->created = true;
    else if (errno == EEXIST)
      fd = open (path, O_RDWR | O_CLOEXEC);
  }
  else
    fd = open (path, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd == -1) {
    dram_error ("%s=%s: %m", what, path);
    return -1;
  }
  r->fd = fd;
  r->path = strdup (path);
  if (r->path == NULL) {
    dram_error ("strdup: %m");
    return -1;
  }

  /* Two donors serving one file would corrupt both recipients. */
  if (region_lock (fd, "file", path) == -1)
    return -1;
  if (fstat (fd, &st) == -1) {
    dram_error ("%s=%s: stat: %m", what, path);
    return -1;
  }
  if (!S_ISREG (st.st_mode)) {
    dram_error ("file=%s is not a regular file", path);
    return -1;
  }
  if (check_fs (r, fd, what, path, p->allow_disk) == -1)
    return -1;
  if (r->size % r->granularity != 0) {
    dram_error ("size=%s is not a multiple of the huge page size "
                "%" PRIu64 " of %s", p->size_str, r->granularity, path);
    return -1;
  }
  r->guarded = true;

  if (st.st_size == 0) {
    if (check_room (r, fd, 0) == -1)
      return -1;
    if (ftruncate (fd, r->size) == -1) {
      dram_error ("%s=%s: ftruncate to %" PRIu64 " bytes: %m",
                  what, path, r->size);
      return -1;
    }
  }
  else if ((uint64_t) st.st_size == r->size) {
    if (check_room (r, fd, (uint64_t) st.st_blocks * 512) == -1)
      return -1;
    dram_debug ("file=%s: reusing the region it holds", path);
    r->reused = true;
  }
  else {
    dram_error ("file=%s holds a region of %jd bytes, not size=%s "
                "(%" PRIu64 " bytes); give the same size as before, or "
                "remove the file to start afresh",
                path, (intmax_t) st.st_size, p->size_str, r->size);
    return -1;
  }
  return 0;
}

/* Allocates every page of the file now, so that reserve=true fails at
 * start-up when the memory is not there.
 */
static int
reserve_fd (struct region *r)
{
  struct stat st;
  uint64_t allocated;

  if (fstat (r->fd, &st) == -1) {
    dram_error ("fstat: %m");
    return -1;
  }
  allocated = (uint64_t) st.st_blocks * 512;
  if (r->granularity == PAGE && allocated < r->size &&
      check_available (r->size - allocated) == -1)
    return -1;
  if (fallocate (r->fd, 0, 0, r->size) == -1) {
    dram_error ("reserve=true: cannot allocate %" PRIu64 " bytes: %m",
                r->size);
    return -1;
  }
  return 0;
}

/* Mapped before the fork, untouched: there are no pages yet for the
 * parent and child to share, so nothing is copied when the child
 * writes.  reserve=true populates after the fork for the same reason.
 */
static int
map_anonymous (struct region *r)
{
  r->map = mmap (NULL, r->size, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (r->map == MAP_FAILED) {
    r->map = NULL;
    dram_error ("mmap of %" PRIu64 " bytes: %m", r->size);
    return -1;
  }
  /* Swap pages arrive 4 KiB at a time; a huge page per 4 KiB write
   * would cost the donor up to 512 times what was lent.
   */
  if (madvise (r->map, r->size, MADV_NOHUGEPAGE) == -1)
    dram_debug ("madvise MADV_NOHUGEPAGE: %m");
  return 0;
}

static void
region_reset (struct region *r)
{
  memset (r, 0, sizeof *r);
  r->fd = -1;
  r->pagemap_fd = -1;
}

int
region_open (struct region *r, const struct dram_params *p)
{
  region_reset (r);
  r->backing = p->backing;
  r->size = p->size;
  r->granularity = PAGE;
  r->volatile_fs = true;
  r->mlock = p->mlock;
  r->reserve = p->reserve;

  if (r->mlock && check_mlock (r->size) == -1)
    goto out_close;

  switch (r->backing) {
  case BACKING_MALLOC:
    if (r->reserve && check_available (r->size) == -1)
      goto out_close;
    if (map_anonymous (r) == -1 || region_identify (r, NULL, NULL, false) == -1)
      goto out_close;
    return 0;
  case BACKING_MEMFD:
    if (open_memfd (r) == -1)
      goto out_close;
    break;
  case BACKING_FILE:
    if (open_file (r, p) == -1)
      goto out_close;
    break;
  }

  if (r->reserve && reserve_fd (r) == -1)
    goto out_close;

  /* A shared mapping survives the fork unchanged, and mapping now
   * makes hugetlbfs reserve its pages where the operator sees failure.
   */
  r->map = mmap (NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
  if (r->map == MAP_FAILED) {
    r->map = NULL;
    dram_error ("mmap of %" PRIu64 " bytes: %m", r->size);
    goto out_close;
  }
  if (r->guarded) {
    if (guard_install () == -1)
      goto out_close;
    r->guard_on = true;
  }
  /* A check at start-up knows no owner: it must neither take the
   * region's identity nor wipe what its owner left.
   */
  if (p->probe)
    return 0;
  if (region_identify (r, p->file, p->name, r->reused) == -1)
    goto out_close;
  /* What the file holds is nobody's now: no recipient may read it. */
  if (r->reused && !r->kept &&
      (region_wipe (r) == -1 || (r->reserve && reserve_fd (r) == -1)))
    goto out_close;
  return 0;

 out_close:
  /* A file we created for this start is not a region anyone owns. */
  if (r->created && r->path) {
    unlink (r->path);
    region_forget_identity (p->file);
  }
  region_close (r);
  return -1;
}

int
region_precheck (const struct dram_params *p)
{
  struct dram_params trial = *p;
  struct region r;

  if (p->mlock && check_mlock (p->size) == -1)
    return -1;
  if (p->reserve && check_available (p->size) == -1)
    return -1;
  if (p->backing != BACKING_FILE)
    return 0;
  /* The filesystem's type, room and huge page size, on a region made
   * and dropped now (dir=: a nameless file); file= keeps its file,
   * the region's, which its first recipient then finds.
   */
  trial.size = p->region;
  trial.reserve = false;
  trial.mlock = false;
  trial.probe = true;
  if (region_open (&r, &trial) == -1)
    return -1;
  region_close (&r);
  return 0;
}

/* Faults in LEN bytes at P as madvise's ADVICE (MADV_POPULATE_READ or
 * _WRITE) does, touching each page on kernels before 5.14.  Returns -1
 * with errno set.
 */
static int
populate_range (char *p, uint64_t len, int advice)
{
  volatile char *v = p;
  uint64_t off;

  if (madvise (p, len, advice) == 0)
    return 0;
  if (errno != EINVAL)
    return -1;
  for (off = 0; off < len; off += PAGE) {
    if (advice == MADV_POPULATE_WRITE)
      v[off] = 0;
    else
      (void) v[off];
  }
  return 0;
}

static int
populate (struct region *r)
{
  if (populate_range (r->map, r->size, MADV_POPULATE_WRITE) == -1) {
    dram_error ("reserve=true: populating %" PRIu64 " bytes: %m", r->size);
    return -1;
  }
  return 0;
}

/* mlock=true on a file that already holds the region (a donor started
 * again on its tmpfs file): MLOCK_ONFAULT locks a page only when this
 * process first touches it, so until then what was donated could be
 * written out to swap, and on a machine whose swap this donor serves,
 * serving that swap would wait for itself (seen in
 * tests/test-fuse-reconnect.sh: nbdkit in shmem_swapin_folio waiting
 * on writeback to the loop device).  So the pages with data are mapped
 * now, which locks them; holes stay holes.
 */
static int
lock_present (struct region *r)
{
  off_t data = 0, hole;

  while ((uint64_t) data < r->size) {
    data = lseek (r->fd, data, SEEK_DATA);
    if (data == -1 && errno == ENXIO)
      break;
    if (data == -1 || (hole = lseek (r->fd, data, SEEK_HOLE)) == -1) {
      dram_error ("mlock=true: %s: lseek: %m", r->path);
      return -1;
    }
    if ((uint64_t) data >= r->size)
      break;
    if ((uint64_t) hole > r->size)
      hole = r->size;
    data &= ~(off_t) (PAGE - 1);
    if (populate_range (r->map + data, hole - data,
                        MADV_POPULATE_READ) == -1) {
      dram_error ("mlock=true: locking %s: %m", r->path);
      return -1;
    }
    data = hole;
  }
  return 0;
}

/* What reading a hole of the anonymous mapping does.  Most kernels map
 * their shared zero page there: pagemap shows it present but not mapped
 * exclusively, and its frame number (shown only to privileged
 * processes) tells it apart, so extents can still report the page as a
 * hole.  Some kernels (the 6.18 build of this project's machines) give
 * the read a page of its own, mapped exclusively: there a read of a
 * hole would cost the donor a page and turn the hole into data, so
 * the region keeps a bit for each page written since it was last given
 * back and reads copy only those (region.c; asking pagemap on every
 * read took 4 us a time here), and that page's frame, freed below and
 * soon reused, is not taken for the zero page.
 * Leaves zero_pfn 0 when frames are hidden.  Returns whether a read
 * fault allocates.
 */
static bool
probe_read_fault (struct region *r)
{
  volatile char *page;
  uint64_t entry;
  bool allocates = false;

  page = mmap (NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (page == MAP_FAILED)
    return false;
  (void) page[0];
  if (pread (r->pagemap_fd, &entry, sizeof entry,
             (uintptr_t) page / PAGE * sizeof entry) == sizeof entry &&
      (entry & PM_PRESENT)) {
    if (entry & PM_MMAP_EXCLUSIVE)
      allocates = true;
    else
      r->zero_pfn = entry & PM_PFN_MASK;
  }
  munmap ((void *) page, PAGE);
  if (allocates)
    dram_debug ("a read fault allocates a page here (no zero page): "
                "reads copy only the pages that hold data");
  else
    dram_debug ("zero page frame: %#" PRIx64 "%s", r->zero_pfn,
                r->zero_pfn ? "" : " (hidden: read holes count as data)");
  return allocates;
}

int
region_track_written (struct region *r)
{
  size_t bits = 8 * sizeof (unsigned long);

  r->written = calloc ((r->size + PAGE - 1) / PAGE / bits + 1,
                       sizeof (unsigned long));
  if (r->written == NULL) {
    dram_error ("malloc: %m");
    return -1;
  }
  return 0;
}

int
region_map (struct region *r)
{
  if (r->backing == BACKING_MALLOC) {
    /* Opened after the fork: it describes the process that opens it. */
    r->pagemap_fd = open ("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (r->pagemap_fd == -1) {
      dram_error ("/proc/self/pagemap: %m");
      return -1;
    }
    if (probe_read_fault (r) && region_track_written (r) == -1)
      return -1;
  }

  if (r->mlock) {
    /* With reserve every page is locked now; otherwise each page is
     * locked when first written.
     */
    if (r->reserve ? mlock (r->map, r->size)
                   : mlock2 (r->map, r->size, MLOCK_ONFAULT)) {
      dram_error ("mlock=true: locking %" PRIu64 " bytes: %m", r->size);
      return -1;
    }
    if (!r->reserve && r->reused && r->granularity == PAGE)
      return lock_present (r);
  }
  else if (r->reserve && r->backing == BACKING_MALLOC)
    return populate (r);
  return 0;
}

void
region_close (struct region *r)
{
  if (r->guard_on)
    guard_remove ();
  if (r->map)
    munmap (r->map, r->size);
  if (r->pagemap_fd >= 0)
    close (r->pagemap_fd);
  free ((void *) r->written);
  if (r->fd >= 0)
    close (r->fd);
  free (r->path);
  region_reset (r);
}
