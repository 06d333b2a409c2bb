/* Programs calling kfuncs (declared as the kernel selftests do, resolved against vmlinux BTF):
 * number and bits iterators, RCU and preemption markers, bpf_copy_from_user_str.
 * The socket filters' results were checked against the live kernel (see tests/kfuncs.rs). */
#include "common.h"

struct bpf_iter_num {
	__u64 __opaque[1];
} __attribute__((aligned(8)));

struct bpf_iter_bits {
	__u64 __opaque[2];
} __attribute__((aligned(8)));

extern int bpf_iter_num_new(struct bpf_iter_num *it, int start, int end) __ksym;
extern int *bpf_iter_num_next(struct bpf_iter_num *it) __ksym;
extern void bpf_iter_num_destroy(struct bpf_iter_num *it) __ksym;
extern int bpf_iter_bits_new(struct bpf_iter_bits *it, const __u64 *unsafe_ptr__ign,
			     __u32 nr_words) __ksym;
extern int *bpf_iter_bits_next(struct bpf_iter_bits *it) __ksym;
extern void bpf_iter_bits_destroy(struct bpf_iter_bits *it) __ksym;
extern void bpf_rcu_read_lock(void) __ksym;
extern void bpf_rcu_read_unlock(void) __ksym;
extern void bpf_preempt_disable(void) __ksym;
extern void bpf_preempt_enable(void) __ksym;
extern int bpf_copy_from_user_str(void *dst, __u32 dst__sz, const void *unsafe_ptr__ign,
				  __u64 flags) __ksym;

/* libbpf's bpf_for: an open-coded loop over [start, end) with the iterator destroyed on
 * scope exit. */
#define bpf_for(i, start, end)                                                        \
	for (struct bpf_iter_num ___it __attribute__((cleanup(bpf_iter_num_destroy))), \
	     *___p __attribute__((unused)) =                                           \
		     (bpf_iter_num_new(&___it, (start), (end)), (void *)0);            \
	     ({                                                                        \
		     int *___t = bpf_iter_num_next(&___it);                            \
		     ___t ? (i = *___t, 1) : 0;                                        \
	     });)

/* 3 + 4 + ... + 9 = 42, plus the empty range [5, 5) adding nothing. */
SEC("socket")
int num_sum(struct __sk_buff *skb)
{
	int i, sum = 0;

	bpf_for(i, 3, 10)
		sum += i;
	bpf_for(i, 5, 5)
		sum += 1000;
	return sum;
}

/* The iterator's results spelled out: new's return values for an empty range, a range
 * over BPF_MAX_LOOPS and a reversed one, and whether next then yields anything. */
SEC("socket")
int num_errors(struct __sk_buff *skb)
{
	struct bpf_iter_num it;
	int empty, big, reversed, r = 0;

	empty = bpf_iter_num_new(&it, 5, 5);
	if (bpf_iter_num_next(&it))
		r |= 1;
	bpf_iter_num_destroy(&it);

	big = bpf_iter_num_new(&it, 0, 8 * 1024 * 1024 + 1);
	if (bpf_iter_num_next(&it))
		r |= 2;
	bpf_iter_num_destroy(&it);

	reversed = bpf_iter_num_new(&it, 5, 3);
	if (bpf_iter_num_next(&it))
		r |= 4;
	bpf_iter_num_destroy(&it);

	/* exactly BPF_MAX_LOOPS values, from INT_MIN (no overflow in the range check) */
	if (bpf_iter_num_new(&it, -2147483647 - 1, -2147483647 - 1 + 8 * 1024 * 1024))
		r |= 8;
	if (!bpf_iter_num_next(&it))
		r |= 16;
	bpf_iter_num_destroy(&it);

	/* 0, -E2BIG, -EINVAL: 0 * 10000 + 7 * 100 + 22 = 722 */
	return r * 100000 + (-empty) * 10000 + (-big) * 100 + (-reversed);
}

/* Set bits of two words (0, 2, 63, 64, 65) and of one word (4, 7). */
SEC("socket")
int bits(struct __sk_buff *skb)
{
	__u64 words[2] = { 0x8000000000000005ULL, 0x3 };
	__u64 one = 0x90;
	struct bpf_iter_bits it;
	int *bit, sum = 0, count = 0;

	bpf_iter_bits_new(&it, words, 2);
	while ((bit = bpf_iter_bits_next(&it))) {
		sum += *bit;
		count++;
	}
	bpf_iter_bits_destroy(&it);

	bpf_iter_bits_new(&it, &one, 1);
	while ((bit = bpf_iter_bits_next(&it))) {
		sum += *bit;
		count++;
	}
	bpf_iter_bits_destroy(&it);
	/* 194 + 11 = 205, 7 bits */
	return sum * 100 + count;
}

/* bpf_iter_bits_new's errors: NULL, no words, too many words. */
SEC("socket")
int bits_errors(struct __sk_buff *skb)
{
	__u64 word = 1;
	struct bpf_iter_bits it;
	int null, none, big, r = 0;

	null = bpf_iter_bits_new(&it, 0, 1);
	if (bpf_iter_bits_next(&it))
		r |= 1;
	bpf_iter_bits_destroy(&it);
	none = bpf_iter_bits_new(&it, &word, 0);
	bpf_iter_bits_destroy(&it);
	big = bpf_iter_bits_new(&it, &word, 512);
	if (bpf_iter_bits_next(&it))
		r |= 2;
	bpf_iter_bits_destroy(&it);
	/* -EINVAL, -EINVAL, -E2BIG: 22 * 10000 + 22 * 100 + 7 */
	return r * 1000000 + (-null) * 10000 + (-none) * 100 + (-big);
}

/* Read-side and preemption markers around nothing. */
SEC("socket")
int sections(struct __sk_buff *skb)
{
	bpf_rcu_read_lock();
	bpf_rcu_read_unlock();
	bpf_preempt_disable();
	bpf_preempt_enable();
	return 1;
}

struct copy_args {
	__u64 src;
	char out[16];
};

/* Copies the user string at args->src into args->out; returns the kfunc's result. */
SEC("syscall")
int copy_str(struct copy_args *args)
{
	char buf[16];
	int r;

	r = bpf_copy_from_user_str(buf, sizeof(buf), (void *)args->src, 0);
	__builtin_memcpy(args->out, buf, sizeof(buf));
	return r;
}
