// SPDX-License-Identifier: MIT OR Apache-2.0
/*
 * kcase: the live-kernel oracle of lull-selftests.
 *
 * Written for Lull; linked at test time against the libbpf of the same
 * linux-source tree the selftests come from (built into the cache), so section
 * names, map handling and program loading behave like the selftests' own loader.
 *
 *   kcase list OBJ
 *       One JSON object: every program libbpf sees in OBJ, in object order, with
 *       its section, type, expected attach type, flags and the BTF decl tags on
 *       its FUNC (component -1), in BTF order.
 *   kcase load OBJ  < cases
 *       One case per stdin line, tab separated:
 *         NAME UNPRIV DROP_CAPS PROG_FLAGS LOG_LEVEL EXEC PREFILL_MAP AUX
 *       UNPRIV 0/1 (1: maps the kernel refuses to unprivileged users are not
 *       created); DROP_CAPS: hex mask of capabilities removed from the effective
 *       set for this load; PROG_FLAGS OR-ed into the section's flags; EXEC 0/1:
 *       BPF_PROG_TEST_RUN once after a successful load; PREFILL_MAP "-" or the
 *       name of an array map whose key 0 gets the selftests' test_val before the
 *       run; AUX "-" or comma-separated programs loaded alongside.
 *       Prints one JSON line per case:
 *         {"name":..,"accepted":b,"errno":n,"log":"..","run":null|{"errno":n,"retval":n}}
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <stdarg.h>
#include <sys/syscall.h>
#include <linux/capability.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#define LOG_SIZE (2u << 20) /* the selftests' test loader uses 2 MiB */

static char *log_buf;

static int quiet_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
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
		else if (c == '\t')
			fputs("\\t", stdout);
		else if (c < 0x20 || c >= 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static int read_file(const char *path, char **data, size_t *len)
{
	FILE *f = fopen(path, "rb");
	long n;
	if (!f)
		return -errno;
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
		fclose(f);
		return -EIO;
	}
	*data = malloc(n ? n : 1);
	if (!*data || fread(*data, 1, n, f) != (size_t)n) {
		fclose(f);
		return -EIO;
	}
	fclose(f);
	*len = n;
	return 0;
}

static int list_programs(const char *path)
{
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	struct bpf_program *prog;
	const struct btf *btf;
	int first = 1;

	if (!obj) {
		fprintf(stderr, "kcase: cannot open %s: %s\n", path, strerror(errno));
		return 2;
	}
	btf = bpf_object__btf(obj);
	printf("{\"programs\":[");
	bpf_object__for_each_program(prog, obj) {
		const char *name = bpf_program__name(prog);
		int func_id = btf ? btf__find_by_name_kind(btf, name, BTF_KIND_FUNC) : -1;
		int tag_first = 1;

		printf("%s{\"name\":", first ? "" : ",");
		first = 0;
		put_json_string(name);
		printf(",\"section\":");
		put_json_string(bpf_program__section_name(prog));
		printf(",\"type\":%d,\"attach_type\":%d,\"flags\":%u,\"insns\":%zu,\"tags\":[",
		       bpf_program__type(prog), bpf_program__expected_attach_type(prog),
		       bpf_program__flags(prog), bpf_program__insn_cnt(prog));
		for (unsigned int id = 1; btf && func_id > 0 && id < btf__type_cnt(btf); id++) {
			const struct btf_type *t = btf__type_by_id(btf, id);
			if (!btf_is_decl_tag(t) || t->type != (unsigned int)func_id ||
			    btf_decl_tag(t)->component_idx != -1)
				continue;
			printf("%s", tag_first ? "" : ",");
			tag_first = 0;
			put_json_string(btf__str_by_offset(btf, t->name_off));
		}
		printf("]}");
	}
	printf("]}\n");
	bpf_object__close(obj);
	return 0;
}

/* Capabilities: clear bits of the effective set, restore afterwards. */
static int caps_get(struct __user_cap_data_struct data[2])
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	return syscall(SYS_capget, &hdr, data) ? -errno : 0;
}

static int caps_set(struct __user_cap_data_struct data[2])
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	return syscall(SYS_capset, &hdr, data) ? -errno : 0;
}

static uint64_t caps_effective(struct __user_cap_data_struct data[2])
{
	return (uint64_t)data[0].effective | ((uint64_t)data[1].effective << 32);
}

static int caps_set_effective(uint64_t eff)
{
	struct __user_cap_data_struct data[2];
	int err = caps_get(data);
	if (err)
		return err;
	data[0].effective = (uint32_t)eff;
	data[1].effective = (uint32_t)(eff >> 32);
	return caps_set(data);
}

static int map_allowed_unpriv(struct bpf_map *map)
{
	switch (bpf_map__type(map)) {
	case BPF_MAP_TYPE_HASH:
	case BPF_MAP_TYPE_PERCPU_HASH:
	case BPF_MAP_TYPE_HASH_OF_MAPS:
		return !(bpf_map__map_flags(map) & BPF_F_ZERO_SEED);
	case BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE:
	case BPF_MAP_TYPE_ARRAY:
	case BPF_MAP_TYPE_RINGBUF:
	case BPF_MAP_TYPE_PROG_ARRAY:
	case BPF_MAP_TYPE_CGROUP_ARRAY:
	case BPF_MAP_TYPE_PERCPU_ARRAY:
	case BPF_MAP_TYPE_USER_RINGBUF:
	case BPF_MAP_TYPE_ARRAY_OF_MAPS:
	case BPF_MAP_TYPE_CGROUP_STORAGE:
	case BPF_MAP_TYPE_PERF_EVENT_ARRAY:
		return 1;
	default:
		return 0;
	}
}

static int in_list(const char *name, const char *csv)
{
	size_t n = strlen(name);
	const char *p = csv;
	if (!strcmp(csv, "-"))
		return 0;
	while (*p) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len == n && !strncmp(p, name, n))
			return 1;
		if (!e)
			break;
		p = e + 1;
	}
	return 0;
}

/* The selftests' map prefill: key 0 = struct test_val { index = 28, foo[6] = 0xabcdef12 }. */
static int prefill(struct bpf_object *obj, const char *map_name)
{
	struct { unsigned int index; int foo[11]; } value;
	struct bpf_map *map = bpf_object__find_map_by_name(obj, map_name);
	int key = 0;
	if (!map)
		return -ENOENT;
	memset(&value, 0, sizeof(value));
	value.index = 7 * sizeof(int);
	value.foo[6] = 0xabcdef12;
	return bpf_map_update_elem(bpf_map__fd(map), &key, &value, 0) ? -errno : 0;
}

static void run_case(const char *data, size_t len, char *line)
{
	char *field[8];
	int nf = 0;
	for (char *save = NULL, *tok = strtok_r(line, "\t", &save); tok && nf < 8;
	     tok = strtok_r(NULL, "\t", &save))
		field[nf++] = tok;
	if (nf != 8) {
		printf("{\"error\":\"bad case line\"}\n");
		return;
	}
	const char *name = field[0];
	int unpriv = atoi(field[1]);
	uint64_t drop = strtoull(field[2], NULL, 16);
	unsigned int flags = strtoul(field[3], NULL, 0);
	int log_level = atoi(field[4]);
	int exec = atoi(field[5]);
	const char *prefill_map = field[6];
	const char *aux = field[7];

	struct bpf_object *obj = bpf_object__open_mem(data, len, NULL);
	struct bpf_program *prog, *sel = NULL;
	struct bpf_map *map;
	struct __user_cap_data_struct saved[2];
	int err, fd, run_errno = 0, dropped = 0;
	unsigned int retval = 0;

	if (!obj) {
		printf("{\"name\":");
		put_json_string(name);
		printf(",\"accepted\":false,\"errno\":%d,\"log\":\"\",\"run\":null,\"stage\":\"open\"}\n", errno);
		return;
	}
	bpf_object__for_each_program(prog, obj) {
		int is_sel = !strcmp(bpf_program__name(prog), name);
		if (is_sel)
			sel = prog;
		bpf_program__set_autoload(prog, is_sel || in_list(bpf_program__name(prog), aux));
	}
	if (!sel) {
		printf("{\"name\":");
		put_json_string(name);
		printf(",\"accepted\":false,\"errno\":%d,\"log\":\"\",\"run\":null,\"stage\":\"select\"}\n", ENOENT);
		bpf_object__close(obj);
		return;
	}
	bpf_object__for_each_map(map, obj)
		bpf_map__set_autocreate(map, !unpriv || map_allowed_unpriv(map));
	log_buf[0] = 0;
	bpf_program__set_log_buf(sel, log_buf, LOG_SIZE);
	bpf_program__set_log_level(sel, log_level);
	bpf_program__set_flags(sel, bpf_program__flags(sel) | flags);

	if (drop && !caps_get(saved)) {
		if (!caps_set_effective(caps_effective(saved) & ~drop))
			dropped = 1;
	}
	err = bpf_object__load(obj);
	if (dropped)
		caps_set(saved);
	fd = err ? -1 : bpf_program__fd(sel);

	printf("{\"name\":");
	put_json_string(name);
	printf(",\"accepted\":%s,\"errno\":%d,\"log\":", fd >= 0 ? "true" : "false", err < 0 ? -err : err);
	put_json_string(log_buf);
	if (fd >= 0 && exec) {
		unsigned char in[64] = { 0 }, out[256] = { 0 };
		LIBBPF_OPTS(bpf_test_run_opts, topts, .data_in = in, .data_size_in = sizeof(in),
			    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);
		if (bpf_program__type(sel) == BPF_PROG_TYPE_SYSCALL) {
			memset(&topts, 0, sizeof(topts));
			topts.sz = sizeof(topts);
		}
		if (strcmp(prefill_map, "-"))
			run_errno = -prefill(obj, prefill_map);
		if (!run_errno)
			run_errno = bpf_prog_test_run_opts(fd, &topts) ? errno : 0;
		retval = topts.retval;
		printf(",\"run\":{\"errno\":%d,\"retval\":%d}", run_errno, (int)retval);
	} else {
		printf(",\"run\":null");
	}
	printf(",\"stage\":\"load\"}\n");
	fflush(stdout);
	bpf_object__close(obj);
}

int main(int argc, char **argv)
{
	char *data = NULL, *line = NULL;
	size_t len = 0, cap = 0;
	ssize_t n;

	libbpf_set_print(quiet_print);
	if (argc == 3 && !strcmp(argv[1], "list"))
		return list_programs(argv[2]);
	if (argc != 3 || strcmp(argv[1], "load")) {
		fprintf(stderr, "usage: kcase list OBJ | kcase load OBJ < cases\n");
		return 2;
	}
	if (read_file(argv[2], &data, &len)) {
		fprintf(stderr, "kcase: cannot read %s\n", argv[2]);
		return 2;
	}
	log_buf = calloc(1, LOG_SIZE);
	if (!log_buf)
		return 2;
	while ((n = getline(&line, &cap, stdin)) > 0) {
		if (line[n - 1] == '\n')
			line[n - 1] = 0;
		if (*line)
			run_case(data, len, line);
	}
	free(line);
	free(data);
	free(log_buf);
	return 0;
}
