/* dram — SPDX-License-Identifier: BSD-3-Clause */
#ifndef DRAM_DEVICE_H
#define DRAM_DEVICE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* "/dev/nbd12" → 12; -1 after reporting for anything else. */
extern int nbd_device_index (const char *dev);

/* Runs "modprobe -q NAME" and waits for it.  Whether it worked is not
 * said (the module may be built in, or missing): callers check for what
 * they need.
 */
extern void load_module (const char *name);

/* Whether the kernel's nbd driver is there; with LOAD, modprobe it
 * first when it is not.  Quiet: callers say what it means.
 */
extern bool nbd_driver_present (bool load);

/* Whether /dev/nbdINDEX is connected to a server. */
extern bool nbd_connected (int index);

/* Refuses (with the reason) a device that is swap or mounted. */
extern int device_busy (const char *dev);

/* Refuses (with the reason) a device that is swap or mounted, or
 * TAKEN: already HOW ("connected to a server").
 */
extern int device_check_free (const char *dev, bool taken,
                              const char *how);

/* Refuses (with the reason) an NBD device that is missing, swap,
 * mounted, or connected.
 */
extern int device_check_unused (const char *dev, int index);

/* The lowest /dev/nbdN that is unused, or -1 after reporting. */
extern int nbd_find_free (void);

/* Waits up to SECS for /dev/nbdINDEX to be connected with a size;
 * gives up early if CHILD (when > 0) exits.
 */
extern int nbd_wait_connected (int index, pid_t child, int secs);

/* Waits up to SECS for /dev/nbdINDEX to be disconnected. */
extern int nbd_wait_disconnected (int index, int secs);

#endif /* DRAM_DEVICE_H */
