/* Runs a fuzz target over the files of a corpus, so that every build (gcc
 * included, sanitizers or not) replays the corpus without libFuzzer. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data = NULL;
	size_t size = 0, cap = 0, n;

	if (!f) {
		perror(path);
		return -1;
	}
	do {
		if (size == cap) {
			uint8_t *grown;

			cap = cap ? cap * 2 : 4096;
			grown = realloc(data, cap);
			if (!grown) {
				fclose(f);
				free(data);
				return -1;
			}
			data = grown;
		}
		n = fread(data + size, 1, cap - size, f);
		size += n;
	} while (n > 0);
	fclose(f);
	LLVMFuzzerTestOneInput(data, size);
	free(data);
	return 0;
}

int
main(int argc, char **argv)
{
	int files = 0;

	for (int i = 1; i < argc; i++) {
		struct dirent *entry;
		DIR *dir = opendir(argv[i]);

		if (!dir) {
			if (replay_file(argv[i]) < 0)
				return 1;
			files++;
			continue;
		}
		while ((entry = readdir(dir))) {
			char path[4096];

			if (entry->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", argv[i],
				 entry->d_name);
			if (replay_file(path) < 0) {
				closedir(dir);
				return 1;
			}
			files++;
		}
		closedir(dir);
	}
	printf("replayed %d inputs\n", files);
	/* An empty corpus would make this test pass without testing. */
	return files > 0 ? 0 : 1;
}
