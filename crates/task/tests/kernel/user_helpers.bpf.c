// SPDX-License-Identifier: MIT OR Apache-2.0
// Oracle for lull-task's helper semantics: a syscall program (sleepable, runnable with
// BPF_PROG_TEST_RUN) calls the user-memory and current-task helpers on pointers into the
// loader's memory and stores every return value and destination buffer in its context.
// The case list must match CASES in ../kernel_oracle.rs.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define NCASES 13

struct args {
	__u64 empty, hello, longs, bad;
	__s64 ret[NCASES];
	unsigned char out[NCASES][16];
	__u64 pid_tgid, uid_gid;
	char comm[16];
};

extern int bpf_copy_from_user_str(void *dst, __u32 dst__sz, const void *unsafe_ptr__ign,
				  __u64 flags) __weak __ksym;

/* Each case starts from a buffer of 0xaa bytes. */
#define CASE(i, expr)                                         \
	do {                                                  \
		unsigned char b[16];                          \
		__builtin_memset(b, 0xaa, sizeof(b));         \
		a->ret[i] = (expr);                           \
		__builtin_memcpy(a->out[i], b, sizeof(b));    \
	} while (0)

SEC("syscall")
int user_helpers(struct args *a)
{
	CASE(0, bpf_probe_read_user_str(b, 16, (void *)a->empty));
	CASE(1, bpf_probe_read_user_str(b, 16, (void *)a->hello));
	CASE(2, bpf_probe_read_user_str(b, 4, (void *)a->longs));
	CASE(3, bpf_copy_from_user_str(b, 16, (void *)a->hello, 0));
	CASE(4, bpf_copy_from_user_str(b, 16, (void *)a->hello, 1 /* BPF_F_PAD_ZEROS */));
	CASE(5, bpf_copy_from_user_str(b, 1, (void *)a->bad, 0));
	CASE(6, bpf_copy_from_user_str(b, 16, (void *)a->bad, 0));
	CASE(7, bpf_probe_read_user_str(b, 16, (void *)a->bad));
	CASE(8, bpf_copy_from_user_str(b, 16, (void *)a->bad, 2 /* unknown flag */));
	CASE(9, bpf_copy_from_user_str(b, 16, (void *)a->empty, 0));
	CASE(10, bpf_probe_read_user(b, 16, (void *)a->bad));
	CASE(11, bpf_copy_from_user(b, 16, (void *)a->bad));
	CASE(12, bpf_copy_from_user(b, 6, (void *)a->hello));
	a->pid_tgid = bpf_get_current_pid_tgid();
	a->uid_gid = bpf_get_current_uid_gid();
	{
		char comm[16];

		bpf_get_current_comm(comm, sizeof(comm));
		__builtin_memcpy(a->comm, comm, sizeof(comm));
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
