/* dram — SPDX-License-Identifier: BSD-3-Clause */

/* memverify: the swap workload of the dram tests.
 *
 * N processes each map their share of SIZE_MIB of anonymous memory, write
 * a pattern into every 8-byte word, then read every word back and compare.
 * The pattern of a word depends on the seed, the process, the page, the
 * word's offset and the round, so a page that comes back from swap
 * zero-filled, from the wrong slot, from another process or from an earlier
 * round is caught.  Pages are visited in sequential order, in a seeded
 * random permutation, or both, for a number of passes.
 *
 * Exit status: 0 every byte verified, 1 a mismatch, 2 bad usage,
 * 3 any other failure (a process killed by a signal, mmap or fork failed).
 * Only the memory under test can be swapped: memverify's own (code,
 * stacks, permutations, counters) is locked, so that a swap device that
 * fails or lies reaches only the pattern it checks.
 *
 * It depends on nothing but libc so that it can be built static and put
 * into a test VM: gcc -O2 -static -o memverify memverify.c
 */

#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "dev"
#endif

#define EXIT_MISMATCH 1
#define EXIT_USAGE 2
#define EXIT_ERROR 3

/* Limits, checked before anything is allocated. */
#define MAX_PROCS 4096
#define MAX_PASSES 1000000
#define MAX_SIZE_MIB (UINT64_C(1) << 24)  /* 16 TiB */

/* Bad pages printed per process; all of them are counted. */
#define MAX_REPORTED 8

enum order { ORDER_SEQ, ORDER_RANDOM };

enum mode { MODE_SEQ, MODE_RANDOM, MODE_BOTH };

static const char *mode_names[] = {
  [MODE_SEQ] = "seq", [MODE_RANDOM] = "random", [MODE_BOTH] = "both",
};

struct config {
  unsigned procs;
  enum mode mode;
  unsigned passes;
  uint64_t seed;
  uint64_t size_mib;
  bool corrupt;
  bool verbose;
};

/* What one process must do: pages [0, npages) of its own mapping. */
struct job {
  const struct config *cfg;
  unsigned proc;
  size_t npages;
  size_t page_size;
};

static const char *progname = "memverify";

static void usage (FILE *fp, int status) __attribute__ ((noreturn));

static void
usage (FILE *fp, int status)
{
  fprintf (fp,
           "usage: %s [--procs N] [--mode seq|random|both] [--passes P]\n"
           "       %*s [--seed S] [--verbose] [--corrupt] SIZE_MIB\n"
           "       %s --help | --version\n"
           "\n"
           "Write a pattern into SIZE_MIB MiB of anonymous memory, shared\n"
           "among N processes, and verify every byte of it, P times.\n"
           "\n"
           "  -p, --procs N     processes (fork), default 1, at most %d\n"
           "  -m, --mode M      page order: seq, random or both (default)\n"
           "  -P, --passes P    rewrite-and-verify passes, default 1\n"
           "  -s, --seed S      pattern and permutation seed, default 1\n"
           "  -v, --verbose     print the time each round takes\n"
           "      --corrupt     test memverify itself: after the first write,\n"
           "                    zero one page and flip one bit per process;\n"
           "                    this must fail with exit status 1\n"
           "\n"
           "Exit status: 0 all verified, 1 mismatch, 2 usage, 3 other error.\n",
           progname, (int) strlen (progname), "", progname, MAX_PROCS);
  exit (status);
}

/* Parse an unsigned number in [min, max]; base 0 allows 0x hex.  On error
 * print a message naming the option and exit with EXIT_USAGE.
 */
static uint64_t
parse_number (const char *name, const char *str, int base,
              uint64_t min, uint64_t max)
{
  unsigned long long v;
  char *end;

  /* strtoull silently negates "-1"; refuse any sign. */
  if (str[0] == '\0' || str[0] == '-' || str[0] == '+' ||
      str[0] == ' ' || str[0] == '\t') {
    fprintf (stderr, "%s: %s: invalid number '%s'\n", progname, name, str);
    exit (EXIT_USAGE);
  }
  errno = 0;
  v = strtoull (str, &end, base);
  if (errno == ERANGE && *end == '\0')
    v = UINT64_MAX;             /* reported as out of range below */
  else if (errno != 0 || *end != '\0') {
    fprintf (stderr, "%s: %s: invalid number '%s'\n", progname, name, str);
    exit (EXIT_USAGE);
  }
  if (v < min || v > max || errno == ERANGE) {
    fprintf (stderr, "%s: %s: %s is out of range [%" PRIu64 ", %" PRIu64 "]\n",
             progname, name, str, min, max);
    exit (EXIT_USAGE);
  }
  return v;
}

static enum mode
parse_mode (const char *str)
{
  size_t i;

  for (i = 0; i < sizeof mode_names / sizeof mode_names[0]; ++i)
    if (strcmp (str, mode_names[i]) == 0)
      return i;
  fprintf (stderr, "%s: --mode: unknown mode '%s' (seq, random or both)\n",
           progname, str);
  exit (EXIT_USAGE);
}

static void
parse_command_line (int argc, char *argv[], struct config *cfg)
{
  static const struct option long_options[] = {
    { "corrupt", no_argument, NULL, 'C' },
    { "help", no_argument, NULL, 'h' },
    { "mode", required_argument, NULL, 'm' },
    { "passes", required_argument, NULL, 'P' },
    { "procs", required_argument, NULL, 'p' },
    { "seed", required_argument, NULL, 's' },
    { "verbose", no_argument, NULL, 'v' },
    { "version", no_argument, NULL, 'V' },
    { NULL, 0, NULL, 0 }
  };
  uint64_t pages_total;
  long page_size;
  int c;

  while ((c = getopt_long (argc, argv, "hm:P:p:s:vV", long_options,
                           NULL)) != -1) {
    switch (c) {
    case 'C':
      cfg->corrupt = true;
      break;
    case 'h':
      usage (stdout, EXIT_SUCCESS);
    case 'm':
      cfg->mode = parse_mode (optarg);
      break;
    case 'P':
      cfg->passes = parse_number ("--passes", optarg, 10, 1, MAX_PASSES);
      break;
    case 'p':
      cfg->procs = parse_number ("--procs", optarg, 10, 1, MAX_PROCS);
      break;
    case 's':
      cfg->seed = parse_number ("--seed", optarg, 0, 0, UINT64_MAX);
      break;
    case 'v':
      cfg->verbose = true;
      break;
    case 'V':
      printf ("%s %s\n", progname, PACKAGE_VERSION);
      exit (EXIT_SUCCESS);
    default:
      usage (stderr, EXIT_USAGE);
    }
  }

  if (argc - optind != 1) {
    fprintf (stderr, "%s: expected exactly one SIZE_MIB argument\n",
             progname);
    usage (stderr, EXIT_USAGE);
  }
  cfg->size_mib = parse_number ("SIZE_MIB", argv[optind], 10,
                                1, MAX_SIZE_MIB);
  if (cfg->size_mib > SIZE_MAX >> 20) {
    fprintf (stderr, "%s: SIZE_MIB: %" PRIu64 " does not fit in memory\n",
             progname, cfg->size_mib);
    exit (EXIT_USAGE);
  }

  page_size = sysconf (_SC_PAGESIZE);
  if (page_size <= 0 || (1 << 20) % page_size != 0) {
    fprintf (stderr, "%s: unusable page size %ld\n", progname, page_size);
    exit (EXIT_ERROR);
  }
  pages_total = cfg->size_mib * ((1 << 20) / page_size);
  if (pages_total < cfg->procs) {
    fprintf (stderr, "%s: SIZE_MIB: %" PRIu64 " MiB is fewer pages than "
             "--procs %u\n", progname, cfg->size_mib, cfg->procs);
    exit (EXIT_USAGE);
  }
}

/* splitmix64: a good 64-bit mixer, used to derive page keys and PRNG
 * seeds from (seed, proc, page, round).
 */
static uint64_t
mix64 (uint64_t x)
{
  x += UINT64_C (0x9e3779b97f4a7c15);
  x = (x ^ (x >> 30)) * UINT64_C (0xbf58476d1ce4e5b9);
  x = (x ^ (x >> 27)) * UINT64_C (0x94d049bb133111eb);
  return x ^ (x >> 31);
}

static uint64_t
page_key (uint64_t seed, unsigned proc, size_t page, uint64_t round)
{
  return mix64 (mix64 (mix64 (seed ^ mix64 (proc)) ^ round) ^ page);
}

/* The value of word w of a page whose key is k.  Consecutive words
 * differ, and no page's words are all zero.
 */
static inline uint64_t
word_value (uint64_t k, size_t w)
{
  return k + (w + 1) * UINT64_C (0xd1342543de82ef95);
}

/* xorshift64*, for the page permutation. */
static uint64_t
xorshift64s (uint64_t *state)
{
  uint64_t x = *state;

  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *state = x;
  return x * UINT64_C (0x2545f4914f6cdd1d);
}

/* Fill order[] with the pages in sequence or in a Fisher-Yates shuffle
 * seeded by prng_seed.
 */
static void
make_order (size_t *order, size_t n, enum order how, uint64_t prng_seed)
{
  uint64_t state = prng_seed | 1;   /* xorshift state must not be 0 */
  size_t i, j, t;

  for (i = 0; i < n; ++i)
    order[i] = i;
  if (how == ORDER_SEQ)
    return;
  for (i = n - 1; i > 0; --i) {
    j = xorshift64s (&state) % (i + 1);
    t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
}

/* Touches the stack that lock_self locks with the rest. */
static void __attribute__ ((noinline))
prefault_stack (void)
{
  volatile char stack[128 * 1024];
  size_t i;

  for (i = 0; i < sizeof stack; i += 4096)
    stack[i] = 0;
}

/* The detector must not be the victim.  Everything a process of
 * memverify has when this is called (its code, data, heap, the
 * permutation of pages, the shared counters, and the stack that
 * prefault_stack touched) is locked, so that a swap device that fails,
 * or feeds back wrong bytes, can reach only the pattern under test:
 * a wrong byte is then reported as a MISMATCH, and a failed swap-in
 * kills with SIGBUS (the signal frame needs a stack that is there),
 * rather than either crashing memverify's own code.  The region under
 * test is mapped afterwards, and stays unlocked (no MCL_FUTURE).
 * Returns 0, or -1 (errno set) when the locks cannot be had.
 */
static int
lock_self (void)
{
  prefault_stack ();
  return mlockall (MCL_CURRENT);
}

/* For --corrupt: damage the pattern the way a broken swap device would,
 * by zero-filling one page (as if it came back from a hole) and flipping
 * one bit in another.
 */
static void
corrupt_pages (const struct job *job, char *mem)
{
  const size_t zero_page = job->npages / 2;

  if (madvise (mem + zero_page * job->page_size, job->page_size,
               MADV_DONTNEED) == -1)
    memset (mem + zero_page * job->page_size, 0, job->page_size);
  if (zero_page != 0)
    ((uint64_t *) mem)[3] ^= 1;
}

static void
write_pages (const struct job *job, char *mem, const size_t *order,
             uint64_t round)
{
  const size_t words = job->page_size / sizeof (uint64_t);
  size_t i, w, page;
  uint64_t *p, k;

  for (i = 0; i < job->npages; ++i) {
    page = order[i];
    p = (uint64_t *) (mem + page * job->page_size);
    k = page_key (job->cfg->seed, job->proc, page, round);
    for (w = 0; w < words; ++w)
      p[w] = word_value (k, w);
  }
}

/* Compare every word of every page.  For the first MAX_REPORTED bad
 * pages print where the first bad word is and how many there are.  Reads
 * go through a volatile pointer so that the compiler cannot reuse the
 * values it just wrote instead of loading them from memory.  Returns the
 * number of bad words; adds the bytes compared to *verified.
 */
static uint64_t
verify_pages (const struct job *job, char *mem, const size_t *order,
              uint64_t round, const char *order_name, uint64_t *verified)
{
  const size_t words = job->page_size / sizeof (uint64_t);
  uint64_t bad = 0, bad_pages = 0, got, expected, first_got = 0,
    first_expected = 0, k;
  const volatile uint64_t *p;
  size_t i, w, page, page_bad, first_w = 0;

  for (i = 0; i < job->npages; ++i) {
    page = order[i];
    p = (const volatile uint64_t *) (mem + page * job->page_size);
    k = page_key (job->cfg->seed, job->proc, page, round);
    page_bad = 0;
    for (w = 0; w < words; ++w) {
      got = p[w];
      expected = word_value (k, w);
      if (got == expected)
        continue;
      if (page_bad++ == 0) {
        first_w = w;
        first_got = got;
        first_expected = expected;
      }
    }
    *verified += job->page_size;
    if (page_bad == 0)
      continue;
    if (bad_pages++ < MAX_REPORTED)
      fprintf (stderr, "%s: MISMATCH proc %u page %zu offset 0x%zx "
               "(round %" PRIu64 ", %s): expected 0x%016" PRIx64
               ", got 0x%016" PRIx64 " (%zu of %zu words bad)\n",
               progname, job->proc, page, first_w * sizeof (uint64_t),
               round, order_name, first_expected, first_got,
               page_bad, words);
    bad += page_bad;
  }
  if (bad > 0)
    fprintf (stderr, "%s: proc %u: %" PRIu64 " bad 8-byte words in %"
             PRIu64 " of %zu pages in round %" PRIu64 "\n",
             progname, job->proc, bad, bad_pages, job->npages, round);
  return bad;
}

static double
now (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The body of one worker process.  Adds the bytes it compared to
 * *verified (shared with the parent) and returns its exit status.
 */
static int
run_job (const struct job *job, volatile uint64_t *verified)
{
  const struct config *cfg = job->cfg;
  const size_t len = job->npages * job->page_size;
  enum order orders[2];
  unsigned norders, pass, r;
  uint64_t round, bad, done = 0;
  double t0, t1, t2;
  size_t *order;
  char *mem;
  int status = EXIT_SUCCESS;

  switch (cfg->mode) {
  case MODE_SEQ:
    orders[0] = ORDER_SEQ;
    norders = 1;
    break;
  case MODE_RANDOM:
    orders[0] = ORDER_RANDOM;
    norders = 1;
    break;
  default:
    orders[0] = ORDER_SEQ;
    orders[1] = ORDER_RANDOM;
    norders = 2;
  }

  order = malloc (job->npages * sizeof *order);
  if (order == NULL) {
    fprintf (stderr, "%s: proc %u: malloc: %m\n", progname, job->proc);
    return EXIT_ERROR;
  }
  /* Locks are not inherited: each process takes its own (the parent
   * has warned if they cannot be had).
   */
  lock_self ();
  mem = mmap (NULL, len, PROT_READ | PROT_WRITE,
              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) {
    fprintf (stderr, "%s: proc %u: mmap %zu bytes: %m\n",
             progname, job->proc, len);
    status = EXIT_ERROR;
    goto out_free_order;
  }

  for (pass = 0; pass < cfg->passes; ++pass) {
    for (r = 0; r < norders; ++r) {
      /* Every round writes a new pattern, so stale pages are caught. */
      round = (uint64_t) pass * norders + r;
      t0 = now ();
      make_order (order, job->npages, orders[r],
                  page_key (cfg->seed, job->proc, SIZE_MAX, 2 * round));
      write_pages (job, mem, order, round);
      if (cfg->corrupt && round == 0)
        corrupt_pages (job, mem);
      t1 = now ();
      /* Verify in a different permutation from the one written. */
      make_order (order, job->npages, orders[r],
                  page_key (cfg->seed, job->proc, SIZE_MAX, 2 * round + 1));
      bad = verify_pages (job, mem, order, round,
                          orders[r] == ORDER_SEQ ? "seq" : "random", &done);
      *verified = done;
      t2 = now ();
      if (cfg->verbose)
        fprintf (stderr, "%s: proc %u round %" PRIu64 " (%s): write %.1f s, "
                 "verify %.1f s\n", progname, job->proc, round,
                 orders[r] == ORDER_SEQ ? "seq" : "random", t1 - t0, t2 - t1);
      if (bad > 0) {
        status = EXIT_MISMATCH;
        goto out_unmap;
      }
    }
  }

 out_unmap:
  munmap (mem, len);
 out_free_order:
  free (order);
  return status;
}

/* Wait for every child; report any that failed.  Returns the worst
 * exit status.
 */
static int
wait_children (const pid_t *pids, unsigned n)
{
  int status, worst = EXIT_SUCCESS, code;
  unsigned i;

  for (i = 0; i < n; ++i) {
    if (pids[i] <= 0)
      continue;
    while (waitpid (pids[i], &status, 0) == -1) {
      if (errno != EINTR) {
        fprintf (stderr, "%s: waitpid %d: %m\n", progname, (int) pids[i]);
        return EXIT_ERROR;
      }
    }
    if (WIFSIGNALED (status)) {
      fprintf (stderr, "%s: proc %u (pid %d) killed by signal %d (%s)\n",
               progname, i, (int) pids[i], WTERMSIG (status),
               strsignal (WTERMSIG (status)));
      code = EXIT_ERROR;
    }
    else {
      code = WEXITSTATUS (status);
      if (code != EXIT_SUCCESS)
        fprintf (stderr, "%s: proc %u (pid %d) exited with status %d\n",
                 progname, i, (int) pids[i], code);
    }
    /* A mismatch outranks every other failure. */
    if (code == EXIT_MISMATCH || (code != EXIT_SUCCESS && worst == 0))
      worst = code;
  }
  return worst;
}

int
main (int argc, char *argv[])
{
  struct config cfg = {
    .procs = 1, .mode = MODE_BOTH, .passes = 1, .seed = 1,
  };
  uint64_t pages_total, expected, total = 0;
  volatile uint64_t *verified;
  size_t page_size;
  unsigned i, rounds;
  struct job job;
  pid_t *pids;
  double start;
  int status;

  parse_command_line (argc, argv, &cfg);
  page_size = sysconf (_SC_PAGESIZE);
  pages_total = cfg.size_mib * ((1 << 20) / page_size);
  rounds = cfg.mode == MODE_BOTH ? 2 : 1;

  /* One counter per child, shared so the parent can check that every
   * byte was really compared.
   */
  verified = mmap (NULL, cfg.procs * sizeof *verified,
                   PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (verified == MAP_FAILED) {
    fprintf (stderr, "%s: mmap: %m\n", progname);
    exit (EXIT_ERROR);
  }
  pids = calloc (cfg.procs, sizeof *pids);
  if (pids == NULL) {
    fprintf (stderr, "%s: calloc: %m\n", progname);
    exit (EXIT_ERROR);
  }

  if (lock_self () == -1)
    fprintf (stderr, "%s: warning: cannot lock its own memory (%m): a "
             "failing swap device can crash memverify itself instead of "
             "being reported\n", progname);

  start = now ();
  fflush (NULL);
  for (i = 0; i < cfg.procs; ++i) {
    job = (struct job) {
      .cfg = &cfg,
      .proc = i,
      .npages = pages_total / cfg.procs + (i < pages_total % cfg.procs),
      .page_size = page_size,
    };
    pids[i] = fork ();
    if (pids[i] == -1) {
      fprintf (stderr, "%s: fork: %m\n", progname);
      /* Stop the children already started, then reap them. */
      while (i-- > 0)
        kill (pids[i], SIGKILL);
      wait_children (pids, cfg.procs);
      exit (EXIT_ERROR);
    }
    if (pids[i] == 0)
      _exit (run_job (&job, &verified[i]));
  }

  status = wait_children (pids, cfg.procs);
  if (status != EXIT_SUCCESS) {
    fprintf (stderr, "%s: FAILED\n", progname);
    exit (status);
  }

  for (i = 0; i < cfg.procs; ++i)
    total += verified[i];
  expected = pages_total * page_size * rounds * cfg.passes;
  if (total != expected) {
    fprintf (stderr, "%s: FAILED: verified %" PRIu64 " bytes, expected %"
             PRIu64 "\n", progname, total, expected);
    exit (EXIT_ERROR);
  }

  printf ("%s: OK: verified %" PRIu64 " bytes (%" PRIu64 " MiB x %u pass%s "
          "x %u order%s, mode %s, %u proc%s, seed %" PRIu64 ") in %.1f s\n",
          progname, total, cfg.size_mib, cfg.passes,
          cfg.passes == 1 ? "" : "es", rounds, rounds == 1 ? "" : "s",
          mode_names[cfg.mode], cfg.procs, cfg.procs == 1 ? "" : "s",
          cfg.seed, now () - start);
  free (pids);
  return EXIT_SUCCESS;
}
