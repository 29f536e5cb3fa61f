/*
** replay.c: a main for a fuzz target without libFuzzer, so `make test`
** (and `make asan`, `make valgrind`) run it on the committed inputs: each
** argument is a file, or a directory whose files are run in name order.
**
**   build/fuzz/replay_model fuzz/corpus/model tests/regress/model
*/
#define _DEFAULT_SOURCE /* DT_DIR */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    return -1;
  }
  size_t cap = 4096, n = 0, got;
  uint8_t *buf = malloc(cap);
  while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
    n += got;
    if (n == cap) buf = realloc(buf, cap *= 2);
  }
  fclose(f);
  if (!buf) return -1;
  LLVMFuzzerTestOneInput(buf, n);
  free(buf);
  return 0;
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv) {
  int files = 0;
  for (int i = 1; i < argc; i++) {
    struct stat sb;
    if (stat(argv[i], &sb) != 0) continue; /* a target may have no regressions yet */
    if (!S_ISDIR(sb.st_mode)) {
      if (run_file(argv[i]) == 0) files++;
      continue;
    }
    DIR *d = opendir(argv[i]);
    if (!d) continue;
    char **names = NULL;
    size_t nn = 0;
    for (struct dirent *e; (e = readdir(d));) {
      if (e->d_name[0] == '.') continue;
      names = realloc(names, (nn + 1) * sizeof *names);
      names[nn] = malloc(strlen(argv[i]) + strlen(e->d_name) + 2);
      sprintf(names[nn++], "%s/%s", argv[i], e->d_name);
    }
    closedir(d);
    qsort(names, nn, sizeof *names, by_name);
    for (size_t k = 0; k < nn; k++) {
      if (run_file(names[k]) == 0) files++;
      free(names[k]);
    }
    free(names);
  }
  printf("%s: %d inputs replayed\n", argv[0], files);
  return 0;
}
