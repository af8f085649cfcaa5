/* dram — SPDX-License-Identifier: BSD-3-Clause */
#include <config.h>

#include <stdbool.h>
#include <string.h>

#include <check.h>

#include "cmdcase.h"
#include "unit.h"

bool
check_cmd (const struct cmd *c, int i, struct options *o)
{
  char *argv[12];
  int argc = 0, r;

  argv[argc++] = (char *) "dram-attach";
  while (argc < 11 && c->argv[argc - 1])
    argv[argc] = (char *) c->argv[argc - 1], argc++;
  argv[argc] = NULL;
  clear_error ();
  r = options_parse (argc, argv, o);
  if (c->msg) {
    ck_assert_msg (r == -1, "case %d accepted", i);
    ck_assert_msg (strstr (last_error, c->msg) != NULL,
                   "case %d: message '%s' lacks '%s'", i, last_error, c->msg);
    return false;
  }
  ck_assert_msg (r == 0, "case %d refused: %s", i, last_error);
  return true;
}
