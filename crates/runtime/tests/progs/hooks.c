/* Programs of the hook tests (tests/hooks.rs). All are uprobe programs (kprobe type, a
 * pt_regs context); `.s` sections are sleepable. Each counting program bumps its own slot of
 * `counts`, so a test can tell exactly which programs ran how often.
 */
#include "common.h"

/* struct pt_regs of x86-64 as u64 slots: rdi is slot 14. */
#define PT_REGS_RDI 14

enum {
	SLOT_ATOMIC,
	SLOT_SLEEPABLE,
	SLOT_RET_SEVEN,
	SLOT_RET_ZERO,
	SLOT_RET_NINE,
	SLOT_WAITED,
	SLOT_WAITED_VALUE,
	SLOT_WAITED_RET,
	NR_SLOTS,
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NR_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

static __always_inline void bump(__u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&counts, &slot);
	if (v)
		__sync_fetch_and_add(v, 1);
}

static __always_inline void store(__u32 slot, __u64 value)
{
	__u64 *v = bpf_map_lookup_elem(&counts, &slot);
	if (v)
		*v = value;
}

SEC("uprobe")
int empty(void *ctx)
{
	return 0;
}

SEC("uprobe.s")
int empty_sleepable(void *ctx)
{
	return 0;
}

SEC("uprobe")
int count_atomic(void *ctx)
{
	bump(SLOT_ATOMIC);
	return 0;
}

SEC("uprobe.s")
int count_sleepable(void *ctx)
{
	bump(SLOT_SLEEPABLE);
	return 0;
}

SEC("uprobe")
int ret_seven(void *ctx)
{
	bump(SLOT_RET_SEVEN);
	return 7;
}

SEC("uprobe")
int ret_zero(void *ctx)
{
	bump(SLOT_RET_ZERO);
	return 0;
}

SEC("uprobe")
int ret_nine(void *ctx)
{
	bump(SLOT_RET_NINE);
	return 9;
}

/* Reads 8 bytes of user memory at the first argument with the faulting copy: with a host
 * source whose bytes have not arrived, this blocks until they do. */
SEC("uprobe.s")
int wait_for_user(void *ctx)
{
	__u64 value = 0;
	const void *addr = (const void *)((__u64 *)ctx)[PT_REGS_RDI];
	long ret = bpf_copy_from_user(&value, sizeof(value), addr);

	store(SLOT_WAITED_VALUE, value);
	store(SLOT_WAITED_RET, (__u64)ret);
	bump(SLOT_WAITED);
	return 0;
}

SEC("xdp")
int not_a_probe(struct xdp_md *ctx)
{
	return XDP_PASS;
}
