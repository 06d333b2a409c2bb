/* Times a benchmark program compiled natively, the same way `lull bench` times the interpreter:
 * RUNS calls split into 15 batches, the median of the batch means, in nanoseconds per call.
 * Usage: driver RUNS   (prints "<result> <ns per run>") */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define BUF_LEN 65536
#define BATCHES 15

uint64_t prog(void *ctx);

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	static uint8_t buf[BUF_LEN];
	uint64_t runs = argc > 1 ? strtoull(argv[1], NULL, 10) : 30;
	double samples[BATCHES];
	uint64_t batches, result = 0;

	for (uint64_t i = 0; i < BUF_LEN; i++)
		buf[i] = (uint8_t)(i * 31 + (i >> 8) + 7);
	if (runs < 1)
		runs = 1;
	batches = runs < BATCHES ? runs : BATCHES;
	for (uint64_t b = 0; b < batches; b++) {
		uint64_t size = runs / batches + (b < runs % batches), start = now_ns();
		for (uint64_t i = 0; i < size; i++)
			result = prog(buf);
		samples[b] = (double)(now_ns() - start) / (double)size;
	}
	qsort(samples, batches, sizeof(samples[0]), cmp);
	printf("%llu %.0f\n", (unsigned long long)result, samples[batches / 2]);
	return 0;
}
