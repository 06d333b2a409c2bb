// SPDX-License-Identifier: MIT OR Apache-2.0
/* Packet bytes and checksums in tc: bpf_skb_load_bytes/store_bytes in and out of the
 * packet, bpf_csum_diff (seed, carries, odd sizes, 16-bit folding), bpf_csum_update without a complete
 * checksum, and a socket lookup that finds nothing. */
#include "common.h"

SEC("tc")
int tc_bytes(struct __sk_buff *skb)
{
	__u8 buf[8] = {1, 1, 1, 1, 1, 1, 1, 1};
	__u64 w = 0;

	put(0, bpf_skb_load_bytes(skb, 60, buf, 4));
	put(1, buf[0] | buf[3] << 8);
	put(2, bpf_skb_load_bytes(skb, 61, buf, 4)); /* past the end: zeroed, -EFAULT */
	put(3, buf[0] | buf[3] << 8 | buf[4] << 16);
	put(4, bpf_skb_load_bytes(skb, 0x80000000, &w, 8));
	buf[0] = 0xab;
	put(5, bpf_skb_store_bytes(skb, 2, buf, 4, 0));
	put(6, bpf_skb_store_bytes(skb, 61, buf, 4, 0));
	put(7, bpf_skb_store_bytes(skb, 0, buf, 4, 4)); /* unknown flag */
	put(8, bpf_skb_store_bytes(skb, 8, buf, 2, BPF_F_RECOMPUTE_CSUM | BPF_F_INVALIDATE_HASH));
	return 0;
}

SEC("tc")
int tc_csum(struct __sk_buff *skb)
{
	__u32 a[4] = {0x80000000, 0x80000000, 5, 0xffffffff};
	__u32 b[2] = {0x12345678, 0x9abcdef0};
	struct bpf_sock_tuple t = {};

	put(0, bpf_csum_diff(0, 0, a, 16, 0));
	put(1, bpf_csum_diff(b, 8, a, 12, 0x1234));
	put(2, bpf_csum_diff(a, 16, 0, 0, 0xffffffff));
	put(3, bpf_csum_diff(a, 6, b, 8, 0));  /* any size (Linux 6.13 on) */
	put(4, bpf_csum_update(skb, 7));
	struct bpf_sock *sk = bpf_sk_lookup_tcp(skb, &t, sizeof(t.ipv4), BPF_F_CURRENT_NETNS, 0);
	put(5, sk != 0);
	if (sk)
		bpf_sk_release(sk);
	return 0;
}

SEC("tc")
int tc_strtox(struct __sk_buff *skb)
{
	char s1[8] = " -0x1fz";
	char s2[4] = "077";
	char s3[24] = "99999999999999999999";
	long l = 7;
	unsigned long u = 7;

	put(0, bpf_strtol(s1, sizeof(s1), 0, &l));
	put(1, l);
	put(2, bpf_strtoul(s1, sizeof(s1), 0, &u)); /* negative: -EINVAL */
	put(3, u);
	put(4, bpf_strtoul(s2, sizeof(s2), 0, &u));
	put(5, u);
	put(6, bpf_strtoul(s2, sizeof(s2), 10, &u));
	put(7, u);
	put(8, bpf_strtoul(s3, sizeof(s3), 0, &u)); /* overflow: -ERANGE */
	put(9, bpf_strtol(s2, sizeof(s2), 3, &l));  /* bad base */
	put(10, bpf_strtol(s1, 2, 0, &l));         /* " -": no digits */
	return 0;
}

/* The __sk_buff the caller passes comes back with the fields the kernel owns. */
SEC("tc")
int tc_ctx_out(struct __sk_buff *skb)
{
	put(0, skb->mark);
	put(1, skb->ifindex);
	put(2, skb->wire_len);
	put(3, skb->cb[1]);
	skb->mark += 1;
	skb->priority = 5;
	skb->cb[4] = 0xc4;
	skb->tc_index = 3;
	return skb->len;
}
