// SPDX-License-Identifier: MIT OR Apache-2.0
/* Ring buffer: reserve/submit, reserve/discard, output, oversize and zero-size reservations,
 * queries; the consumer's view is compared. */
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} rb SEC(".maps");

SEC("xdp")
int ringbuf_ops(struct xdp_md *ctx)
{
	__u64 *a = bpf_ringbuf_reserve(&rb, 16, 0);
	if (!a)
		return 1;
	a[0] = 0x1111;
	a[1] = 0x2222;
	__u32 *b = bpf_ringbuf_reserve(&rb, 12, 0);
	if (!b) {
		bpf_ringbuf_discard(a, 0);
		return 2;
	}
	b[0] = 0xdead;
	bpf_ringbuf_discard(b, 0);
	bpf_ringbuf_submit(a, BPF_RB_NO_WAKEUP);
	__u32 data[3] = { 7, 8, 9 };
	put(0, bpf_ringbuf_output(&rb, data, sizeof(data), 0));
	void *big = bpf_ringbuf_reserve(&rb, 8192, 0);
	put(1, big == 0);
	if (big)
		bpf_ringbuf_discard(big, 0);
	put(2, bpf_ringbuf_query(&rb, BPF_RB_AVAIL_DATA));
	put(3, bpf_ringbuf_query(&rb, BPF_RB_RING_SIZE));
	put(4, bpf_ringbuf_query(&rb, BPF_RB_PROD_POS));
	put(5, bpf_ringbuf_query(&rb, BPF_RB_CONS_POS));
	put(6, bpf_ringbuf_output(&rb, data, 4, 3));
	return XDP_PASS;
}

SEC("xdp")
int ringbuf_fill(struct xdp_md *ctx)
{
	__u64 buf[16] = {};
	int ok = 0, err = 0;
	for (int i = 0; i < 40; i++) {
		buf[0] = i;
		if (bpf_ringbuf_output(&rb, buf, sizeof(buf), 0) == 0)
			ok++;
		else
			err++;
	}
	put(0, ok);
	put(1, err);
	put(2, bpf_ringbuf_query(&rb, BPF_RB_AVAIL_DATA));
	return XDP_PASS;
}
