// SPDX-License-Identifier: GPL-2.0
/*
 * qprof: a QEMU TCG plugin that counts how many times each translated
 * block runs between two marks.  The marks are the guest addresses given
 * as "start=" and "stop=" (hex): the counts are taken when a block at the
 * first starts for the first time, and again when one at the second does.
 * At exit it writes one line per block, "vaddr insns count", the count
 * being the runs between the marks, to the file named by "out=".
 * wb/profile.py gives the marks the addresses of two functions of
 * bench/move-one and names the kernel functions the blocks belong to.
 *
 * QEMU 7.2 exports the plugin API but Debian ships no header for it; the
 * few declarations used are below (plugin API version 1).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
typedef struct qemu_info_t qemu_info_t;
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };

typedef void (*tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*udata_cb_t)(qemu_plugin_id_t id, void *userdata);
typedef void (*vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS };

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id,
					   tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb,
					      enum qemu_plugin_op op,
					      void *ptr, uint64_t imm);
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb,
					  vcpu_udata_cb_t cb,
					  enum qemu_plugin_cb_flags flags,
					  void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, udata_cb_t cb,
				    void *userdata);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

/* One translated block: several translations of one block share it. */
struct block {
	uint64_t vaddr;
	uint64_t insns;
	uint64_t count;		/* incremented inline by the guest's code */
	uint64_t at_start, at_stop;	/* count at the marks */
	struct block *next;
};

#define BUCKETS (1u << 20)
static struct block **table;
static char *out_path;
static uint64_t mark[2];	/* start, stop */
static int marks_seen;		/* 0, 1 (started) or 2 (stopped) */

static struct block *block_of(uint64_t vaddr, uint64_t insns)
{
	uint64_t h = (vaddr ^ (vaddr >> 20) ^ (insns << 7)) * 0x9e3779b97f4a7c15ull;
	struct block **slot = &table[h >> 44 & (BUCKETS - 1)], *b;

	for (b = *slot; b; b = b->next)
		if (b->vaddr == vaddr && b->insns == insns)
			return b;
	b = calloc(1, sizeof(*b));
	if (!b)
		abort();
	b->vaddr = vaddr;
	b->insns = insns;
	b->next = *slot;
	*slot = b;
	return b;
}

/* A mark's block starts: the first start, then the first stop after it. */
static void marked(unsigned int vcpu, void *which)
{
	int m = (int)(uintptr_t)which;

	(void)vcpu;
	if (m != marks_seen)
		return;
	for (unsigned int i = 0; i < BUCKETS; i++)
		for (struct block *b = table[i]; b; b = b->next) {
			if (m == 0)
				b->at_start = b->count;
			else
				b->at_stop = b->count;
		}
	marks_seen++;
}

static void translated(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	uint64_t vaddr = qemu_plugin_tb_vaddr(tb);
	struct block *b = block_of(vaddr, qemu_plugin_tb_n_insns(tb));

	(void)id;
	/* the mark's callback runs before the count is added */
	for (int m = 0; m < 2; m++)
		if (vaddr == mark[m])
			qemu_plugin_register_vcpu_tb_exec_cb(
				tb, marked, QEMU_PLUGIN_CB_NO_REGS,
				(void *)(uintptr_t)m);
	qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64,
						 &b->count, 1);
}

static void at_exit(qemu_plugin_id_t id, void *p)
{
	FILE *f = fopen(out_path, "w");

	(void)id;
	(void)p;
	if (!f) {
		perror(out_path);
		return;
	}
	if (marks_seen < 2)
		fprintf(f, "# marks seen: %d of 2\n", marks_seen);
	else
		for (unsigned int i = 0; i < BUCKETS; i++)
			for (struct block *b = table[i]; b; b = b->next)
				if (b->at_stop > b->at_start)
					fprintf(f, "%llx %llu %llu\n",
						(unsigned long long)b->vaddr,
						(unsigned long long)b->insns,
						(unsigned long long)
						(b->at_stop - b->at_start));
	fclose(f);
}

__attribute__((visibility("default")))
int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
			int argc, char **argv)
{
	(void)info;
	for (int i = 0; i < argc; i++)
		if (!strncmp(argv[i], "out=", 4))
			out_path = strdup(argv[i] + 4);
		else if (!strncmp(argv[i], "start=", 6))
			mark[0] = strtoull(argv[i] + 6, NULL, 16);
		else if (!strncmp(argv[i], "stop=", 5))
			mark[1] = strtoull(argv[i] + 5, NULL, 16);
	if (!out_path || !mark[0] || !mark[1]) {
		fprintf(stderr, "qprof: give out=FILE,start=ADDR,stop=ADDR\n");
		return -1;
	}
	table = calloc(BUCKETS, sizeof(*table));
	if (!table)
		return -1;
	qemu_plugin_register_vcpu_tb_trans_cb(id, translated);
	qemu_plugin_register_atexit_cb(id, at_exit, NULL);
	return 0;
}
