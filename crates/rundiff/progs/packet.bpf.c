// SPDX-License-Identifier: MIT OR Apache-2.0
/* Packet programs: LD_ABS/LD_IND in a socket filter, packet rewrites in tc and XDP, the
 * syscall and raw_tracepoint contexts. */
#include "common.h"

unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");
unsigned long long load_half(void *skb, unsigned long long off) asm("llvm.bpf.load.half");
unsigned long long load_word(void *skb, unsigned long long off) asm("llvm.bpf.load.word");

SEC("socket")
int ld_abs(struct __sk_buff *skb)
{
	__u64 b = load_byte(skb, 0);
	__u64 h = load_half(skb, 2);
	__u64 w = load_word(skb, 4);
	return (int)(b + h + w);
}

SEC("socket")
int ld_ind(struct __sk_buff *skb)
{
	__u64 off = load_byte(skb, 0) & 7;
	__u64 w = load_word(skb, off);
	__u64 x = load_byte(skb, 1000); /* beyond the packet: the program returns 0 */
	return (int)(w + x);
}

SEC("socket")
int sk_len(struct __sk_buff *skb)
{
	put(0, skb->len);
	put(1, skb->protocol);
	put(2, skb->pkt_type);
	return skb->len;
}

SEC("tc")
int tc_rewrite(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	__u8 *p = data;
	if (p + 16 > (__u8 *)end)
		return 2;
	for (int i = 0; i < 6; i++) {
		__u8 t = p[i];
		p[i] = p[i + 6];
		p[i + 6] = t;
	}
	p[15] ^= 0xff;
	put(0, skb->len);
	put(1, (long)end - (long)data);
	return 0;
}

SEC("xdp")
int xdp_rewrite(struct xdp_md *ctx)
{
	__u8 *p = (void *)(long)ctx->data;
	__u8 *end = (void *)(long)ctx->data_end;
	if (p + 4 > end)
		return XDP_DROP;
	__u32 n = end - p;
	p[0] = n;
	p[1] += 1;
	p[3] = p[2] * 2;
	put(0, n);
	return XDP_TX;
}

SEC("xdp")
int xdp_adjust(struct xdp_md *ctx)
{
	put(0, bpf_xdp_adjust_head(ctx, 4));
	__u8 *p = (void *)(long)ctx->data;
	__u8 *end = (void *)(long)ctx->data_end;
	if (p + 1 > end)
		return XDP_DROP;
	p[0] = 0xaa;
	put(1, end - p);
	return XDP_PASS;
}

struct sys_args {
	__u32 a;
	__u32 b;
	__u64 out;
};

SEC("syscall")
int syscall_ctx(struct sys_args *args)
{
	args->out = (__u64)args->a * args->b + 1;
	put(0, args->a);
	return args->a + args->b;
}

SEC("raw_tp")
int raw_tp_args(__u64 *args)
{
	put(0, args[0] + args[1]);
	put(1, args[2]);
	return (int)(args[0] ^ args[2]);
}
