/* Packet bytes, checksums and socket lookups: results go to `res`. */
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

SEC("tc")
int bytes(struct __sk_buff *skb)
{
	__u8 buf[4] = {9, 9, 9, 9};

	put(0, bpf_skb_load_bytes(skb, 62, buf, 2));
	put(1, buf[0] + buf[1] * 256 + buf[2] * 65536);
	put(2, bpf_skb_load_bytes(skb, 62, buf, 4)); /* past the end */
	put(3, buf[0] + buf[1] + buf[2] + buf[3]);
	buf[0] = 0xab;
	buf[3] = 0xcd;
	put(4, bpf_skb_store_bytes(skb, 60, buf, 4, 0));
	put(5, bpf_skb_store_bytes(skb, 61, buf, 4, 0));
	put(6, bpf_skb_store_bytes(skb, 0, buf, 4, 8));
	return 0;
}

SEC("tc")
int csums(struct __sk_buff *skb)
{
	__u32 w[2] = {0xffff0000, 0x00020001};
	struct bpf_sock_tuple t = {};

	put(0, bpf_csum_diff(0, 0, w, 8, 0));
	put(1, bpf_csum_diff(w, 4, w, 8, 0));
	put(2, bpf_csum_diff(0, 0, 0, 0, 77));
	put(3, bpf_csum_update(skb, 1));
	struct bpf_sock *sk = bpf_sk_lookup_udp(skb, &t, sizeof(t.ipv4), BPF_F_CURRENT_NETNS, 0);
	put(4, sk != 0);
	if (sk)
		bpf_sk_release(sk);
	return 0;
}
