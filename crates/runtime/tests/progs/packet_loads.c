/* Legacy packet loads (LD_ABS / LD_IND) in socket filters and tc programs. */
#include "common.h"

unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");
unsigned long long load_half(void *skb, unsigned long long off) asm("llvm.bpf.load.half");
unsigned long long load_word(void *skb, unsigned long long off) asm("llvm.bpf.load.word");

#define SKF_NET_OFF (-0x100000)
#define SKF_LL_OFF (-0x200000)

/* A socket filter sees the packet from the network header: the IPv4 protocol byte is at 9. */
SEC("socket")
int ip_proto(struct __sk_buff *skb)
{
	return load_byte(skb, 9);
}

/* Headers by their special offsets: ethertype via SKF_LL_OFF, TTL via SKF_NET_OFF. */
SEC("socket")
int special_offsets(struct __sk_buff *skb)
{
	return (load_half(skb, SKF_LL_OFF + 12) << 8) | load_byte(skb, SKF_NET_OFF + 8);
}

/* A variable offset (LD_IND) and a word load in network order. */
SEC("socket")
int indirect_word(struct __sk_buff *skb)
{
	unsigned long long ihl = load_byte(skb, 0) & 0xf;
	return load_word(skb, ihl * 4 - 8); /* the source address */
}

/* A load past the end makes the program return 0, whatever comes after. */
SEC("socket")
int past_the_end(struct __sk_buff *skb)
{
	unsigned long long v = load_word(skb, 5000);
	return v + 77;
}

/* tc sees the whole frame: offset 12 is the ethertype. */
SEC("tc")
int tc_ethertype(struct __sk_buff *skb)
{
	return load_half(skb, 12);
}
