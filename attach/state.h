/* dram — SPDX-License-Identifier: BSD-3-Clause */
#ifndef DRAM_STATE_H
#define DRAM_STATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* What dram-attach built for one device, kept in STATE_DIR so that
 * --status can show it and --detach can undo it.  Readable by root
 * alone: the export name is what gives access to the region.
 */
struct attach_state {
  char device[512];             /* /dev/nbd0; nfs: the swap file */
  char mode[8];                 /* nbd, fuse, nfs */
  char donor[1280];             /* nfs: SERVER:/EXPORT, up to 1 KiB */
  char export_name[1100];       /* the region's name: a capability */
  uint64_t size;
  unsigned connections;
  char handover[16];            /* nbd: netlink, ioctl; fuse: fuse;
                                   nfs: the version, nfs4.2 */
  char tls[8];                  /* "", nbd: kernel or proxy; fuse: fuse */
  pid_t pid;                    /* nbd: resident proxy (TLS), 0 if none;
                                   fuse: the resident FUSE server */
  pid_t doit_pid;               /* resident NBD_DO_IT child, 0 if none */
  pid_t monitor_pid;            /* nbd: resident reconnecting monitor, 0 if none */
  bool swap;
  int priority;
  bool discard;
  char uuid[40];
  char label[24];
  char mountpoint[512];         /* fuse: the FUSE mount; nfs: the NFS one */
  char fstab[256];              /* nfs --persist: the fstab edited, or "" */
  char health[512];             /* the resident process's health.h record */
  int64_t attached_at;          /* seconds since the epoch */
  /* The donor's capacity when attached, if it said (capacity.h). */
  bool have_capacity;
  uint64_t donor_size, donor_region, donor_free;
  unsigned donor_regions;
};

/* /run/dram, or $DRAM_RUNDIR (tests). */
extern const char *state_dir (void);

extern int state_save (const struct attach_state *s);

/* Returns 0, -1 after reporting, or 1 when DEVICE has no state. */
extern int state_load (const char *device, struct attach_state *s);

extern int state_remove (const char *device);

/* The devices (swap files) that have state, sorted; *N set.  NULL after reporting,
 * or an empty list.
 */
extern char **state_list (size_t *n);
extern void state_list_free (char **list, size_t n);

#endif /* DRAM_STATE_H */
