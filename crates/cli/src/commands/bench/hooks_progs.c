/* The empty programs `lull bench --hooks` attaches to hooks (compiled with clang-19 at bench
 * time): one atomic and one sleepable uprobe that return at once. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

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
