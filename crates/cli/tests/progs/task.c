/* `lull run --task PID` (tests/run_task.rs): a sleepable uprobe that reports the task it runs
 * for and reads its memory. Its first argument (rdi of the pt_regs context) is a user address
 * in that task. Returns the tgid; stores the comm, and 4 bytes read with bpf_copy_from_user
 * and with bpf_probe_read_user with both return values, in `seen`.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct seen {
	char comm[16];
	__s64 copy_ret;
	__u8 copied[8];
	__u64 uid_gid;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct seen);
} seen SEC(".maps");

SEC("uprobe.s")
int who(void *ctx)
{
	__u32 key = 0;
	struct seen *s = bpf_map_lookup_elem(&seen, &key);
	if (!s)
		return 0;
	bpf_get_current_comm(s->comm, sizeof(s->comm));
	const void *addr = (const void *)((__u64 *)ctx)[14];
	s->copy_ret = bpf_copy_from_user(s->copied, 4, addr);
	s->uid_gid = bpf_get_current_uid_gid();
	return bpf_get_current_pid_tgid() >> 32;
}
