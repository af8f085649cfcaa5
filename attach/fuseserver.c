/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* The module-free front-end's server: a FUSE filesystem holding one
 * file, "swap", whose bytes are the donor's export.  A loop device on
 * that file (loop.c) becomes the swap device.
 *
 * One thread reads /dev/fuse.  For a read or write it takes a slot (a
 * request and its buffer, all allocated before the process locked its
 * memory), copies the data of a write into it, sends the request to the
 * donor on one of the connections (engine.c) and goes back for the next
 * request, without waiting for the reply; the connection's event loop
 * answers FUSE when the reply comes and gives the slot back.  So one
 * thread wakes to send a request and one to answer it, and nothing is
 * allocated on the request path.  One reader, not several: on the
 * machines measured a wake-up, not a copy, is what a request costs, and
 * more readers only wake more threads.  The reader may block in a send
 * (the socket full) while the loops go on reading replies, which is why
 * it is not a loop itself.  When every slot is in use it waits for one.
 * The rare hole punches and fsyncs go to a helper thread, which carries
 * them one at a time and waits for each.
 */

#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "donor.h"
#include "engine.h"
#include "fuseserver.h"
#include "fusetree.h"
#include "link.h"
#include "nbdproto.h"
#include "report.h"
#include "resident.h"

#define SLOTS 16                /* requests in flight at most */
/* What libfuse reads into after the INIT request: the largest write
 * (max_write) and its header (FUSE_BUFFER_HEADER_SIZE in libfuse).
 */
#define FUSE_BUF_SIZE (FUSE_TREE_MAX_IO + 4096)
#define STACK_SIZE (256 * 1024)
/* An NBD trim's length has 32 bits: a larger hole takes several. */
#define MAX_TRIM (UINT64_C (1) << 30)

static struct {
  struct engine_conn *conn[MAX_CONNECTIONS];
  unsigned nr;
  atomic_uint next_conn;
  struct slot *slot[SLOTS];
  atomic_ullong free_slots;     /* bit I set: slot[I] free */
  struct fuse_session *se;
  sem_t nr_free;                /* how many bits of free_slots are set */
  struct fuse_buf buf;          /* the reader's */
  pthread_t reader;
  bool has_reader;
  sem_t ended;                  /* the reader stopped */
  pthread_t helper;
  bool has_helper;
  _Atomic (struct slot *) rare; /* hole punches and fsyncs for it */
  sem_t nr_rare;
} srv;

/* A request in flight. */
struct slot {
  struct engine_req req;
  fuse_req_t fuse;
  struct slot *next;            /* waiting for the helper */
  uint64_t offset, length;      /* a hole punch; length 0: an fsync */
  unsigned index;
  char buf[FUSE_TREE_MAX_IO];
};

/* A worker waiting for its request. */
struct wait {
  struct engine_req req;
  sem_t done;
};

/* The connections take requests in turn. */
static void
send_req (struct engine_req *r)
{
  unsigned c = atomic_fetch_add (&srv.next_conn, 1) % srv.nr;

  engine_issue (srv.conn[c], r);
}

static void
wake (struct engine_req *r)
{
  struct wait *w = r->opaque;

  sem_post (&w->done);
}

/* Carries one request to the donor and waits for it.  Returns 0 or an
 * errno.
 */
static int
carry (uint16_t type, uint32_t len, uint64_t offset)
{
  struct wait w = {
    .req = { .type = type, .len = len, .offset = offset,
             .done = wake, .opaque = &w },
  };

  sem_init (&w.done, 0, 0);
  send_req (&w.req);
  while (sem_wait (&w.done) == -1 && errno == EINTR)
    ;
  sem_destroy (&w.done);
  return w.req.error;
}

/* On the reader's thread: waits for a free slot and takes it. */
static struct slot *
take_slot (void)
{
  unsigned long long bits, mine;

  while (sem_wait (&srv.nr_free) == -1 && errno == EINTR)
    ;
  /* The semaphore says a bit is set; only the bit is raced for. */
  bits = atomic_load (&srv.free_slots);
  do
    mine = bits & -bits;
  while (!atomic_compare_exchange_weak (&srv.free_slots, &bits,
                                        bits & ~mine));
  return srv.slot[__builtin_ctzll (mine)];
}

/* From any thread. */
static void
give_slot (struct slot *s)
{
  atomic_fetch_or (&srv.free_slots, 1ULL << s->index);
  sem_post (&srv.nr_free);
}

/* On a connection's thread: the donor answered a read or write. */
static void
answer (struct engine_req *r)
{
  struct slot *s = r->opaque;

  if (r->error)
    fuse_reply_err (s->fuse, r->error);
  else if (r->type == NBD_CMD_READ)
    fuse_reply_buf (s->fuse, s->buf, r->len);
  else
    fuse_reply_write (s->fuse, r->len);
  give_slot (s);
}

static void
start (struct slot *s, fuse_req_t req, uint16_t type, size_t size, off_t off)
{
  s->fuse = req;
  s->req = (struct engine_req) {
    .type = type, .buf = s->buf, .len = size, .offset = off,
    .done = answer, .opaque = s,
  };
  send_req (&s->req);
}

static void
op_init (void *userdata, struct fuse_conn_info *conn)
{
  fuse_tree_init_conn (conn);
  conn->max_background = SLOTS;
  conn->congestion_threshold = SLOTS * 3 / 4;
}

static void
op_read (fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
         struct fuse_file_info *fi)
{
  size = fuse_tree_clamp_read (size, off);
  if (size == 0) {
    fuse_reply_buf (req, NULL, 0);
    return;
  }
  start (take_slot (), req, NBD_CMD_READ, size, off);
}

static void
op_write (fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
          off_t off, struct fuse_file_info *fi)
{
  struct slot *s;

  if (!fuse_tree_fits (size, off)) {
    fuse_reply_err (req, ENOSPC);
    return;
  }
  if (size > FUSE_TREE_MAX_IO) {  /* max_write says it cannot be */
    fuse_reply_err (req, EINVAL);
    return;
  }
  /* libfuse's buffer takes the next request at once. */
  s = take_slot ();
  memcpy (s->buf, buf, size);
  start (s, req, NBD_CMD_WRITE, size, off);
}

/* From the reader's thread: S goes to the helper. */
static void
hand_over (struct slot *s, fuse_req_t req, uint64_t offset, uint64_t length)
{
  struct slot *head = atomic_load (&srv.rare);

  s->fuse = req;
  s->offset = offset;
  s->length = length;
  do
    s->next = head;
  while (!atomic_compare_exchange_weak (&srv.rare, &head, s));
  sem_post (&srv.nr_rare);
}

/* Punching a hole (swap discard through the loop device) trims the
 * donor, which gives the RAM back.
 */
static void
op_fallocate (fuse_req_t req, fuse_ino_t ino, int mode, off_t off,
              off_t len, struct fuse_file_info *fi)
{
  if (!fuse_tree_fits (len, off)) {
    fuse_reply_err (req, ENOSPC);
    return;
  }
  if (mode == 0 || mode == FALLOC_FL_KEEP_SIZE) {
    fuse_reply_err (req, 0);    /* the space is there already */
    return;
  }
  if (mode != (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)) {
    fuse_reply_err (req, EOPNOTSUPP);
    return;
  }
  if (len == 0) {
    fuse_reply_err (req, 0);
    return;
  }
  hand_over (take_slot (), req, off, len);
}

static void
op_fsync (fuse_req_t req, fuse_ino_t ino, int datasync,
          struct fuse_file_info *fi)
{
  hand_over (take_slot (), req, 0, 0);
}

/* On the helper's thread: a hole punch or fsync, one at a time. */
static int
carry_rare (const struct slot *s)
{
  uint64_t done = 0, n;
  int err = 0;

  if (s->length == 0)
    return carry (NBD_CMD_FLUSH, 0, 0);
  while (err == 0 && done < s->length) {
    n = s->length - done;
    if (n > MAX_TRIM)
      n = MAX_TRIM;
    err = carry (NBD_CMD_TRIM, n, s->offset + done);
    done += n;
  }
  return err;
}

/* The one consumer of srv.rare: it alone takes from it, so the head
 * it read cannot have gone and come back.
 */
static struct slot *
take_rare (void)
{
  struct slot *head = atomic_load (&srv.rare);

  while (!atomic_compare_exchange_weak (&srv.rare, &head, head->next))
    ;
  return head;
}

static void *
help (void *arg)
{
  struct slot *s;

  prefault_stack ();
  for (;;) {
    while (sem_wait (&srv.nr_rare) == -1 && errno == EINTR)
      ;
    pthread_setcancelstate (PTHREAD_CANCEL_DISABLE, NULL);
    s = take_rare ();
    fuse_reply_err (s->fuse, carry_rare (s));
    give_slot (s);
    pthread_setcancelstate (PTHREAD_CANCEL_ENABLE, NULL);
  }
  return NULL;
}

static const struct fuse_lowlevel_ops ops = {
  FUSE_TREE_OPS,
  .init = op_init,
  .read = op_read,
  .write = op_write,
  .fallocate = op_fallocate,
  .fsync = op_fsync,
};

static int
serve_init (void)
{
  struct fuse_buf buf = { .mem = NULL };
  int r;

  do
    r = fuse_session_receive_buf (srv.se, &buf);
  while (r == -EINTR);
  if (r > 0)
    fuse_session_process_buf (srv.se, &buf);
  free (buf.mem);
  if (r <= 0) {
    dram_error ("fuse: the kernel did not start the filesystem");
    return -1;
  }
  return 0;
}

static void *
read_fuse (void *arg)
{
  int r;

  prefault_stack ();
  while (!fuse_session_exited (srv.se)) {
    r = fuse_session_receive_buf (srv.se, &srv.buf);
    if (r == -EINTR)
      continue;
    if (r <= 0)                 /* unmounted, or the device failed */
      break;
    /* Not cancelled halfway through a request. */
    pthread_setcancelstate (PTHREAD_CANCEL_DISABLE, NULL);
    fuse_session_process_buf (srv.se, &srv.buf);
    pthread_setcancelstate (PTHREAD_CANCEL_ENABLE, NULL);
  }
  fuse_session_exit (srv.se);
  sem_post (&srv.ended);
  return NULL;
}

/* The reader's buffer, and one malloc arena, never trimmed: a request's
 * small allocations in libfuse, and a reconnect's in libnbd, reuse
 * memory that is already locked.
 */
static int
alloc_reader (void)
{
  resident_heap (RESIDENT_HEAP);
  srv.buf = (struct fuse_buf) {
    .mem = resident_alloc (FUSE_BUF_SIZE), .size = FUSE_BUF_SIZE,
  };
  sem_init (&srv.ended, 0, 0);
  return srv.buf.mem ? 0 : -1;
}

/* THREAD running FN, with a stack of STACK_SIZE. */
static int
start_thread (pthread_t *thread, void *(*fn) (void *))
{
  pthread_attr_t attr;
  int err;

  pthread_attr_init (&attr);
  pthread_attr_setstacksize (&attr, STACK_SIZE);
  err = pthread_create (thread, &attr, fn, NULL);
  pthread_attr_destroy (&attr);
  if (err) {
    errno = err;
    dram_error ("fuse: pthread_create: %m");
    return -1;
  }
  return 0;
}

static void
stop_thread (pthread_t thread, bool *has)
{
  if (!*has)
    return;
  pthread_cancel (thread);
  pthread_join (thread, NULL);
  *has = false;
}

/* Until the filesystem is unmounted or the process told to stop
 * (libfuse's signal handlers end the session).
 */
static int
serve (void)
{
  while (!fuse_session_exited (srv.se))
    sem_wait (&srv.ended);      /* EINTR: a signal, look again */
  return 0;
}

static int
alloc_slots (void)
{
  struct slot *slots = resident_alloc (SLOTS * sizeof (struct slot));
  unsigned i;

  if (slots == NULL)
    return -1;
  for (i = 0; i < SLOTS; i++) {
    srv.slot[i] = &slots[i];
    srv.slot[i]->index = i;
  }
  atomic_store (&srv.free_slots, SLOTS == 64 ? ~0ULL : (1ULL << SLOTS) - 1);
  sem_init (&srv.nr_free, 0, SLOTS);
  sem_init (&srv.nr_rare, 0, 0);
  return 0;
}

/* The mount's options, as mount(8) shows them. */
static struct fuse_session *
new_session (const char *fsname)
{
  char opts[600];
  char *argv[] = { "dram-attach", "-o", opts, NULL };
  struct fuse_args args = FUSE_ARGS_INIT (3, argv);

  snprintf (opts, sizeof opts, "fsname=%s,subtype=dram,max_read=%d,"
            "default_permissions", fsname, FUSE_TREE_MAX_IO);
  return fuse_session_new (&args, &ops, sizeof ops, NULL);
}

static const struct options *opts;
static struct donor *donor;

/* On a connection's thread, after the donor was lost. */
static struct link *
reconnect (void *opaque, int timeout, bool *lost, char *why, size_t len)
{
  struct nbd_handle *h = donor_reconnect (opts, donor, timeout, lost, why,
                                          len);
  struct link *l;

  if (h == NULL)
    return NULL;
  l = donor_link (h, donor->name);
  if (l == NULL)
    snprintf (why, len, "could not take the new connection over");
  return l;
}

int
fuse_server_run (const struct options *o, struct donor *d,
                 const char *mountpoint, const char *health_path,
                 int ready_fd)
{
  struct engine_reconnect rc = { .connect = reconnect };
  struct fuse_session *se;
  sigset_t stop_signals;
  char fsname[400];
  unsigned i;
  int r = -1;

  fuse_tree_set_size (d->size);
  opts = o;
  donor = d;
  rc.give_up = donor_reconnect_time (o, d);
  rc.health = health_create (health_path, d->nr);
  if (rc.health == NULL)
    return -1;
  snprintf (fsname, sizeof fsname, "dram:%s", d->name);
  if (alloc_slots () == -1)
    return -1;
  se = new_session (fsname);
  if (se == NULL) {
    dram_error ("fuse: cannot create a session");
    return -1;
  }
  if (fuse_set_signal_handlers (se) == -1 ||
      fuse_session_mount (se, mountpoint) == -1) {
    dram_error ("fuse: cannot mount %s", mountpoint);
    goto out_destroy;
  }
  srv.se = se;
  /* The kernel's first request, INIT, read into a buffer of libfuse's
   * own; after it libfuse reads at most FUSE_BUF_SIZE at a time.
   */
  if (serve_init () == -1)
    goto out_unmount;
  if (alloc_reader () == -1)
    goto out_unmount;
  if (become_resident (resident_libnbd_libs) == -1)
    goto out_unmount;
  /* libfuse's handlers for SIGTERM, SIGINT and SIGHUP end the session;
   * only this thread takes them, so that serve () wakes.
   */
  sigemptyset (&stop_signals);
  sigaddset (&stop_signals, SIGTERM);
  sigaddset (&stop_signals, SIGINT);
  sigaddset (&stop_signals, SIGHUP);
  pthread_sigmask (SIG_BLOCK, &stop_signals, NULL);
  /* Every thread the server will ever have exists before the first
   * swap request: none is made (no stack, no arena) under pressure.
   */
  r = 0;
  for (i = 0; r == 0 && i < d->nr; i++) {
    struct link *l = donor_link (d->h[i], d->name);

    d->h[i] = NULL;             /* the link's, and then the engine's */
    srv.conn[i] = l ? engine_start (l, NULL, &rc) : NULL;
    if (srv.conn[i] == NULL)
      r = -1;
    else
      srv.nr++;
  }
  if (r == 0 && start_thread (&srv.helper, help) == 0)
    srv.has_helper = true;
  if (srv.has_helper && start_thread (&srv.reader, read_fuse) == 0)
    srv.has_reader = true;
  pthread_sigmask (SIG_UNBLOCK, &stop_signals, NULL);
  if (!srv.has_reader) {
    r = -1;
    goto out_stop;
  }
  /* Mounted and serving: the parent can set up the loop device.  The
   * log's writer thread, too, exists before the first swap request.
   */
  quiet_stderr ();
  if (write (ready_fd, "r", 1) != 1) {
    r = -1;
    goto out_stop;
  }
  close (ready_fd);

  r = serve ();

 out_stop:
  /* Nothing issues requests any more before the connections go. */
  fuse_session_exit (se);
  stop_thread (srv.reader, &srv.has_reader);
  stop_thread (srv.helper, &srv.has_helper);
  for (i = 0; i < srv.nr; i++)
    engine_stop (srv.conn[i]);
 out_unmount:
  fuse_session_unmount (se);
 out_destroy:
  fuse_remove_signal_handlers (se);
  fuse_session_destroy (se);
  return r == 0 ? 0 : -1;
}
