// SPDX-License-Identifier: MIT OR Apache-2.0
/*
 * ktestrun: the live-kernel side of lull-rundiff.
 *
 * Written for Lull; built at test time with gcc against the system libbpf.
 *
 *   ktestrun --obj FILE --prog NAME [--set MAP:KEYHEX:VALHEX[:FLAGS]]...
 *            [--data HEX] [--ctx HEX] [--cpu N] [--repeat N] [--no-dump]
 *
 * Opens and loads every program of FILE with libbpf (static prog_array and
 * map-in-map slots are filled by libbpf), writes the --set elements with
 * bpf_map_update_elem (VALHEX of a per-CPU map holds every CPU's value),
 * pins itself to CPU --cpu (default 0) so that per-CPU effects land on a known
 * CPU, runs NAME once (or --repeat times) with BPF_PROG_TEST_RUN, and prints
 * one JSON object:
 *   {"ncpus":n,"stage":"ok"|"open"|"load"|..,"errno":e,"log":"..",
 *    "run_errno":e,"retval":r,"duration_ns":d,"data_out":"hex","ctx_out":"hex",
 *    "maps":[{"name":..,"type":t,"entries":[["khex","vhex"],..]},..]}
 * Hash-like and array maps dump every key in get_next_key order; queue/stack
 * maps dump their values in pop order (key ""); ring buffers dump every
 * committed record in order (key ""); map-in-map values are dumped as "" (the
 * inner map's id is not comparable); prog arrays are not dumped.
 * raw_tracepoint programs get BPF_F_TEST_RUN_ON_CPU with --cpu.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#define MAX_SETS 4096
#define MAX_BUF (1u << 16)

static char log_buf[1u << 20];
static size_t log_len;

static int capture_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG || log_len >= sizeof(log_buf) - 1)
		return 0;
	int n = vsnprintf(log_buf + log_len, sizeof(log_buf) - log_len, fmt, ap);
	if (n > 0)
		log_len += (size_t)n;
	if (log_len > sizeof(log_buf) - 1)
		log_len = sizeof(log_buf) - 1;
	return 0;
}

static void put_json_string(const char *s)
{
	putchar('"');
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c == '\n')
			fputs("\\n", stdout);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void put_hex(const unsigned char *p, size_t n)
{
	putchar('"');
	for (size_t i = 0; i < n; i++)
		printf("%02x", p[i]);
	putchar('"');
}

static int unhex(const char *s, unsigned char *out, size_t cap, size_t *len)
{
	size_t n = strlen(s);
	if (n % 2 || n / 2 > cap)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned int b;
		if (sscanf(s + 2 * i, "%2x", &b) != 1)
			return -1;
		out[i] = (unsigned char)b;
	}
	*len = n / 2;
	return 0;
}

static void fail(const char *stage, int err, int ncpus)
{
	printf("{\"ncpus\":%d,\"stage\":\"%s\",\"errno\":%d,\"log\":", ncpus, stage, err);
	log_buf[log_len] = 0;
	put_json_string(log_buf);
	printf(",\"maps\":[]}\n");
	exit(0);
}

static void usage(void)
{
	fprintf(stderr, "usage: ktestrun --obj FILE --prog NAME [--set MAP:KEY:VAL[:FLAGS]]... "
			"[--data HEX] [--ctx HEX] [--cpu N] [--repeat N] [--no-dump]\n");
	exit(2);
}

static size_t value_bytes(const struct bpf_map *m, int ncpus)
{
	size_t v = bpf_map__value_size(m);
	switch (bpf_map__type(m)) {
	case BPF_MAP_TYPE_PERCPU_ARRAY:
	case BPF_MAP_TYPE_PERCPU_HASH:
	case BPF_MAP_TYPE_LRU_PERCPU_HASH:
		return ((v + 7) / 8) * 8 * (size_t)ncpus;
	default:
		return v;
	}
}

struct rb_ctx {
	int first;
};

static int rb_record(void *ctx, void *data, size_t size)
{
	struct rb_ctx *c = ctx;
	printf("%s[\"\",", c->first ? "" : ",");
	c->first = 0;
	put_hex(data, size);
	putchar(']');
	return 0;
}

static void dump_map(const struct bpf_map *m, int ncpus, int first)
{
	int fd = bpf_map__fd(m);
	enum bpf_map_type t = bpf_map__type(m);
	size_t ksz = bpf_map__key_size(m), vsz = value_bytes(m, ncpus);
	static unsigned char key[MAX_BUF], next[MAX_BUF], val[MAX_BUF];

	if (t == BPF_MAP_TYPE_PROG_ARRAY || vsz > MAX_BUF || ksz > MAX_BUF)
		return;
	printf("%s{\"name\":", first ? "" : ",");
	put_json_string(bpf_map__name(m));
	printf(",\"type\":%d,\"entries\":[", (int)t);
	if (t == BPF_MAP_TYPE_RINGBUF) {
		struct rb_ctx c = { .first = 1 };
		struct ring_buffer *rb = ring_buffer__new(fd, rb_record, &c, NULL);
		if (rb) {
			ring_buffer__consume(rb);
			ring_buffer__free(rb);
		}
	} else if (t == BPF_MAP_TYPE_QUEUE || t == BPF_MAP_TYPE_STACK) {
		int n = 0;
		while (bpf_map_lookup_and_delete_elem(fd, NULL, val) == 0) {
			printf("%s[\"\",", n++ ? "," : "");
			put_hex(val, vsz);
			putchar(']');
		}
	} else {
		int n = 0, inner = t == BPF_MAP_TYPE_ARRAY_OF_MAPS || t == BPF_MAP_TYPE_HASH_OF_MAPS;
		void *prev = NULL;
		while (bpf_map_get_next_key(fd, prev, next) == 0) {
			memcpy(key, next, ksz);
			prev = key;
			if (inner) {
				unsigned int id;
				if (bpf_map_lookup_elem(fd, key, &id))
					continue;
				printf("%s[", n++ ? "," : "");
				put_hex(key, ksz);
				printf(",\"\"]");
				continue;
			}
			if (bpf_map_lookup_elem(fd, key, val))
				continue;
			printf("%s[", n++ ? "," : "");
			put_hex(key, ksz);
			putchar(',');
			put_hex(val, vsz);
			putchar(']');
		}
	}
	printf("]}");
}

int main(int argc, char **argv)
{
	const char *obj_path = NULL, *prog_name = NULL, *sets[MAX_SETS];
	int nsets = 0, cpu = 0, repeat = 1, dump = 1;
	static unsigned char data[MAX_BUF], data_out[MAX_BUF], ctx[MAX_BUF], ctx_out[MAX_BUF];
	size_t data_len = 0, ctx_len = 0;
	int has_ctx = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--no-dump")) {
			dump = 0;
			continue;
		}
		if (!v)
			usage();
		i++;
		if (!strcmp(a, "--obj"))
			obj_path = v;
		else if (!strcmp(a, "--prog"))
			prog_name = v;
		else if (!strcmp(a, "--set") && nsets < MAX_SETS)
			sets[nsets++] = v;
		else if (!strcmp(a, "--data")) {
			if (unhex(v, data, sizeof(data), &data_len))
				usage();
		} else if (!strcmp(a, "--ctx")) {
			if (unhex(v, ctx, sizeof(ctx), &ctx_len))
				usage();
			has_ctx = 1;
		} else if (!strcmp(a, "--cpu"))
			cpu = atoi(v);
		else if (!strcmp(a, "--repeat"))
			repeat = atoi(v);
		else
			usage();
	}
	if (!obj_path || !prog_name)
		usage();

	int ncpus = libbpf_num_possible_cpus();
	libbpf_set_print(capture_print);

	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		fail("affinity", errno, ncpus);

	struct bpf_object *obj = bpf_object__open_file(obj_path, NULL);
	if (!obj)
		fail("open", errno, ncpus);
	struct bpf_program *prog = bpf_object__find_program_by_name(obj, prog_name);
	if (!prog)
		fail("select", ENOENT, ncpus);
	if (bpf_object__load(obj))
		fail("load", errno, ncpus);

	for (int i = 0; i < nsets; i++) {
		static char buf[3 * MAX_BUF];
		static unsigned char k[MAX_BUF], val[MAX_BUF];
		size_t klen, vlen;
		unsigned long long flags = 0;
		snprintf(buf, sizeof(buf), "%s", sets[i]);
		char *name = strtok(buf, ":"), *kh = strtok(NULL, ":"), *vh = strtok(NULL, ":");
		char *fl = strtok(NULL, ":");
		if (!name || !kh || !vh || unhex(kh, k, sizeof(k), &klen) ||
		    unhex(vh, val, sizeof(val), &vlen))
			fail("set-syntax", EINVAL, ncpus);
		if (fl)
			flags = strtoull(fl, NULL, 0);
		struct bpf_map *m = bpf_object__find_map_by_name(obj, name);
		if (!m)
			fail("set-map", ENOENT, ncpus);
		int t = bpf_map__type(m);
		void *kp = (t == BPF_MAP_TYPE_QUEUE || t == BPF_MAP_TYPE_STACK) ? NULL : k;
		if (bpf_map_update_elem(bpf_map__fd(m), kp, val, flags))
			fail("set", errno, ncpus);
	}

	LIBBPF_OPTS(bpf_test_run_opts, topts, .repeat = repeat);
	if (data_len) {
		topts.data_in = data;
		topts.data_size_in = (unsigned int)data_len;
		topts.data_out = data_out;
		topts.data_size_out = sizeof(data_out);
	}
	if (has_ctx) {
		topts.ctx_in = ctx;
		topts.ctx_size_in = (unsigned int)ctx_len;
		if (bpf_program__type(prog) != BPF_PROG_TYPE_SYSCALL &&
		    bpf_program__type(prog) != BPF_PROG_TYPE_RAW_TRACEPOINT) {
			topts.ctx_out = ctx_out;
			topts.ctx_size_out = sizeof(ctx_out);
		}
	}
	if (bpf_program__type(prog) == BPF_PROG_TYPE_RAW_TRACEPOINT) {
		topts.flags = BPF_F_TEST_RUN_ON_CPU;
		topts.cpu = (unsigned int)cpu;
	}
	/* raw_tracepoint and syscall test runs take no repeat count (EINVAL otherwise) */
	if (bpf_program__type(prog) == BPF_PROG_TYPE_RAW_TRACEPOINT ||
	    bpf_program__type(prog) == BPF_PROG_TYPE_SYSCALL)
		topts.repeat = 0;
	int run_errno = bpf_prog_test_run_opts(bpf_program__fd(prog), &topts) ? errno : 0;

	printf("{\"ncpus\":%d,\"stage\":\"ok\",\"errno\":0,\"log\":\"\",\"run_errno\":%d,"
	       "\"retval\":%u,\"duration_ns\":%u,\"data_out\":",
	       ncpus, run_errno, topts.retval, topts.duration);
	put_hex(data_out, run_errno || !data_len ? 0 : topts.data_size_out);
	printf(",\"ctx_out\":");
	if (!has_ctx || run_errno)
		put_hex(ctx, 0);
	else if (topts.ctx_out)
		put_hex(ctx_out, topts.ctx_size_out);
	else if (bpf_program__type(prog) == BPF_PROG_TYPE_SYSCALL)
		put_hex(ctx, ctx_len); /* the kernel writes a syscall program's ctx back in place */
	else
		put_hex(ctx, 0);
	printf(",\"maps\":[");
	if (dump) {
		struct bpf_map *m;
		int first = 1;
		bpf_object__for_each_map(m, obj) {
			if (bpf_map__type(m) == BPF_MAP_TYPE_PROG_ARRAY)
				continue;
			dump_map(m, ncpus, first);
			first = 0;
		}
	}
	printf("]}\n");
	bpf_object__close(obj);
	return 0;
}
