/* Packet-resizing helpers: each program records helper results and packet lengths in `res`. */
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __s64);
} res SEC(".maps");

static __always_inline void put(__u32 i, __s64 v)
{
	__s64 *p = bpf_map_lookup_elem(&res, &i);
	if (p)
		*p = v;
}

unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");

SEC("xdp")
int xdp_head(struct xdp_md *ctx)
{
	put(0, bpf_xdp_adjust_head(ctx, -217));  /* into the xdp_frame: -EINVAL */
	put(1, bpf_xdp_adjust_head(ctx, -216));  /* to the frame's end */
	put(2, bpf_xdp_adjust_head(ctx, 216 + 64 - 13)); /* 13 bytes left: -EINVAL */
	put(3, bpf_xdp_adjust_head(ctx, 216 + 64 - 14)); /* 14 bytes left */
	__u8 *p = (void *)(long)ctx->data;
	__u8 *end = (void *)(long)ctx->data_end;
	if (p + 14 > end)
		return XDP_ABORTED;
	p[0] = 0xaa;
	put(4, end - p);
	return XDP_PASS;
}

SEC("xdp")
int xdp_tail(struct xdp_md *ctx)
{
	/* 64 bytes at 256 of a 4096-byte page whose last 320 bytes are tailroom */
	put(0, bpf_xdp_adjust_tail(ctx, 3456 + 1));
	put(1, bpf_xdp_adjust_tail(ctx, 3456));
	put(2, (long)ctx->data_end - (long)ctx->data);
	put(3, bpf_xdp_adjust_tail(ctx, -(3520 - 13)));
	put(4, bpf_xdp_adjust_tail(ctx, -(3520 - 14)));
	put(5, bpf_xdp_adjust_tail(ctx, 2));
	__u8 *p = (void *)(long)ctx->data;
	__u8 *end = (void *)(long)ctx->data_end;
	if (p + 16 > end)
		return XDP_ABORTED;
	put(6, p[13] + p[14] + p[15]);
	return XDP_PASS;
}

SEC("xdp")
int xdp_meta(struct xdp_md *ctx)
{
	put(0, bpf_xdp_adjust_meta(ctx, 4));   /* past data: -EINVAL */
	put(1, bpf_xdp_adjust_meta(ctx, -6));  /* not a multiple of 4: -EACCES */
	put(2, bpf_xdp_adjust_meta(ctx, -217)); /* into the xdp_frame: -EINVAL */
	put(3, bpf_xdp_adjust_meta(ctx, -4));
	__u8 *m = (void *)(long)ctx->data_meta;
	__u8 *d = (void *)(long)ctx->data;
	if (m + 4 > d)
		return XDP_ABORTED;
	m[0] = 0x11;
	m[3] = 0x44;
	put(4, bpf_xdp_adjust_head(ctx, 2));   /* the metadata moves along */
	m = (void *)(long)ctx->data_meta;
	d = (void *)(long)ctx->data;
	if (m + 4 > d)
		return XDP_ABORTED;
	put(5, m[0] + m[3]);
	put(6, d - m);
	return XDP_PASS;
}

SEC("tc")
int skb_tail(struct __sk_buff *skb)
{
	put(0, bpf_skb_change_tail(skb, 16065, 0));
	put(1, bpf_skb_change_tail(skb, 13, 0));
	put(2, bpf_skb_change_tail(skb, 80, 1));
	put(3, bpf_skb_change_tail(skb, 80, 0));
	put(4, skb->len);
	__u8 *p = (void *)(long)skb->data;
	__u8 *end = (void *)(long)skb->data_end;
	if (p + 80 > end)
		return 1;
	put(5, p[63] * 256 + p[79]);
	put(6, bpf_skb_change_tail(skb, 16, 0));
	put(7, (long)skb->data_end - (long)skb->data);
	return 0;
}

SEC("tc")
int skb_head(struct __sk_buff *skb)
{
	put(0, bpf_skb_change_head(skb, 16064 - 63, 0));
	put(1, bpf_skb_change_head(skb, 2, 1));
	put(2, bpf_skb_change_head(skb, 2, 0));
	__u8 *p = (void *)(long)skb->data;
	__u8 *end = (void *)(long)skb->data_end;
	if (p + 3 > end)
		return 1;
	p[0] = 0x42;
	put(3, skb->len);
	put(4, load_byte(skb, 0) * 256 + load_byte(skb, 2));
	/* grow far beyond the initial headroom: the packet moves */
	put(5, bpf_skb_change_head(skb, 15000, 0));
	put(6, skb->len);
	put(7, load_byte(skb, 15000));
	put(8, bpf_skb_pull_data(skb, 0));
	put(9, bpf_skb_pull_data(skb, 20000));
	return 0;
}

SEC("tc")
int skb_room(struct __sk_buff *skb)
{
	put(0, bpf_skb_adjust_room(skb, 4, BPF_ADJ_ROOM_NET, 0));
	put(1, skb->len);
	put(2, bpf_skb_adjust_room(skb, -4, BPF_ADJ_ROOM_MAC, 0));
	put(3, bpf_skb_adjust_room(skb, 0x1000, BPF_ADJ_ROOM_NET, 0));
	put(4, bpf_skb_adjust_room(skb, 4, 2, 0));
	put(5, bpf_skb_adjust_room(skb, -31, BPF_ADJ_ROOM_MAC, 0));
	put(6, bpf_skb_adjust_room(skb, 20, BPF_ADJ_ROOM_MAC, BPF_F_ADJ_ROOM_ENCAP_L3_IPV4));
	put(7, bpf_skb_adjust_room(skb, 20, BPF_ADJ_ROOM_MAC, BPF_F_ADJ_ROOM_ENCAP_L3_IPV4));
	put(8, bpf_skb_change_tail(skb, 100, 0));
	return 0;
}
