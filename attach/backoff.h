/* dram — SPDX-License-Identifier: BSD-3-Clause */
#ifndef DRAM_BACKOFF_H
#define DRAM_BACKOFF_H

#include <stddef.h>
#include <stdint.h>

/* Reconnecting: the first retry, the longest pause between tries
 * (the pause doubles from the first), and one try at most.
 */
#define RECONNECT_FIRST_RETRY_MS 250
#define RECONNECT_MAX_RETRY_MS 2000
#define RECONNECT_ATTEMPT_MS 10000

/* One run of tries to reconnect to the donor, for at most GIVE_UP
 * seconds by the clock NOW (monotonic_ms, or a test's).  The caller
 * makes each try and pauses between them (each loop has its own way
 * to be woken); this counts the tries and the time, and words the
 * messages the reconnecting loops share.
 */
struct backoff {
  int64_t (*now) (void);
  unsigned give_up;             /* seconds */
  int64_t start, end;           /* ms by NOW */
  int64_t delay;                /* the next pause */
  unsigned attempts;
};

/* Starts a run: from now, with the first pause. */
extern void backoff_start (struct backoff *b, int64_t (*now) (void),
                           unsigned give_up);

/* Before a try: how long it may take (RECONNECT_ATTEMPT_MS at most,
 * and no more than is left), counting it.  Returns -1 when the time
 * is up, with MSG saying why the run ended: WHY, the last try's
 * failure, or LOST, what was lost, when nothing was tried.
 */
extern int backoff_attempt (struct backoff *b, const char *why,
                            const char *lost, char *msg, size_t len);

/* After a failed try: how long to pause before the next (no more than
 * is left; 0 or less: not at all).  backoff_failed also doubles the
 * next pause, up to RECONNECT_MAX_RETRY_MS; backoff_pause leaves it.
 */
extern int64_t backoff_failed (struct backoff *b);
extern int64_t backoff_pause (const struct backoff *b);

/* After a try that worked: MSG says how long the run took. */
extern void backoff_done (const struct backoff *b, char *msg, size_t len);

#endif /* DRAM_BACKOFF_H */
