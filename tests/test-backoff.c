/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests: the reconnecting back-off (backoff.c) on a fake clock,
 * and the engine's reconnect (engine.c) on fake links: requests parked
 * while the donor is away are sent on the new connection, and fail
 * when the region is lost or the time is up.
 */

#include <config.h>

#include <errno.h>
#include <poll.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include <check.h>

#include "backoff.h"
#include "clock.h"
#include "engine.h"
#include "link.h"
#include "nbdproto.h"
#include "unit.h"

static int64_t now_ms;

static int64_t
fake_clock (void)
{
  return now_ms;
}

/* The pauses double from 250 ms to 2 s and stay there; each try may
 * last 10 s.
 */
START_TEST (delays)
{
  static const int64_t want[] = { 250, 500, 1000, 2000, 2000, 2000 };
  struct backoff b;
  char msg[200];
  size_t i;

  now_ms = 1000;
  backoff_start (&b, fake_clock, 120);
  for (i = 0; i < sizeof want / sizeof *want; i++) {
    ck_assert_int_eq (backoff_attempt (&b, "refused", "lost", msg,
                                       sizeof msg), RECONNECT_ATTEMPT_MS);
    ck_assert_int_eq (backoff_failed (&b), want[i]);
    now_ms += want[i];
  }
  /* A try the kernel did not take pauses without doubling. */
  ck_assert_int_eq (backoff_pause (&b), 2000);
  ck_assert_int_eq (backoff_pause (&b), 2000);
  /* A new run starts from the first pause. */
  backoff_start (&b, fake_clock, 120);
  ck_assert_int_eq (backoff_failed (&b), 250);
  ck_assert_int_eq (b.attempts, 0);
}
END_TEST

/* One step of a run on the fake clock: the clock moves ADVANCE ms,
 * then OP ('a' a try, 'f' a failed try's pause, 'p' a pause without
 * doubling) returns WANT.
 */
struct step {
  int64_t advance;
  char op;
  int64_t want;
};

/* Runs the N steps S from 1000 ms, for GIVE_UP seconds; each try that
 * fails fails with "connection refused", after "lost the donor: EOF".
 * MSG is the last message.
 */
static void
run_steps (struct backoff *b, unsigned give_up, const struct step *s,
           size_t n, char *msg, size_t len)
{
  int64_t got;
  size_t i;

  now_ms = 1000;
  backoff_start (b, fake_clock, give_up);
  for (i = 0; i < n; i++) {
    now_ms += s[i].advance;
    if (s[i].op == 'a')
      got = backoff_attempt (b, "connection refused", "lost the donor: EOF",
                             msg, len);
    else if (s[i].op == 'f')
      got = backoff_failed (b);
    else
      got = backoff_pause (b);
    ck_assert_msg (got == s[i].want, "step %zu: %lld, not %lld", i,
                   (long long) got, (long long) s[i].want);
  }
}

/* A try and a pause take no more than is left. */
START_TEST (capped)
{
  static const struct step steps[] = {
    { 0, 'a', 10000 }, { 5000, 'a', 7000 }, { 6900, 'f', 100 },
    { 0, 'a', 100 }, { 99, 'p', 1 }, { 0, 'a', 1 },
  };
  struct backoff b;
  char msg[200];

  run_steps (&b, 12, steps, sizeof steps / sizeof *steps, msg, sizeof msg);
  ck_assert_int_eq (b.attempts, 4);
}
END_TEST

/* At the deadline the run ends, saying why: the last try's failure, or
 * what was lost when nothing was tried.
 */
START_TEST (deadline)
{
  static const struct step tried[] = {
    { 0, 'a', 10000 }, { 0, 'a', 10000 }, { 12000, 'p', 0 }, { 0, 'a', -1 },
  };
  static const struct step untried[] = { { 3001, 'a', -1 } };
  struct backoff b;
  char msg[200];

  run_steps (&b, 12, tried, sizeof tried / sizeof *tried, msg, sizeof msg);
  ck_assert_str_eq (msg, "gave up reconnecting to the donor after 12 s "
                    "(2 attempts): connection refused");
  ck_assert_int_eq (b.attempts, 2);
  run_steps (&b, 3, untried, 1, msg, sizeof msg);
  ck_assert_str_eq (msg, "gave up reconnecting to the donor after 3 s "
                    "(0 attempts): lost the donor: EOF");
}
END_TEST

/* A run that worked says how long it took. */
START_TEST (done)
{
  static const struct step steps[] = {
    { 0, 'a', 10000 }, { 250, 'a', 10000 }, { 1250, 'a', 10000 },
  };
  struct backoff b;
  char msg[200];

  run_steps (&b, 120, steps, sizeof steps / sizeof *steps, msg, sizeof msg);
  backoff_done (&b, msg, sizeof msg);
  ck_assert_str_eq (msg, "reconnected to the donor after 1.5 s "
                    "(3 attempts)");
}
END_TEST

/* The engine's clock: the real one, jumped forward by SKEW (a try that
 * "took" long), so that the engine's pauses still end.
 */
static _Atomic int64_t skew;

static int64_t
skewed_clock (void)
{
  return monotonic_ms () + atomic_load (&skew);
}

/* A fake donor connection: it answers every request at once, until
 * the test kills it.
 */
struct fake_link {
  struct link l;
  unsigned id;
  int kick;                     /* eventfd: the loop looks at DEAD */
  atomic_bool dead;
};

static atomic_uint sent[8];     /* requests each link answered */

static int
fake_send (struct link *l, struct engine_req *r)
{
  struct fake_link *f = (struct fake_link *) l;

  if (atomic_load (&f->dead)) {
    errno = ENOTCONN;
    return -1;
  }
  atomic_fetch_add (&sent[f->id], 1);
  link_completed (r, 0);
  return 0;
}

static int
fake_fd (struct link *l)
{
  return ((struct fake_link *) l)->kick;
}

static short
fake_events (struct link *l)
{
  return POLLIN;
}

static int
fake_notify (struct link *l, short revents)
{
  struct fake_link *f = (struct fake_link *) l;
  uint64_t v;

  if (read (f->kick, &v, sizeof v) != sizeof v)
    return -1;
  return atomic_load (&f->dead) ? -1 : 0;
}

static bool
fake_dead (struct link *l)
{
  return atomic_load (&((struct fake_link *) l)->dead);
}

static const char *
fake_error (struct link *l)
{
  return "the fake donor hung up";
}

static void
fake_shutdown (struct link *l)
{
}

static void
fake_close (struct link *l)
{
  struct fake_link *f = (struct fake_link *) l;

  close (f->kick);
  free (f);
}

static const struct link_ops fake_ops = {
  .send = fake_send, .fd = fake_fd, .events = fake_events,
  .notify = fake_notify, .dead = fake_dead, .error = fake_error,
  .shutdown = fake_shutdown, .close = fake_close,
};

static struct link *
fake_link (unsigned id)
{
  struct fake_link *f = calloc (1, sizeof *f);

  ck_assert_ptr_nonnull (f);
  f->l.ops = &fake_ops;
  f->id = id;
  f->kick = eventfd (0, EFD_CLOEXEC);
  ck_assert_int_ge (f->kick, 0);
  return &f->l;
}

static void
kill_link (struct link *l)
{
  struct fake_link *f = (struct fake_link *) l;
  uint64_t one = 1;

  atomic_store (&f->dead, true);
  ck_assert_int_eq (write (f->kick, &one, sizeof one), sizeof one);
}

/* What the fake donor does when the engine reconnects: the first try
 * waits for the test (which issues requests meanwhile), then each try
 * does the next of SCRIPT: 'r' refused (and takes JUMP ms of the
 * clock), 'l' another region, 'u' up on a new link.
 */
static const char *script;
static unsigned tries;
static int timeouts[8];
static int64_t jump;
static sem_t in_connect, go, finished;

static struct link *
fake_connect (void *opaque, int timeout_ms, bool *lost, char *why,
              size_t len)
{
  char step = script[tries];

  if (tries == 0) {
    sem_post (&in_connect);
    sem_wait (&go);
  }
  if (tries < sizeof timeouts / sizeof *timeouts)
    timeouts[tries] = timeout_ms;
  tries++;
  *lost = step == 'l';
  if (step == 'u')
    return fake_link (tries);
  if (step == 'l')
    snprintf (why, len, "the donor serves another region");
  else {
    snprintf (why, len, "connection refused");
    atomic_fetch_add (&skew, jump);
  }
  return NULL;
}

#define NR_REQS 3
static struct engine_req reqs[NR_REQS];
static char bufs[NR_REQS][512];

static void
req_done (struct engine_req *r)
{
  sem_post (&finished);
}

static void
wait_sem (sem_t *s)
{
  struct timespec ts;

  clock_gettime (CLOCK_REALTIME, &ts);
  ts.tv_sec += 20;
  ck_assert_int_eq (sem_timedwait (s, &ts), 0);
}

static struct engine_conn *
start_engine (const char *steps, unsigned give_up, int64_t jump_ms,
              struct link **first)
{
  struct engine_reconnect rc = {
    .connect = fake_connect, .give_up = give_up, .now = skewed_clock,
  };
  struct engine_conn *c;

  script = steps;
  tries = 0;
  jump = jump_ms;
  atomic_store (&skew, 0);
  memset (timeouts, 0, sizeof timeouts);
  ck_assert_int_eq (sem_init (&in_connect, 0, 0), 0);
  ck_assert_int_eq (sem_init (&go, 0, 0), 0);
  ck_assert_int_eq (sem_init (&finished, 0, 0), 0);
  *first = fake_link (0);
  c = engine_start (*first, NULL, &rc);
  ck_assert_ptr_nonnull (c);
  return c;
}

static void
issue (struct engine_conn *c, unsigned i)
{
  reqs[i] = (struct engine_req) {
    .type = NBD_CMD_WRITE, .len = sizeof bufs[i], .offset = i * 512,
    .buf = bufs[i], .done = req_done, .error = -1,
  };
  engine_issue (c, &reqs[i]);
}

/* Kills the first link, waits for the engine's first try and issues
 * every request while it is in it, then lets the try go on.
 */
static void
lose_and_issue (struct engine_conn *c, struct link *first)
{
  unsigned i;

  kill_link (first);
  wait_sem (&in_connect);
  for (i = 0; i < NR_REQS; i++)
    issue (c, i);
  ck_assert_int_eq (sem_trywait (&finished), -1);
  sem_post (&go);
  for (i = 0; i < NR_REQS; i++)
    wait_sem (&finished);
}

/* Refused twice, then back: what waited goes out on the new link. */
START_TEST (engine_back)
{
  struct link *first;
  struct engine_conn *c;
  double secs;
  unsigned i, attempts;

  c = start_engine ("rru", 5, 1000, &first);
  issue (c, 0);
  wait_sem (&finished);
  ck_assert_int_eq (reqs[0].error, 0);
  ck_assert_uint_eq (atomic_load (&sent[0]), 1);

  clear_error ();
  lose_and_issue (c, first);
  for (i = 0; i < NR_REQS; i++)
    ck_assert_int_eq (reqs[i].error, 0);
  ck_assert_uint_eq (tries, 3);
  ck_assert_uint_eq (atomic_load (&sent[3]), NR_REQS);
  /* Each try has what is left of the 5 s, of which the refusals took
   * a second each, and the pauses 250 and 500 ms.
   */
  ck_assert_int_le (timeouts[0], 5000);
  ck_assert_int_gt (timeouts[0], 4000);
  ck_assert_int_le (timeouts[1], 5000 - 1000 - 250);
  ck_assert_int_le (timeouts[2], 5000 - 2000 - 250 - 500);
  ck_assert_int_eq (sscanf (last_error, "reconnected to the donor after "
                            "%lf s (%u attempts)", &secs, &attempts), 2);
  ck_assert_uint_eq (attempts, 3);
  ck_assert (secs >= 2.7 && secs < 20);

  /* And what comes later too. */
  issue (c, 0);
  wait_sem (&finished);
  ck_assert_int_eq (reqs[0].error, 0);
  ck_assert_uint_eq (atomic_load (&sent[3]), NR_REQS + 1);
  engine_stop (c);
}
END_TEST

/* The engine gives up after one try of STEPS (JUMP: ms the try takes),
 * saying WHY: what waited fails with EIO, and so does every later
 * request.
 */
static void
check_given_up (const char *steps, int64_t jump_ms, const char *why)
{
  struct link *first;
  struct engine_conn *c;
  unsigned i;

  c = start_engine (steps, 5, jump_ms, &first);
  clear_error ();
  lose_and_issue (c, first);
  for (i = 0; i < NR_REQS; i++)
    ck_assert_int_eq (reqs[i].error, EIO);
  ck_assert_str_eq (last_error, why);
  issue (c, 0);
  wait_sem (&finished);
  ck_assert_int_eq (reqs[0].error, EIO);
  ck_assert_uint_eq (tries, 1);
  engine_stop (c);
}

/* The donor answers with another region. */
START_TEST (engine_lost)
{
  check_given_up ("l", 0, "the donor serves another region; failing this "
                  "device's requests from now on");
}
END_TEST

/* A refusal that outlasts the time: given up, with the refusal. */
START_TEST (engine_timeout)
{
  check_given_up ("r", 6000, "gave up reconnecting to the donor after 5 s "
                  "(1 attempts): connection refused; failing this "
                  "device's requests from now on");
}
END_TEST

int
main (void)
{
  TCase *tc = tcase_create ("backoff");

  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, delays);
  tcase_add_test (tc, capped);
  tcase_add_test (tc, deadline);
  tcase_add_test (tc, done);
  tcase_add_test (tc, engine_back);
  tcase_add_test (tc, engine_lost);
  tcase_add_test (tc, engine_timeout);
  return run_tcase ("backoff", tc);
}
