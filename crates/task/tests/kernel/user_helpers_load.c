// SPDX-License-Identifier: MIT OR Apache-2.0
// Loads user_helpers.bpf.o, runs it once with BPF_PROG_TEST_RUN on pointers into this process,
// and prints one line per case ("case <i> <ret> <16 bytes hex>") and the current-task facts the
// kernel reported next to this process's own view of them.
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>

#define NCASES 13

struct args {
	unsigned long long empty, hello, longs, bad;
	long long ret[NCASES];
	unsigned char out[NCASES][16];
	unsigned long long pid_tgid, uid_gid;
	char comm[16];
};

static const char empty[] = "", hello[] = "hello", longs[] = "abcdefghijklmnopqrstuvwxyz";

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s OBJ\n", argv[0]);
		return 2;
	}
	libbpf_set_print(NULL);
	struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
	if (!obj || bpf_object__load(obj)) {
		fprintf(stderr, "cannot load %s\n", argv[1]);
		return 3;
	}
	struct bpf_program *prog = bpf_object__find_program_by_name(obj, "user_helpers");
	struct args a;
	memset(&a, 0, sizeof(a));
	a.empty = (unsigned long)empty;
	a.hello = (unsigned long)hello;
	a.longs = (unsigned long)longs;
	a.bad = 0x10;
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &a, .ctx_size_in = sizeof(a));
	if (bpf_prog_test_run_opts(bpf_program__fd(prog), &opts)) {
		perror("BPF_PROG_TEST_RUN");
		return 4;
	}
	for (int i = 0; i < NCASES; i++) {
		printf("case %d %lld ", i, a.ret[i]);
		for (int j = 0; j < 16; j++)
			printf("%02x", a.out[i][j]);
		printf("\n");
	}
	char name[17] = {0};
	prctl(PR_GET_NAME, name);
	printf("kernel pid_tgid=%llu uid_gid=%llu comm=%s\n", a.pid_tgid, a.uid_gid, a.comm);
	printf("self pid=%d tid=%d uid=%u gid=%u comm=%s\n", getpid(), gettid(), getuid(), getgid(),
	       name);
	return 0;
}
