// libbpf oracle: opens a BPF object with bpf_object__open_file (no load, no privileges) and
// prints what libbpf decided, as one JSON object:
// {"programs":[{"name","section","type","expected_attach_type"}],
//  "maps":[{"name","type","key_size","value_size","max_entries","flags"}]}
// Types are printed as kernel numbers. Exit status 3 when libbpf cannot open the object.
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>

static int quiet(enum libbpf_print_level level, const char *fmt, va_list args)
{
	(void)level; (void)fmt; (void)args;
	return 0;
}

int main(int argc, char **argv)
{
	struct bpf_object *obj;
	struct bpf_program *prog;
	struct bpf_map *map;
	const char *sep = "";

	if (argc != 2) {
		fprintf(stderr, "usage: %s OBJ\n", argv[0]);
		return 2;
	}
	libbpf_set_print(quiet);
	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj || libbpf_get_error(obj)) {
		fprintf(stderr, "libbpf cannot open %s\n", argv[1]);
		return 3;
	}
	printf("{\"programs\":[");
	bpf_object__for_each_program(prog, obj) {
		printf("%s{\"name\":\"%s\",\"section\":\"%s\",\"type\":%u,\"expected_attach_type\":%u}",
		       sep, bpf_program__name(prog), bpf_program__section_name(prog),
		       (unsigned)bpf_program__type(prog),
		       (unsigned)bpf_program__expected_attach_type(prog));
		sep = ",";
	}
	printf("],\"maps\":[");
	sep = "";
	bpf_object__for_each_map(map, obj) {
		printf("%s{\"name\":\"%s\",\"type\":%u,\"key_size\":%u,\"value_size\":%u,"
		       "\"max_entries\":%u,\"flags\":%u}",
		       sep, bpf_map__name(map), (unsigned)bpf_map__type(map),
		       bpf_map__key_size(map), bpf_map__value_size(map),
		       bpf_map__max_entries(map), bpf_map__map_flags(map));
		sep = ",";
	}
	printf("]}\n");
	bpf_object__close(obj);
	return 0;
}
