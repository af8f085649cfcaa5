/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* The regression test: runs a harness, without libFuzzer, on the
 * files and every file of the directories given, or by default of
 * $srcdir/corpus/NAME (the seeds) and $srcdir/regress/NAME (every
 * input that ever made it fail).  A finding aborts, failing the test.
 */

#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"

#ifndef FUZZ_NAME
#error "FUZZ_NAME must name the harness"
#endif

/* The whole file, in a buffer of exactly its size. */
static uint8_t *
read_input (const char *path, size_t *size)
{
  FILE *fp = fopen (path, "rb");
  struct stat st;
  uint8_t *data;

  if (fp == NULL || fstat (fileno (fp), &st) == -1) {
    fprintf (stderr, "%s: %m\n", path);
    exit (EXIT_FAILURE);
  }
  *size = st.st_size;
  data = malloc (*size ? *size : 1);
  if (data == NULL || fread (data, 1, *size, fp) != *size) {
    fprintf (stderr, "%s: cannot read it\n", path);
    exit (EXIT_FAILURE);
  }
  fclose (fp);
  return data;
}

static int
compare_names (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

static void
run_file (const char *path)
{
  uint8_t *data;
  size_t size;

  printf ("%s: %s\n", FUZZ_NAME, path);
  fflush (stdout);
  data = read_input (path, &size);
  LLVMFuzzerTestOneInput (data, size);
  free (data);
}

/* Runs the harness on each file in DIR (or on DIR, a file), in name
 * order.  Returns how many; a missing directory counts none when
 * OPTIONAL.
 */
static size_t
run_dir (const char *dir, int optional)
{
  DIR *d = opendir (dir);
  struct dirent *e;
  char **names = NULL, path[4096];
  size_t n = 0, i;

  if (d == NULL && optional && errno == ENOENT)
    return 0;
  if (d == NULL && errno == ENOTDIR) {
    run_file (dir);
    return 1;
  }
  if (d == NULL) {
    fprintf (stderr, "%s: %m\n", dir);
    exit (EXIT_FAILURE);
  }
  while ((e = readdir (d)) != NULL) {
    if (e->d_name[0] == '.')
      continue;
    names = realloc (names, (n + 1) * sizeof *names);
    if (names == NULL || (names[n] = strdup (e->d_name)) == NULL) {
      perror ("malloc");
      exit (EXIT_FAILURE);
    }
    n++;
  }
  closedir (d);
  if (n > 0)
    qsort (names, n, sizeof *names, compare_names);

  for (i = 0; i < n; i++) {
    snprintf (path, sizeof path, "%s/%s", dir, names[i]);
    run_file (path);
    free (names[i]);
  }
  free (names);
  return n;
}

int
main (int argc, char **argv)
{
  const char *srcdir = getenv ("srcdir");
  char dir[4096];
  size_t n = 0;
  int i;

  if (argc > 1) {
    for (i = 1; i < argc; i++)
      n += run_dir (argv[i], 0);
  }
  else {
    if (srcdir == NULL)
      srcdir = ".";
    snprintf (dir, sizeof dir, "%s/corpus/%s", srcdir, FUZZ_NAME);
    n += run_dir (dir, 0);
    snprintf (dir, sizeof dir, "%s/regress/%s", srcdir, FUZZ_NAME);
    n += run_dir (dir, 1);
  }
  if (n == 0) {
    fprintf (stderr, "%s: no inputs to run\n", FUZZ_NAME);
    return EXIT_FAILURE;
  }
  printf ("%s: %zu inputs, no finding\n", FUZZ_NAME, n);
  return EXIT_SUCCESS;
}
