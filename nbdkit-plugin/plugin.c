/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-dram-plugin: serves this machine's RAM to a recipient that
 * swaps on it.  This file is the glue between nbdkit's callbacks and
 * the region; the logic lives in params.c, backing.c and region.c.
 */

#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/socket.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "capacity.h"
#include "clock.h"
#include "identity.h"
#include "meminfo.h"
#include "params.h"
#include "peer.h"
#include "region.h"
#include "report.h"
#include "table.h"

static struct dram_params params;
static struct table table;

/* Frees regions whose lease ran out, in the serving process. */
static pthread_t reaper;
static bool reaper_running, reaper_stop;
static pthread_mutex_t reaper_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t reaper_wake = PTHREAD_COND_INITIALIZER;

void
dram_error (const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  nbdkit_verror (fmt, ap);
  va_end (ap);
}

void
dram_debug (const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  nbdkit_vdebug (fmt, ap);
  va_end (ap);
}

/* nbdkit decides where its messages go. */
void
dram_report_in_background (const char *ident, int fd)
{
}

void
dram_report_flush (void)
{
}

static void *
reap (void *arg)
{
  struct timespec ts;
  uint64_t wait_ms;

  pthread_mutex_lock (&reaper_lock);
  while (!reaper_stop) {
    pthread_mutex_unlock (&reaper_lock);
    /* A lease that starts while this sleeps is seen within a second. */
    wait_ms = table_expire (&table);
    if (wait_ms > 1000)
      wait_ms = 1000;
    pthread_mutex_lock (&reaper_lock);
    clock_gettime (CLOCK_REALTIME, &ts);
    ts.tv_nsec += (long) wait_ms * 1000000;
    ts.tv_sec += ts.tv_nsec / 1000000000;
    ts.tv_nsec %= 1000000000;
    if (!reaper_stop)
      pthread_cond_timedwait (&reaper_wake, &reaper_lock, &ts);
  }
  pthread_mutex_unlock (&reaper_lock);
  return NULL;
}

static void
dram_unload (void)
{
  if (reaper_running) {
    pthread_mutex_lock (&reaper_lock);
    reaper_stop = true;
    pthread_cond_signal (&reaper_wake);
    pthread_mutex_unlock (&reaper_lock);
    pthread_join (reaper, NULL);
  }
  table_free (&table);
  params_free (&params);
}

static int
dram_config (const char *key, const char *value)
{
  return params_set (&params, key, value);
}

static int
dram_config_complete (void)
{
  uint64_t memtotal;

  if (meminfo_get (NULL, "MemTotal", &memtotal) == -1)
    return -1;
  return params_check (&params, memtotal);
}

#define dram_config_help \
  "[size=]<SIZE>      (required) The whole budget lent, e.g. 8G.\n" \
  "region=<SIZE>      Each recipient's region (default: size, one).\n" \
  "lease=<DURATION>   A region outlives its last connection (default 5m).\n" \
  "backing=malloc|memfd|file  Where the RAM comes from (default: malloc).\n" \
  "file=<PATH>        A tmpfs/hugetlbfs file; kept across restarts.\n" \
  "dir=<DIR>          A file per region in DIR; kept across restarts.\n" \
  "allow-disk=true    Allow file=/dir= on a disk filesystem.\n" \
  "mlock=true         Pin donated pages in RAM as they are written.\n" \
  "reserve=true       Allocate the whole region at start-up.\n" \
  "force=true         Allow a size larger than this machine's RAM.\n" \
  "insecure=true      Serve remote clients without TLS."

static void
dram_dump_plugin (void)
{
  printf ("dram_backings=malloc,memfd,file\n");
  printf ("dram_file_filesystems=tmpfs,hugetlbfs\n");
  printf ("dram_trim_granularity=4096\n");
  printf ("dram_extents=pagemap,seek_data\n");
  printf ("dram_mlock=onfault\n");
  printf ("dram_reserve=yes\n");
  printf ("dram_remote_requires_tls=yes\n");
  printf ("dram_region_identity=export_description\n");
  printf ("dram_regions=per_export_name\n");
  printf ("dram_region_default=size\n");
  printf ("dram_lease_default=%us\n", (unsigned) (DEFAULT_LEASE_MS / 1000));
  printf ("dram_list_exports=default_only\n");
}

static uint64_t
clock_ms (void)
{
  return monotonic_ms ();
}

static int
dram_get_ready (void)
{
  table_init (&table, &params, params.region, params.lease_ms, clock_ms);
  if (region_precheck (&params) == -1)
    return -1;
  return table_load (&table);
}

static int
dram_after_fork (void)
{
  int err;

  if (table_map (&table) == -1)
    return -1;
  err = pthread_create (&reaper, NULL, reap, NULL);
  if (err) {
    errno = err;
    nbdkit_error ("pthread_create: %m");
    return -1;
  }
  reaper_running = true;
  return 0;
}

/* Swap pages must not cross a network in clear text. */
static int
check_peer (void)
{
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  char addr[64];

  if (params.insecure || nbdkit_is_tls () == 1)
    return 0;
  if (nbdkit_peer_name ((struct sockaddr *) &ss, &len) == -1)
    /* Not a socket (nbdkit -s, a pipe): nothing crosses a network. */
    return errno == ENOTSOCK ? 0 : -1;
  if (peer_is_local ((struct sockaddr *) &ss, len))
    return 0;
  peer_format ((struct sockaddr *) &ss, len, addr, sizeof addr);
  nbdkit_error ("refusing a connection from %s without TLS: swap pages "
                "would cross the network in clear text; start nbdkit with "
                "--tls=require --tls-psk=FILE (and dram-attach with "
                "--tls-psk FILE), or add insecure=true", addr);
  return -1;
}

/* Each export name is a region of its own; the handle is its slot. */
static void *
dram_open (int readonly)
{
  if (check_peer () == -1)
    return NULL;
  return table_open (&table, nbdkit_export_name ());
}

static void
dram_close (void *handle)
{
  table_close (&table, handle);
}

#define REGION(h) (&((struct slot *) (h))->region)

static int64_t
dram_get_size (void *handle)
{
  return REGION (handle)->size;
}

/* What a newcomer needs, and nothing of other recipients: NBD_OPT_LIST
 * shows the default export alone, described by the donor's capacity;
 * to a client it would refuse, nothing at all.
 */
static int
dram_list_exports (int readonly, int is_tls, struct nbdkit_exports *exports)
{
  struct capacity c = { .size = params.size, .region = params.region };
  char description[256];

  if (check_peer () == -1)
    return -1;
  table_capacity (&table, &c.free_bytes, &c.regions);
  capacity_describe (&c, description, sizeof description);
  return nbdkit_add_export (exports, "", description);
}

/* The region's identity (identity.h), which a reconnecting recipient
 * checks before trusting what it reads.
 */
static const char *
dram_export_description (void *handle)
{
  static char description[64];

  identity_describe (REGION (handle)->id, description, sizeof description);
  return description;
}

static int
dram_block_size (void *handle,
                 uint32_t *minimum, uint32_t *preferred, uint32_t *maximum)
{
  *minimum = 1;
  *preferred = REGION (handle)->granularity;
  *maximum = 0xffffffff;
  return 0;
}

/* Every connection sees the same memory, and flush has nothing to
 * wait for: multi-conn is safe.
 */
static int
dram_can_multi_conn (void *handle)
{
  return 1;
}

static int
dram_can_yes (void *handle)
{
  return 1;
}

static int
dram_can_fua (void *handle)
{
  return NBDKIT_FUA_NATIVE;
}

static int
dram_can_cache (void *handle)
{
  return NBDKIT_CACHE_NATIVE;
}

static int
dram_pread (void *handle, void *buf, uint32_t count, uint64_t offset,
            uint32_t flags)
{
  return region_read (REGION (handle), buf, count, offset);
}

static int
dram_pwrite (void *handle, const void *buf, uint32_t count, uint64_t offset,
             uint32_t flags)
{
  return region_write (REGION (handle), buf, count, offset, flags & NBDKIT_FLAG_FUA);
}

/* Zeroing is always fast: it releases memory rather than writing it. */
static int
dram_zero (void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
  if (region_zero (REGION (handle), count, offset) == -1)
    return -1;
  return (flags & NBDKIT_FLAG_FUA) ? region_flush (REGION (handle)) : 0;
}

static int
dram_trim (void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
  return dram_zero (handle, count, offset, flags);
}

static int
dram_flush (void *handle, uint32_t flags)
{
  return region_flush (REGION (handle));
}

static int
dram_cache (void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
  return region_cache (REGION (handle), count, offset);
}

static int
add_extent (void *opaque, uint64_t offset, uint64_t length, bool hole)
{
  uint32_t type = hole ? NBDKIT_EXTENT_HOLE | NBDKIT_EXTENT_ZERO : 0;

  return nbdkit_add_extent (opaque, offset, length, type);
}

static int
dram_extents (void *handle, uint32_t count, uint64_t offset, uint32_t flags,
              struct nbdkit_extents *extents)
{
  return region_extents (REGION (handle), count, offset, add_extent, extents);
}

/* nbdkit 1.32.4 to 1.33.9 (Debian 12 ships 1.32.5) abort with
 * "raw_send_socket: Assertion `sock >= 0' failed" when a client hangs
 * up while several threads hold replies for it: the first send to fail
 * closes the socket, the next asserts (fixed by nbdkit commit 9d82aa4f,
 * in 1.33.10).  One recipient losing its connection would take every
 * recipient's swap with the donor.  There, each connection's requests
 * run on one thread, which is what nbdkit's own advice (--threads=1)
 * comes to; connections still run in parallel.
 */
#if NBDKIT_VERSION_MAJOR == 1 && \
  ((NBDKIT_VERSION_MINOR == 32 && NBDKIT_VERSION_MICRO >= 4) || \
   (NBDKIT_VERSION_MINOR == 33 && NBDKIT_VERSION_MICRO < 10))
#define THREAD_MODEL NBDKIT_THREAD_MODEL_SERIALIZE_REQUESTS
#else
#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL
#endif

static struct nbdkit_plugin plugin = {
  .name = "dram",
  .longname = "dram: lend this machine's RAM as a recipient's swap",
  .version = PACKAGE_VERSION,
  .unload = dram_unload,
  .config = dram_config,
  .config_complete = dram_config_complete,
  .config_help = dram_config_help,
  .magic_config_key = "size",
  .dump_plugin = dram_dump_plugin,
  .get_ready = dram_get_ready,
  .after_fork = dram_after_fork,
  .open = dram_open,
  .close = dram_close,
  .list_exports = dram_list_exports,
  .get_size = dram_get_size,
  .export_description = dram_export_description,
  .block_size = dram_block_size,
  .can_write = dram_can_yes,
  .can_flush = dram_can_yes,
  .can_trim = dram_can_yes,
  .can_zero = dram_can_yes,
  .can_fast_zero = dram_can_yes,
  .can_extents = dram_can_yes,
  .can_fua = dram_can_fua,
  .can_multi_conn = dram_can_multi_conn,
  .can_cache = dram_can_cache,
  .pread = dram_pread,
  .pwrite = dram_pwrite,
  .zero = dram_zero,
  .trim = dram_trim,
  .flush = dram_flush,
  .cache = dram_cache,
  .extents = dram_extents,
  .errno_is_preserved = 1,
};

NBDKIT_REGISTER_PLUGIN (plugin)
