/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* --persist: the nfs front-end's lines in fstab, through libmount,
 * which reads and writes fstab as mount(8) and findmnt(8) do.
 */

#include <config.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libmount.h>

#include "fstab.h"
#include "report.h"

const char *
fstab_path (void)
{
  const char *p = getenv ("DRAM_FSTAB");

  return p && *p ? p : "/etc/fstab";
}

/* A line libmount cannot parse would be dropped when the file is
 * written back: refuse to edit such a file instead.
 */
static int
parse_error (struct libmnt_table *tb, const char *filename, int line)
{
  dram_error ("%s: line %d cannot be parsed; fix it before dram-attach "
              "edits the file", filename, line);
  return -EINVAL;
}

/* The table of PATH, with its comments; empty when PATH does not
 * exist (*EXISTS false).  NULL after reporting.
 */
static struct libmnt_table *
load (const char *path, bool *exists)
{
  struct libmnt_table *tb = mnt_new_table ();
  int r;

  if (tb == NULL) {
    dram_error ("mnt_new_table: %m");
    return NULL;
  }
  mnt_table_enable_comments (tb, 1);
  mnt_table_set_parser_errcb (tb, parse_error);
  *exists = access (path, F_OK) == 0;
  if (!*exists) {
    if (errno == ENOENT)
      return tb;
    dram_error ("%s: %m", path);
    goto err;
  }
  r = mnt_table_parse_fstab (tb, path);
  if (r != 0) {
    if (r != -EINVAL)
      dram_error ("%s: cannot read it: %s", path, strerror (-r));
    goto err;
  }
  return tb;

 err:
  mnt_unref_table (tb);
  return NULL;
}

static bool
same (const char *a, const char *b)
{
  return a && b && strcmp (a, b) == 0;
}

/* The line with SOURCE and TARGET, or NULL. */
static struct libmnt_fs *
find (struct libmnt_table *tb, const char *source, const char *target)
{
  struct libmnt_iter *it = mnt_new_iter (MNT_ITER_FORWARD);
  struct libmnt_fs *fs, *found = NULL;

  while (it && mnt_table_next_fs (tb, it, &fs) == 0) {
    if (same (mnt_fs_get_source (fs), source) &&
        same (mnt_fs_get_target (fs), target)) {
      found = fs;
      break;
    }
  }
  mnt_free_iter (it);
  return found;
}

static int
save (struct libmnt_table *tb, const char *path)
{
  int r = mnt_table_replace_file (tb, path);

  if (r != 0) {
    dram_error ("%s: cannot write it: %s", path, strerror (-r));
    return -1;
  }
  return 0;
}

/* Whether PATH (or, when it does not exist, its directory) can be
 * written: found out before anything is attached.
 */
static int
writable (const char *path, bool exists)
{
  const char *slash = strrchr (path, '/');
  char *dir;
  int r;

  if (exists)
    r = access (path, W_OK);
  else {
    dir = slash == NULL ? strdup (".")
          : slash == path ? strdup ("/") : strndup (path, slash - path);
    if (dir == NULL) {
      dram_error ("strdup: %m");
      return -1;
    }
    r = access (dir, W_OK);
    free (dir);
  }
  if (r == -1) {
    dram_error ("%s: cannot write it: %m", path);
    return -1;
  }
  return 0;
}

int
fstab_check (const char *path, const struct fstab_entry *e, size_t n)
{
  struct libmnt_table *tb;
  struct libmnt_fs *fs;
  bool exists;
  size_t i;
  int r = 0;

  tb = load (path, &exists);
  if (tb == NULL)
    return -1;
  for (i = 0; i < n && r == 0; i++) {
    if (strcmp (e[i].target, "none") == 0)
      continue;
    fs = mnt_table_find_target (tb, e[i].target, MNT_ITER_FORWARD);
    if (fs && !same (mnt_fs_get_source (fs), e[i].source)) {
      dram_error ("%s already mounts %s on %s", path,
                  mnt_fs_get_source (fs), e[i].target);
      r = -1;
    }
  }
  mnt_unref_table (tb);
  if (r == 0 && writable (path, exists) == -1)
    r = -1;
  return r;
}

static int
set_line (struct libmnt_fs *fs, const struct fstab_entry *e)
{
  if (mnt_fs_set_fstype (fs, e->fstype) != 0 ||
      mnt_fs_set_options (fs, e->options) != 0) {
    dram_error ("libmount: out of memory");
    return -1;
  }
  return 0;
}

/* Loads PATH, lets CHANGE edit the table for each of the N entries
 * (setting *CHANGED when it did), and writes the file back if anything
 * changed.
 */
static int
edit (const char *path, const struct fstab_entry *e, size_t n,
      int (*change) (struct libmnt_table *, const struct fstab_entry *,
                     bool *))
{
  struct libmnt_table *tb;
  bool exists, changed = false;
  size_t i;
  int r = -1;

  tb = load (path, &exists);
  if (tb == NULL)
    return -1;
  for (i = 0; i < n; i++)
    if (change (tb, &e[i], &changed) == -1)
      goto out;
  r = changed ? save (tb, path) : 0;
 out:
  mnt_unref_table (tb);
  return r;
}

/* E's line: the one with its source and target, or a new one. */
static int
add_line (struct libmnt_table *tb, const struct fstab_entry *e,
          bool *changed)
{
  struct libmnt_fs *fs = find (tb, e->source, e->target);

  if (fs) {
    if (same (mnt_fs_get_fstype (fs), e->fstype) &&
        same (mnt_fs_get_options (fs), e->options))
      return 0;
    if (set_line (fs, e) == -1)
      return -1;
  }
  else {
    fs = mnt_new_fs ();
    if (fs == NULL || mnt_fs_set_source (fs, e->source) != 0 ||
        mnt_fs_set_target (fs, e->target) != 0 ||
        set_line (fs, e) == -1 || mnt_table_add_fs (tb, fs) != 0) {
      dram_error ("libmount: cannot add a line for %s", e->source);
      mnt_unref_fs (fs);
      return -1;
    }
    mnt_unref_fs (fs);          /* the table holds it */
  }
  *changed = true;
  return 0;
}

/* Every line with E's source and target. */
static int
remove_lines (struct libmnt_table *tb, const struct fstab_entry *e,
              bool *changed)
{
  struct libmnt_fs *fs;

  while ((fs = find (tb, e->source, e->target)) != NULL) {
    mnt_table_remove_fs (tb, fs);
    *changed = true;
  }
  return 0;
}

int
fstab_add (const char *path, const struct fstab_entry *e, size_t n)
{
  return edit (path, e, n, add_line);
}

int
fstab_remove (const char *path, const struct fstab_entry *e, size_t n)
{
  return edit (path, e, n, remove_lines);
}
