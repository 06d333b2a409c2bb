// SPDX-License-Identifier: MIT OR Apache-2.0
/* Packet-resizing helpers: bpf_xdp_adjust_head/meta/tail in XDP, bpf_skb_change_tail/head,
 * bpf_skb_pull_data and bpf_skb_adjust_room in tc; every error path the helpers have on a
 * test run's buffer, the packet re-read after each change, and the packet returned. */
#include "common.h"

unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");

/* The sizes the kernel's XDP test run uses: 256 bytes of headroom, of which a struct
 * xdp_frame (40 bytes) is off limits, and 320 bytes of tailroom in a 4096-byte page. */
#define XDP_HEADROOM 256
#define XDP_FRAME 40
#define XDP_TAIL_LIMIT (4096 - 320)
/* Newer than this machine's UAPI header. */
#define ADJ_ROOM_DECAP_L3_IPV4 (1ULL << 7)

SEC("xdp")
int xdp_head_ops(struct xdp_md *ctx)
{
	long len = (long)ctx->data_end - (long)ctx->data;

	put(0, bpf_xdp_adjust_head(ctx, -(XDP_HEADROOM - XDP_FRAME) - 1)); /* into xdp_frame */
	put(1, bpf_xdp_adjust_head(ctx, len - 13));                        /* < ETH_HLEN left */
	put(2, bpf_xdp_adjust_head(ctx, -(XDP_HEADROOM - XDP_FRAME)));     /* all the headroom */
	put(3, (long)ctx->data_end - (long)ctx->data);
	put(4, bpf_xdp_adjust_head(ctx, XDP_HEADROOM - XDP_FRAME + 10));   /* drop 10 bytes */
	__u8 *p = (void *)(long)ctx->data;
	__u8 *end = (void *)(long)ctx->data_end;
	if (p + 2 > end)
		return XDP_ABORTED;
	p[0] = 0xaa;
	p[1] = (__u8)(end - p);
	put(5, end - p);
	put(6, (long)ctx->data - (long)ctx->data_meta);
	return XDP_PASS;
}

SEC("xdp")
int xdp_tail_ops(struct xdp_md *ctx)
{
	long len = (long)ctx->data_end - (long)ctx->data;
	long room = XDP_TAIL_LIMIT - XDP_HEADROOM - len;

	put(0, bpf_xdp_adjust_tail(ctx, room + 1));     /* into the tailroom */
	put(1, bpf_xdp_adjust_tail(ctx, -(len - 13)));  /* below ETH_HLEN */
	put(2, bpf_xdp_adjust_tail(ctx, room));         /* up to the limit */
	put(3, (long)ctx->data_end - (long)ctx->data);
	put(4, bpf_xdp_adjust_tail(ctx, 1));
	put(5, bpf_xdp_adjust_tail(ctx, -(room + len - 20))); /* down to 20 bytes */
	__u8 *p = (void *)(long)ctx->data;
	__u8 *end = (void *)(long)ctx->data_end;
	if (p + 20 > end)
		return XDP_ABORTED;
	p[19] = 0xee;
	put(6, end - p);
	put(7, bpf_xdp_adjust_tail(ctx, 8)); /* grown bytes are zeroed */
	put(8, bpf_xdp_adjust_tail(ctx, 0));
	return XDP_TX;
}

SEC("xdp")
int xdp_meta_ops(struct xdp_md *ctx)
{
	put(0, bpf_xdp_adjust_meta(ctx, 4));    /* past data */
	put(1, bpf_xdp_adjust_meta(ctx, -3));   /* not a multiple of 4 */
	put(2, bpf_xdp_adjust_meta(ctx, -XDP_HEADROOM)); /* before the xdp_frame */
	put(3, bpf_xdp_adjust_meta(ctx, -(XDP_HEADROOM - XDP_FRAME))); /* 216 bytes: allowed */
	put(4, bpf_xdp_adjust_head(ctx, -4));   /* no room left for the data to move */
	put(5, bpf_xdp_adjust_meta(ctx, XDP_HEADROOM - XDP_FRAME - 8)); /* back to 8 bytes */
	__u8 *meta = (void *)(long)ctx->data_meta;
	__u8 *data = (void *)(long)ctx->data;
	if (meta + 8 > data)
		return XDP_ABORTED;
	for (int i = 0; i < 8; i++)
		meta[i] = 0xc0 + i;
	put(6, bpf_xdp_adjust_head(ctx, 6));    /* the metadata moves with data */
	put(7, (long)ctx->data - (long)ctx->data_meta);
	meta = (void *)(long)ctx->data_meta;
	data = (void *)(long)ctx->data;
	if (meta + 8 > data)
		return XDP_ABORTED;
	put(8, meta[0] + meta[7]);
	put(9, bpf_xdp_adjust_head(ctx, -8));
	return XDP_PASS;
}

SEC("xdp")
int xdp_meta_in(struct xdp_md *ctx)
{
	__u8 *meta = (void *)(long)ctx->data_meta;
	__u8 *data = (void *)(long)ctx->data;
	__u8 *end = (void *)(long)ctx->data_end;
	if (meta + 8 > data || data + 1 > end)
		return XDP_ABORTED;
	put(0, data - meta);
	put(1, end - data);
	put(2, meta[0] + meta[7] * 256 + data[0] * 65536);
	put(3, bpf_xdp_adjust_meta(ctx, 8));
	put(4, bpf_xdp_adjust_tail(ctx, -2));
	return XDP_PASS;
}

SEC("xdp.frags")
int xdp_frags_tail(struct xdp_md *ctx)
{
	put(0, (long)ctx->data_end - (long)ctx->data);
	put(1, bpf_xdp_adjust_tail(ctx, 4096));  /* beyond the last fragment's page */
	put(2, bpf_xdp_adjust_tail(ctx, 100));   /* the last fragment grows */
	put(3, bpf_xdp_adjust_tail(ctx, -1590)); /* releases the fragment, then 10 bytes */
	put(4, (long)ctx->data_end - (long)ctx->data);
	return XDP_PASS;
}

SEC("tc")
int tc_change_tail(struct __sk_buff *skb)
{
	put(0, bpf_skb_change_tail(skb, 16064 + 1, 0)); /* > BPF_SKB_MAX_LEN */
	put(1, bpf_skb_change_tail(skb, 13, 0));        /* shorter than the MAC header */
	put(2, bpf_skb_change_tail(skb, 100, 1));       /* flags */
	put(3, bpf_skb_change_tail(skb, 100, 0));
	__u8 *p = (void *)(long)skb->data;
	__u8 *end = (void *)(long)skb->data_end;
	if (p + 100 > end)
		return 1;
	p[99] ^= 0x5a; /* grown bytes are zeroed */
	p[63] ^= 0xff;
	put(4, skb->len);
	put(5, bpf_skb_change_tail(skb, 14, 0));
	put(6, skb->len);
	put(7, bpf_skb_change_tail(skb, 40, 0));
	put(8, (long)skb->data_end - (long)skb->data);
	return 0;
}

SEC("tc")
int tc_change_head(struct __sk_buff *skb)
{
	put(0, bpf_skb_change_head(skb, 16064, 0)); /* too long */
	put(1, bpf_skb_change_head(skb, 4, 2));     /* flags */
	put(2, bpf_skb_change_head(skb, 8, 0));
	__u8 *p = (void *)(long)skb->data;
	__u8 *end = (void *)(long)skb->data_end;
	if (p + 9 > end)
		return 1;
	p[0] = 0x5a;
	p[8] ^= 0x11;
	put(3, skb->len);
	put(4, load_byte(skb, 0) + load_byte(skb, 9) * 256);
	put(5, bpf_skb_change_head(skb, 1000, 0));
	put(6, skb->len);
	put(7, bpf_skb_change_tail(skb, 1000, 0)); /* the reallocation set the transport header */
	put(8, bpf_skb_change_head(skb, 0xffffffff, 0)); /* length wraps */
	return 0;
}

SEC("tc")
int tc_pull_data(struct __sk_buff *skb)
{
	put(0, bpf_skb_pull_data(skb, 0));
	put(1, bpf_skb_pull_data(skb, skb->len));
	put(2, bpf_skb_pull_data(skb, skb->len + 1));
	put(3, bpf_skb_pull_data(skb, 0xffffffff));
	__u8 *p = (void *)(long)skb->data;
	__u8 *end = (void *)(long)skb->data_end;
	if (p + 1 > end)
		return 1;
	p[0] = 0x77;
	return 0;
}

SEC("tc")
int tc_adjust_room(struct __sk_buff *skb)
{
	put(0, bpf_skb_adjust_room(skb, 8, BPF_ADJ_ROOM_NET, 0));
	put(1, skb->len);
	put(2, bpf_skb_adjust_room(skb, -4, BPF_ADJ_ROOM_NET, 0));
	put(3, bpf_skb_adjust_room(skb, 6, BPF_ADJ_ROOM_MAC, 0));
	put(4, bpf_skb_adjust_room(skb, 0x1000, BPF_ADJ_ROOM_MAC, 0)); /* > 0xfff */
	put(5, bpf_skb_adjust_room(skb, 4, 7, 0));                     /* bad mode */
	put(6, bpf_skb_adjust_room(skb, 4, BPF_ADJ_ROOM_MAC, 1ULL << 20)); /* bad flag */
	/* the IP packet must keep an IP header */
	put(7, bpf_skb_adjust_room(skb, -(long)(skb->len - 14 - 19), BPF_ADJ_ROOM_MAC, 0));
	put(8, bpf_skb_adjust_room(skb, 4, BPF_ADJ_ROOM_MAC, ADJ_ROOM_DECAP_L3_IPV4));
	put(9, skb->len);
	__u8 *p = (void *)(long)skb->data;
	__u8 *end = (void *)(long)skb->data_end;
	if (p + 40 > end)
		return 1;
	p[39] = 0x39;
	return 0;
}

SEC("tc")
int tc_encap(struct __sk_buff *skb)
{
	put(0, bpf_skb_adjust_room(skb, 40, BPF_ADJ_ROOM_MAC,
				   BPF_F_ADJ_ROOM_ENCAP_L3_IPV6 | BPF_F_ADJ_ROOM_ENCAP_L3_IPV4));
	put(1, bpf_skb_adjust_room(skb, 8, BPF_ADJ_ROOM_MAC,
				   BPF_F_ADJ_ROOM_ENCAP_L3_IPV4 | BPF_F_ADJ_ROOM_ENCAP_L2(16)));
	put(2, bpf_skb_adjust_room(skb, 48, BPF_ADJ_ROOM_MAC,
				   BPF_F_ADJ_ROOM_ENCAP_L3_IPV6 | BPF_F_ADJ_ROOM_ENCAP_L4_UDP));
	put(3, skb->protocol);
	put(4, skb->len);
	put(5, bpf_skb_adjust_room(skb, 20, BPF_ADJ_ROOM_MAC, BPF_F_ADJ_ROOM_ENCAP_L3_IPV4));
	put(6, bpf_skb_change_tail(skb, 200, 0)); /* encapsulated: -ENOTSUPP */
	put(7, bpf_skb_adjust_room(skb, -48, BPF_ADJ_ROOM_MAC, ADJ_ROOM_DECAP_L3_IPV4));
	put(8, skb->protocol);
	put(9, bpf_skb_adjust_room(skb, -4, BPF_ADJ_ROOM_NET, BPF_F_ADJ_ROOM_ENCAP_L3_IPV4));
	return 0;
}

SEC("tc")
int tc_room_not_ip(struct __sk_buff *skb)
{
	put(0, bpf_skb_adjust_room(skb, 4, BPF_ADJ_ROOM_MAC, 0));
	put(1, bpf_skb_change_head(skb, 4, 0));
	put(2, skb->len);
	return 0;
}

/* Growing past the buffer's headroom (64 bytes in a test run) reallocates it, which sets the
 * unset transport header to one byte before the old head: change_tail may not cut there. */
SEC("tc")
int tc_realloc(struct __sk_buff *skb)
{
	put(0, bpf_skb_change_head(skb, 40, 0));   /* fits the headroom */
	put(1, bpf_skb_change_tail(skb, 54, 0));   /* network header at 54 */
	put(2, bpf_skb_change_tail(skb, 53, 0));
	put(3, bpf_skb_change_head(skb, 100, 0));  /* 24 left: reallocates by 128 */
	put(4, bpf_skb_change_tail(skb, 74, 0));   /* transport at 100 - 24 - 1 */
	put(5, bpf_skb_change_tail(skb, 75, 0));
	put(6, skb->len);
	return 0;
}

SEC("tc")
int tc_realloc_room(struct __sk_buff *skb)
{
	put(0, bpf_skb_adjust_room(skb, 0x80, BPF_ADJ_ROOM_MAC, 0)); /* reallocates by 64 */
	put(1, bpf_skb_change_tail(skb, 62, 0));
	put(2, bpf_skb_change_tail(skb, 63, 0));
	put(3, skb->len);
	return 0;
}

/* bpf_xdp_load_bytes/store_bytes across the linear part and a fragment. */
SEC("xdp.frags")
int xdp_frags_bytes(struct xdp_md *ctx)
{
	__u8 buf[8] = {};
	__u8 out[8] = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7};

	put(0, bpf_xdp_get_buff_len(ctx));
	put(1, bpf_xdp_load_bytes(ctx, 3516, buf, 8)); /* 4 linear bytes, 4 from the fragment */
	put(2, buf[0] | buf[3] << 8 | buf[4] << 16 | (__u64)buf[7] << 24);
	put(3, bpf_xdp_load_bytes(ctx, 4996, buf, 8)); /* past the end: -EINVAL */
	put(4, bpf_xdp_load_bytes(ctx, 0x10000, buf, 1)); /* offset > 0xffff: -EFAULT */
	put(5, bpf_xdp_store_bytes(ctx, 3518, out, 8));
	put(6, bpf_xdp_store_bytes(ctx, 4999, out, 2));
	put(7, bpf_xdp_adjust_tail(ctx, -1000));
	put(8, bpf_xdp_get_buff_len(ctx));
	return XDP_PASS;
}
