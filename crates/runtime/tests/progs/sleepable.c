/* Sleepable programs of the hook and real-process tests.
 *
 * `read_user` is a sleepable uprobe (section `uprobe.s`): its first argument (rdi in the
 * pt_regs context) is a user address of the task it runs for. It reads 64 bytes there with
 * the no-fault `bpf_probe_read_user`, then with the faulting `bpf_copy_from_user`, then once
 * more with `bpf_probe_read_user`, and stores every return value and copy in `results`.
 */
#include "common.h"

/* struct pt_regs of x86-64 as u64 slots: rdi is slot 14. */
#define PT_REGS_RDI 14

struct result {
	__s64 probe_ret;
	__s64 copy_ret;
	__s64 probe_after_ret;
	__u64 pid_tgid;
	__u8 probe_data[64];
	__u8 copy_data[64];
	__u8 probe_after_data[64];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct result);
} results SEC(".maps");

SEC("uprobe.s")
int read_user(void *ctx)
{
	__u32 key = 0;
	struct result *r = bpf_map_lookup_elem(&results, &key);
	if (!r)
		return 1;
	const void *addr = (const void *)((__u64 *)ctx)[PT_REGS_RDI];
	r->probe_ret = bpf_probe_read_user(r->probe_data, sizeof(r->probe_data), addr);
	r->copy_ret = bpf_copy_from_user(r->copy_data, sizeof(r->copy_data), addr);
	r->probe_after_ret = bpf_probe_read_user(r->probe_after_data,
						 sizeof(r->probe_after_data), addr);
	r->pid_tgid = bpf_get_current_pid_tgid();
	return 0;
}
