/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* The back-off of the loops that reconnect to the donor: the engine's
 * (engine.c, in the FUSE server and the TLS proxy) and the nbd
 * monitor's (nbdmonitor.c).  The pause between tries doubles from
 * RECONNECT_FIRST_RETRY_MS to RECONNECT_MAX_RETRY_MS, a try lasts
 * RECONNECT_ATTEMPT_MS at most, and the run ends at its deadline.
 */

#include <config.h>

#include <stdio.h>

#include "backoff.h"

void
backoff_start (struct backoff *b, int64_t (*now) (void), unsigned give_up)
{
  b->now = now;
  b->give_up = give_up;
  b->start = now ();
  b->end = b->start + give_up * INT64_C (1000);
  b->delay = RECONNECT_FIRST_RETRY_MS;
  b->attempts = 0;
}

int
backoff_attempt (struct backoff *b, const char *why, const char *lost,
                 char *msg, size_t len)
{
  int64_t left = b->end - b->now ();

  if (left <= 0) {
    snprintf (msg, len, "gave up reconnecting to the donor after %u s "
              "(%u attempts): %s", b->give_up, b->attempts,
              b->attempts ? why : lost);
    return -1;
  }
  b->attempts++;
  return left < RECONNECT_ATTEMPT_MS ? left : RECONNECT_ATTEMPT_MS;
}

int64_t
backoff_pause (const struct backoff *b)
{
  int64_t left = b->end - b->now ();

  return b->delay < left ? b->delay : left;
}

int64_t
backoff_failed (struct backoff *b)
{
  int64_t ms = backoff_pause (b);

  b->delay = b->delay * 2 < RECONNECT_MAX_RETRY_MS ?
    b->delay * 2 : RECONNECT_MAX_RETRY_MS;
  return ms;
}

void
backoff_done (const struct backoff *b, char *msg, size_t len)
{
  snprintf (msg, len, "reconnected to the donor after %.1f s (%u attempts)",
            (b->now () - b->start) / 1000.0, b->attempts);
}
