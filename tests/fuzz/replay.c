/*
 * Replays a fuzz harness's corpus without libFuzzer, so that `make check`
 * runs every saved input through LLVMFuzzerTestOneInput with whatever
 * compiler and sanitizers the build uses.  Linked with one harness.
 *
 * usage: replay_NAME [FILE | DIR]...
 * Without arguments it replays tests/fuzz/corpus/NAME under
 * $FORKLIFT_SRCDIR (else the current directory), NAME taken from its own
 * program name after "replay_".  Each input goes in a heap block of its
 * exact size, as libFuzzer passes it.  A broken promise aborts (the
 * harness's FUZZ_CHECK) or is a sanitizer report; otherwise it prints how
 * many inputs it ran and exits 0.  An empty or missing corpus is a
 * failure: a regression test that runs nothing proves nothing.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz.h"

/* Inputs larger than this are not seeds but mistakes. */
#define REPLAY_MAX_INPUT	(4 * 1024 * 1024)

/* Runs one file; returns 0, or -1 (said on stderr) if it cannot be read. */
static int
replay_file(const char *path)
{
	struct stat st;
	uint8_t *data;
	size_t got = 0;
	FILE *f;

	if ((f = fopen(path, "re")) == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fstat(fileno(f), &st) == -1 || st.st_size > REPLAY_MAX_INPUT) {
		fprintf(stderr, "replay: %s: cannot size it, or too large\n",
		    path);
		(void)fclose(f);
		return -1;
	}
	/* libFuzzer's inputs are never NULL; keep a byte for size 0. */
	if ((data = malloc(st.st_size > 0 ? (size_t)st.st_size : 1)) == NULL) {
		(void)fclose(f);
		return -1;
	}
	if (st.st_size > 0)
		got = fread(data, 1, (size_t)st.st_size, f);
	(void)fclose(f);
	if (got != (size_t)st.st_size) {
		fprintf(stderr, "replay: %s: short read\n", path);
		free(data);
		return -1;
	}
	LLVMFuzzerTestOneInput(data, got);
	free(data);
	return 0;
}

static int
by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* Runs every regular file of dir in name order; returns how many, or -1. */
static int
replay_dir(const char *dir)
{
	struct dirent **names;
	char path[PATH_MAX];
	struct stat st;
	int i, n, ran = 0, bad = 0;

	if ((n = scandir(dir, &names, NULL, by_name)) == -1) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (snprintf(path, sizeof(path), "%s/%s", dir,
		    names[i]->d_name) >= (int)sizeof(path))
			bad = 1;
		else if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			if (replay_file(path) == -1)
				bad = 1;
			else
				ran++;
		}
		free(names[i]);
	}
	free(names);
	return bad ? -1 : ran;
}

static int
replay_path(const char *path)
{
	struct stat st;

	if (stat(path, &st) == -1) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (S_ISDIR(st.st_mode))
		return replay_dir(path);
	return replay_file(path) == -1 ? -1 : 1;
}

int
main(int argc, char **argv)
{
	char self[PATH_MAX], dir[PATH_MAX];
	const char *name, *src;
	int i, n, total = 0;

	if (argc > 1) {
		for (i = 1; i < argc; i++) {
			if ((n = replay_path(argv[i])) == -1)
				return 1;
			total += n;
		}
	} else {
		snprintf(self, sizeof(self), "%s", argv[0]);
		name = basename(self);
		if (strncmp(name, "replay_", 7) != 0) {
			fprintf(stderr, "usage: replay_NAME [FILE | DIR]...\n");
			return 2;
		}
		if ((src = getenv("FORKLIFT_SRCDIR")) == NULL)
			src = ".";
		snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/%s", src,
		    name + 7);
		if ((total = replay_path(dir)) == -1)
			return 1;
	}
	if (total == 0) {
		fprintf(stderr, "replay: no input found\n");
		return 1;
	}
	printf("replayed %d inputs: ok\n", total);
	return 0;
}
