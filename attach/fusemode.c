/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* The module-free front-end, for kernels without the nbd driver: a
 * resident dram-attach serves the donor's export as a file on a
 * private FUSE mount (fuseserver.c), and a loop device on that file
 * (loop.c) becomes swap.  FUSE and loop are in nearly every kernel.
 */

#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "donor.h"
#include "fuseserver.h"
#include "fusetree.h"
#include "loop.h"
#include "modes.h"
#include "mount.h"
#include "report.h"
#include "resident.h"
#include "state.h"
#include "swap.h"

/* Everything the mode needs from the machine, checked before the donor
 * is contacted: FUSE, loop devices, and a writable place for mounts.
 */
static int
check_machine (char *fusedir, size_t len)
{
  if (access ("/dev/fuse", R_OK | W_OK) == -1) {
    dram_error ("/dev/fuse: %m (the module-free mode needs FUSE: "
                "modprobe fuse)");
    return -1;
  }
  if (access ("/dev/loop-control", R_OK | W_OK) == -1) {
    dram_error ("/dev/loop-control: %m (the module-free mode needs loop "
                "devices: modprobe loop)");
    return -1;
  }
  if ((size_t) snprintf (fusedir, len, "%s/fuse", state_dir ()) >= len) {
    dram_error ("DRAM_RUNDIR is too long");
    return -1;
  }
  if ((mkdir (state_dir (), 0755) == -1 && errno != EEXIST) ||
      (mkdir (fusedir, 0700) == -1 && errno != EEXIST) ||
      access (fusedir, W_OK) == -1) {
    dram_error ("%s: %m (dram-attach keeps its mounts there; "
                "DRAM_RUNDIR chooses another place)", fusedir);
    return -1;
  }
  return 0;
}

/* The resident FUSE server: never returns. */
static void __attribute__ ((noreturn))
server (const struct options *o, struct donor *d, const char *mountpoint,
        const char *health, int ready)
{
  if (leave_session () == -1)
    _exit (EXIT_FAILURE);
  /* Until it is serving, what goes wrong reaches the user's terminal. */
  resident_exit (fuse_server_run (o, d, mountpoint, health, ready) == 0
         ? EXIT_SUCCESS : EXIT_FAILURE);
}

static int
attach_fuse (const struct options *o)
{
  struct attach_state st;
  struct donor d;
  char fusedir[256], mountpoint[sizeof st.mountpoint], file[600];
  int ready[2], lfd;
  pid_t pid;

  memset (&st, 0, sizeof st);
  if (o->device) {
    if (loop_check_unused (o->device) == -1)
      return EXIT_USAGE;
    snprintf (st.device, sizeof st.device, "%s", o->device);
  }
  if (check_machine (fusedir, sizeof fusedir) == -1)
    return EXIT_REFUSED;
  if (connect_donor (o, &d) == -1)
    return EXIT_REFUSED;

  fill_state (&st, "fuse", o, &d);
  snprintf (st.handover, sizeof st.handover, "fuse");
  snprintf (st.tls, sizeof st.tls, "%s",
            o->tls_psk || o->target.tls_uri ? "fuse" : "");

  snprintf (mountpoint, sizeof mountpoint, "%s/XXXXXX", fusedir);
  if (mkdtemp (mountpoint) == NULL) {
    dram_error ("%s: %m", mountpoint);
    goto out_close;
  }
  if ((size_t) snprintf (st.health, sizeof st.health, "%s.health",
                        mountpoint) >= sizeof st.health) {
    dram_error ("DRAM_RUNDIR is too long");
    goto out_rmdir;
  }
  if (pipe2 (ready, O_CLOEXEC) == -1) {
    dram_error ("pipe: %m");
    goto out_rmdir;
  }
  pid = fork ();
  if (pid == -1) {
    dram_error ("fork: %m");
    close (ready[0]);
    close (ready[1]);
    goto out_rmdir;
  }
  if (pid == 0) {
    close (ready[0]);
    server (o, &d, mountpoint, st.health, ready[1]);
  }
  close (ready[1]);
  /* The server has the connections; closing ours sends nothing. */
  donor_close (&d);
  if (wait_helper_ready (ready[0], pid, "FUSE server") == -1) {
    close (ready[0]);
    goto out_stop;
  }
  close (ready[0]);

  /* With swap, the loop device lets go of the file at swapoff. */
  snprintf (file, sizeof file, "%s/%s", mountpoint, FUSE_TREE_FILE);
  lfd = loop_attach (file, o->swap, st.device, sizeof st.device);
  if (lfd == -1)
    goto out_unmount;

  snprintf (st.mountpoint, sizeof st.mountpoint, "%s", mountpoint);
  st.pid = pid;

  if (o->swap && make_swap (o, &st) == -1)
    goto out_loop;
  close (lfd);
  if (state_save (&st) == -1) {
    if (o->swap)
      swap_off (st.device);
    goto out_loop;
  }
  print_attached (&st);
  return EXIT_SUCCESS;

 out_loop:
  close (lfd);
  loop_detach (st.device);
 out_unmount:
  unmount (mountpoint);
 out_stop:
  stop_helper (pid);
 out_rmdir:
  unlink (st.health);
  rmdir (mountpoint);
 out_close:
  donor_close (&d);
  return EXIT_REFUSED;
}

/* A hole punched in the FUSE file (the loop device over it is gone
 * with swapoff), which the FUSE server sends on as trims.
 */
static void
fusemode_trim_file (const struct attach_state *st, char *buf, size_t len)
{
  snprintf (buf, len, "%s/" FUSE_TREE_FILE, st->mountpoint);
}

static int
fusemode_trim (int fd, uint64_t size)
{
  return fallocate (fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, size);
}

static int
detach_fuse (const struct attach_state *st)
{
  if (loop_detach (st->device) == -1 || unmount (st->mountpoint) == -1)
    return -1;
  stop_helper (st->pid);
  if (st->health[0])
    unlink (st->health);
  if (rmdir (st->mountpoint) == -1 && errno != ENOENT) {
    dram_error ("%s: %m", st->mountpoint);
    return -1;
  }
  return 0;
}

static const char *
fusemode_state (const struct attach_state *st)
{
  if (kill (st->pid, 0) == -1)
    return "server gone";
  return mounted (st->mountpoint) ? "connected" : "not mounted";
}

const struct attach_mode fuse_mode = {
  .name = "fuse", .mode = MODE_FUSE, .automatic = true, .region = true,
  .attach = attach_fuse, .trim_file = fusemode_trim_file,
  .trim = fusemode_trim, .detach = detach_fuse, .state = fusemode_state,
};
