/*
 * bpfrun: the "kernel oracle" helper for bpfvm's test suite.
 *
 * Reads BPF load/run requests from stdin in a line-oriented format, performs
 * them against the host kernel with the raw bpf(2) syscall, and prints one
 * JSON object per request on stdout.  Driven by test/kernel/oracle.ts; not
 * meant to be used by hand (although it can be, for debugging).
 *
 * Only libc and the system's <linux/bpf.h> are used (no libbpf), so the
 * helper builds anywhere a C compiler and kernel headers exist.  Fields that
 * are newer than the installed headers are simply not used.
 *
 * Input protocol (one request):
 *
 *   REQ
 *   PROG <progType> <expectedAttachType> <progFlags> <logLevel> <logSize> <dumpMaps 0|1> <restricted 0|1>
 *   LICENSE <hex>
 *   INSNS <hex>                         (8 bytes per instruction slot)
 *   BTF <hex>                           (optional: raw BTF, loaded with BPF_BTF_LOAD)
 *   MAPBTF <key_type_id> <value_type_id> (optional, after a MAP line, with BTF: that map
 *                                       is created with the request's BTF describing its key
 *                                       and value, e.g. a value holding a bpf_spin_lock)
 *   FUNCINFO <hex>                      (optional, with BTF: bpf_func_info records,
 *                                        8 bytes each: insn_off, type_id)
 *   MAP <type> <keySize> <valueSize> <maxEntries> <flags> <nameHex|->   (0..64 times)
 *   ELEM <keyHex|-> <valueHex|->        (adds an element to the previous MAP; for a
 *                                       USER_RINGBUF map: a sample written through
 *                                       the mmap-ed area, key "01" = discarded)
 *   RUN <repeat> <dataSizeOut> <ctxSizeOut> <dataHex|-> <ctxHex|->      (optional)
 *   END
 *
 * "-" means "absent / empty" (a NULL pointer with size 0 is passed to the
 * kernel).  All numbers are unsigned decimal.  Every request is independent:
 * all fds it created are closed before the next one is read.
 *
 * Dumps: queue / stack maps are popped until empty (key ""); RINGBUF maps
 * are read through their mmap-ed area without consuming, one entry per
 * record from the consumer to the producer position: key = the u32 header
 * word (length with the BUSY / DISCARD bits), value = the sample.
 *
 * Output: one line per request, either
 *   {"loaded":B,"errno":N,"stage":"..","log":"<hex>","run":{..},"maps":[..]}
 * or, for a malformed request,
 *   {"error":"<message>"}
 * Byte strings (log, packet data, map keys/values) are hex so that they come
 * back exactly as the kernel wrote them, whatever bytes they contain.
 *
 * restricted=1 runs the whole request with CAP_SYS_ADMIN and CAP_PERFMON
 * removed from the effective capability set (CAP_BPF and CAP_NET_ADMIN stay).
 * The verifier then applies its rules for non-perfmon loaders (uninitialised
 * stack reads are errors, pointer leaks are refused, Spectre sanitation is
 * on); as full root those checks are relaxed.  The capabilities are restored
 * afterwards (they stay in the permitted set, so this is reversible).
 *
 * Robustness: every decoded length is validated against a fixed cap before
 * it is used, over-long lines are refused, and a malformed request produces
 * an error line and resynchronises on the next END instead of aborting.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Caps.  They are generous compared with what tests need, but keep a buggy
 * or hostile input from making the helper allocate unbounded memory. */
#define MAX_LINE (64u << 20)      /* bytes in one input line */
#define MAX_INSNS 1000000u        /* BPF_COMPLEXITY_LIMIT_INSNS */
#define MAX_MAPS 64u              /* the kernel's MAX_USED_MAPS */
#define MAX_ELEMS 65536u          /* initial elements per request */
#define MAX_LOG (256u << 20)      /* verifier log buffer */
#define MAX_BUF (16u << 20)       /* data/ctx in or out */
#define MAX_KV (1u << 20)         /* one key or value (after per-cpu scaling) */
#define MAX_DUMP 100000u          /* entries dumped per map */
#define MAX_LICENSE 256u
#define MAX_REPEAT 10000000u      /* test_run repetitions */

#ifndef BPF_PSEUDO_MAP_IDX
#define BPF_PSEUDO_MAP_IDX 5
#endif
#ifndef BPF_PSEUDO_MAP_IDX_VALUE
#define BPF_PSEUDO_MAP_IDX_VALUE 6
#endif

struct bytes {
	uint8_t *p;
	size_t n;
	int present; /* 0 for "-" */
};

struct elem {
	struct bytes key, val;
};

struct mapdef {
	uint32_t type, key_size, value_size, max_entries, flags;
	struct bytes name;
	struct elem *elems;
	size_t nelems, cap;
	int fd;
	uint32_t btf_key_id, btf_value_id;
};

struct request {
	int have_prog, have_license, have_insns, have_run;
	uint32_t prog_type, attach_type, prog_flags, log_level, log_size, dump, restricted;
	struct bytes license, insns, btf, func_info;
	struct mapdef maps[MAX_MAPS];
	uint32_t nmaps;
	uint32_t repeat, data_size_out, ctx_size_out;
	struct bytes data, ctx;
	int bad;
	char err[256];
};

static unsigned long lineno;
static int ncpus_possible = 1;

static long sys_bpf(int cmd, union bpf_attr *attr)
{
	return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

static uint64_t ptr_u64(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

static void req_fail(struct request *r, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (r->bad)
		return; /* keep the first error, it is the informative one */
	r->bad = 1;
	n = snprintf(r->err, sizeof(r->err), "line %lu: ", lineno);
	if (n < 0 || (size_t)n >= sizeof(r->err))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(r->err + n, sizeof(r->err) - (size_t)n, fmt, ap);
	va_end(ap);
}

static void bytes_free(struct bytes *b)
{
	free(b->p);
	b->p = NULL;
	b->n = 0;
	b->present = 0;
}

static void req_free(struct request *r)
{
	uint32_t i;
	size_t j;

	bytes_free(&r->license);
	bytes_free(&r->insns);
	bytes_free(&r->btf);
	bytes_free(&r->func_info);
	bytes_free(&r->data);
	bytes_free(&r->ctx);
	for (i = 0; i < r->nmaps; i++) {
		struct mapdef *m = &r->maps[i];

		bytes_free(&m->name);
		for (j = 0; j < m->nelems; j++) {
			bytes_free(&m->elems[j].key);
			bytes_free(&m->elems[j].val);
		}
		free(m->elems);
		if (m->fd >= 0)
			close(m->fd);
	}
	memset(r, 0, sizeof(*r));
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode a hex token ("-" = absent) into *out, refusing more than max bytes. */
static int parse_hex(struct request *r, const char *tok, size_t max,
		     const char *what, struct bytes *out)
{
	size_t len, i;

	bytes_free(out);
	if (!tok) {
		req_fail(r, "missing %s", what);
		return -1;
	}
	if (strcmp(tok, "-") == 0)
		return 0;
	len = strlen(tok);
	if (len % 2) {
		req_fail(r, "%s: odd number of hex digits", what);
		return -1;
	}
	if (len / 2 > max) {
		req_fail(r, "%s: %zu bytes exceeds limit %zu", what, len / 2, max);
		return -1;
	}
	out->p = malloc(len / 2 + 1); /* +1: room for a NUL (license) */
	if (!out->p) {
		req_fail(r, "%s: out of memory", what);
		return -1;
	}
	for (i = 0; i < len / 2; i++) {
		int hi = hexval((unsigned char)tok[2 * i]);
		int lo = hexval((unsigned char)tok[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			req_fail(r, "%s: invalid hex digit", what);
			bytes_free(out);
			return -1;
		}
		out->p[i] = (uint8_t)(hi << 4 | lo);
	}
	out->p[len / 2] = 0;
	out->n = len / 2;
	out->present = 1;
	return 0;
}

static int parse_u32(struct request *r, const char *tok, const char *what,
		     uint32_t *out)
{
	char *end;
	unsigned long long v;

	if (!tok) {
		req_fail(r, "missing %s", what);
		return -1;
	}
	if (tok[0] < '0' || tok[0] > '9') {
		req_fail(r, "%s: not an unsigned decimal number", what);
		return -1;
	}
	errno = 0;
	v = strtoull(tok, &end, 10);
	if (errno || *end || v > UINT32_MAX) {
		req_fail(r, "%s: not a u32", what);
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

/* Split a line into at most max whitespace-separated tokens; returns count,
 * or max+1 if there are more tokens than allowed. */
static int tokenize(char *line, char **tok, int max)
{
	int n = 0;
	char *save = NULL;
	char *t = strtok_r(line, " \t\r\n", &save);

	while (t) {
		if (n == max)
			return max + 1;
		tok[n++] = t;
		t = strtok_r(NULL, " \t\r\n", &save);
	}
	return n;
}

static int map_is_percpu(uint32_t type)
{
	return type == BPF_MAP_TYPE_PERCPU_HASH ||
	       type == BPF_MAP_TYPE_PERCPU_ARRAY ||
	       type == BPF_MAP_TYPE_LRU_PERCPU_HASH ||
	       type == 21 /* BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE */;
}

/* Size of a value as seen through the syscall interface: per-cpu maps
 * transfer one 8-byte-aligned slot per possible CPU. */
static size_t syscall_value_size(const struct mapdef *m)
{
	size_t vs = m->value_size;

	if (map_is_percpu(m->type))
		vs = ((vs + 7) & ~(size_t)7) * (size_t)ncpus_possible;
	return vs;
}

static void read_ncpus_possible(void)
{
	/* The file looks like "0-3" or "0-3,8-11"; we need highest index + 1. */
	FILE *f = fopen("/sys/devices/system/cpu/possible", "r");
	char buf[256];
	char *p;
	long max = 0;

	if (!f)
		return;
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		return;
	}
	fclose(f);
	for (p = buf; *p;) {
		if (*p >= '0' && *p <= '9') {
			long v = strtol(p, &p, 10);

			if (v > max)
				max = v;
		} else {
			p++;
		}
	}
	if (max >= 0 && max < 65536)
		ncpus_possible = (int)max + 1;
}

static void handle_line(struct request *r, char *line)
{
	char *tok[9];
	int n = tokenize(line, tok, 8);

	if (n == 0)
		return; /* tolerate blank lines */
	if (n > 8) {
		req_fail(r, "too many fields");
		return;
	}
	if (strcmp(tok[0], "PROG") == 0) {
		if (n != 8) {
			req_fail(r, "PROG needs 7 fields");
			return;
		}
		if (parse_u32(r, tok[1], "progType", &r->prog_type) ||
		    parse_u32(r, tok[2], "expectedAttachType", &r->attach_type) ||
		    parse_u32(r, tok[3], "progFlags", &r->prog_flags) ||
		    parse_u32(r, tok[4], "logLevel", &r->log_level) ||
		    parse_u32(r, tok[5], "logSize", &r->log_size) ||
		    parse_u32(r, tok[6], "dumpMaps", &r->dump) ||
		    parse_u32(r, tok[7], "restricted", &r->restricted))
			return;
		if (r->log_size > MAX_LOG) {
			req_fail(r, "logSize %u exceeds limit %u", r->log_size, MAX_LOG);
			return;
		}
		r->have_prog = 1;
	} else if (strcmp(tok[0], "LICENSE") == 0) {
		if (n != 2) {
			req_fail(r, "LICENSE needs 1 field");
			return;
		}
		if (parse_hex(r, tok[1], MAX_LICENSE, "license", &r->license) == 0) {
			if (r->license.present && memchr(r->license.p, 0, r->license.n))
				req_fail(r, "license contains a NUL byte");
			r->have_license = 1;
		}
	} else if (strcmp(tok[0], "INSNS") == 0) {
		if (n != 2) {
			req_fail(r, "INSNS needs 1 field");
			return;
		}
		if (parse_hex(r, tok[1], (size_t)MAX_INSNS * 8, "insns", &r->insns))
			return;
		if (r->insns.n % 8)
			req_fail(r, "insns: %zu bytes is not a multiple of 8", r->insns.n);
		r->have_insns = 1;
	} else if (strcmp(tok[0], "BTF") == 0 || strcmp(tok[0], "FUNCINFO") == 0) {
		int btf = strcmp(tok[0], "BTF") == 0;

		if (n != 2) {
			req_fail(r, "%s needs 1 field", tok[0]);
			return;
		}
		if (parse_hex(r, tok[1], MAX_KV, tok[0], btf ? &r->btf : &r->func_info))
			return;
		if (!btf && r->func_info.n % 8)
			req_fail(r, "func_info: %zu bytes is not a multiple of 8", r->func_info.n);
	} else if (strcmp(tok[0], "MAP") == 0) {
		struct mapdef *m;

		if (n != 7) {
			req_fail(r, "MAP needs 6 fields");
			return;
		}
		if (r->nmaps >= MAX_MAPS) {
			req_fail(r, "more than %u maps", MAX_MAPS);
			return;
		}
		m = &r->maps[r->nmaps++];
		m->fd = -1;
		if (parse_u32(r, tok[1], "map type", &m->type) ||
		    parse_u32(r, tok[2], "keySize", &m->key_size) ||
		    parse_u32(r, tok[3], "valueSize", &m->value_size) ||
		    parse_u32(r, tok[4], "maxEntries", &m->max_entries) ||
		    parse_u32(r, tok[5], "map flags", &m->flags) ||
		    parse_hex(r, tok[6], BPF_OBJ_NAME_LEN - 1, "map name", &m->name))
			return;
	} else if (strcmp(tok[0], "MAPBTF") == 0) {
		struct mapdef *m;

		if (n != 3 || r->nmaps == 0) {
			req_fail(r, "MAPBTF needs 2 fields and a MAP before it");
			return;
		}
		m = &r->maps[r->nmaps - 1];
		if (parse_u32(r, tok[1], "key type id", &m->btf_key_id) ||
		    parse_u32(r, tok[2], "value type id", &m->btf_value_id))
			return;
	} else if (strcmp(tok[0], "ELEM") == 0) {
		struct mapdef *m;
		struct elem *e;

		if (n != 3) {
			req_fail(r, "ELEM needs 2 fields");
			return;
		}
		if (r->nmaps == 0) {
			req_fail(r, "ELEM before any MAP");
			return;
		}
		m = &r->maps[r->nmaps - 1];
		if (m->nelems >= MAX_ELEMS) {
			req_fail(r, "more than %u elements in one map", MAX_ELEMS);
			return;
		}
		if (m->nelems == m->cap) {
			size_t nc = m->cap ? m->cap * 2 : 8;
			struct elem *ne = realloc(m->elems, nc * sizeof(*ne));

			if (!ne) {
				req_fail(r, "out of memory");
				return;
			}
			memset(ne + m->cap, 0, (nc - m->cap) * sizeof(*ne));
			m->elems = ne;
			m->cap = nc;
		}
		e = &m->elems[m->nelems++];
		if (parse_hex(r, tok[1], MAX_KV, "elem key", &e->key) ||
		    parse_hex(r, tok[2], MAX_KV, "elem value", &e->val))
			return;
	} else if (strcmp(tok[0], "RUN") == 0) {
		if (n != 6) {
			req_fail(r, "RUN needs 5 fields");
			return;
		}
		if (parse_u32(r, tok[1], "repeat", &r->repeat) ||
		    parse_u32(r, tok[2], "dataSizeOut", &r->data_size_out) ||
		    parse_u32(r, tok[3], "ctxSizeOut", &r->ctx_size_out) ||
		    parse_hex(r, tok[4], MAX_BUF, "dataIn", &r->data) ||
		    parse_hex(r, tok[5], MAX_BUF, "ctxIn", &r->ctx))
			return;
		if (r->repeat > MAX_REPEAT) {
			req_fail(r, "repeat %u exceeds limit %u", r->repeat, MAX_REPEAT);
			return;
		}
		if (r->data_size_out > MAX_BUF || r->ctx_size_out > MAX_BUF) {
			req_fail(r, "dataSizeOut/ctxSizeOut exceeds limit %u", MAX_BUF);
			return;
		}
		r->have_run = 1;
	} else {
		req_fail(r, "unknown keyword '%.32s'", tok[0]);
	}
}

/* ---- output ---------------------------------------------------------- */

static void put_hex(const uint8_t *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	char chunk[4096];
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		chunk[k++] = digits[p[i] >> 4];
		chunk[k++] = digits[p[i] & 15];
		if (k == sizeof(chunk)) {
			fwrite(chunk, 1, k, stdout);
			k = 0;
		}
	}
	fwrite(chunk, 1, k, stdout);
}

static void put_json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void emit_error(const char *msg)
{
	fputs("{\"error\":", stdout);
	put_json_string(msg);
	fputs("}\n", stdout);
	fflush(stdout);
}

/* ---- execution ------------------------------------------------------- */

static struct __user_cap_data_struct saved_caps[2];

/* Clear CAP_SYS_ADMIN and CAP_PERFMON from the effective set; 0 or errno. */
static int drop_caps(void)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, saved_caps) < 0)
		return errno;
	memcpy(data, saved_caps, sizeof(data));
	data[CAP_SYS_ADMIN / 32].effective &= ~(1u << (CAP_SYS_ADMIN % 32));
	data[38 / 32].effective &= ~(1u << (38 % 32)); /* CAP_PERFMON */
	if (syscall(SYS_capset, &hdr, data) < 0)
		return errno;
	return 0;
}

static void restore_caps(void)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };

	if (syscall(SYS_capset, &hdr, saved_caps) < 0) {
		/* Continuing would silently run later requests restricted. */
		emit_error("cannot restore capabilities");
		exit(3);
	}
}

/* Writes the ELEMs of a user ring buffer as samples, the way libbpf's
 * user_ring_buffer__reserve / __submit do (key "01": discarded). */
static int user_ringbuf_produce(struct mapdef *m)
{
	long pg = sysconf(_SC_PAGESIZE);
	size_t sz = m->max_entries, j;
	uint64_t *cons, *prod, pos;
	uint8_t *base, *data;

	cons = mmap(NULL, pg, PROT_READ, MAP_SHARED, m->fd, 0);
	if (cons == MAP_FAILED)
		return errno;
	base = mmap(NULL, pg + 2 * sz, PROT_READ | PROT_WRITE, MAP_SHARED, m->fd, pg);
	if (base == MAP_FAILED) {
		int err = errno;

		munmap(cons, pg);
		return err;
	}
	prod = (uint64_t *)base;
	data = base + pg;
	pos = *prod;
	for (j = 0; j < m->nelems; j++) {
		struct elem *e = &m->elems[j];
		uint32_t len = (uint32_t)e->val.n, total = (len + 8 + 7) / 8 * 8;
		uint32_t hdr[2];

		if (total > sz || sz - (pos - *cons) < total) {
			munmap(base, pg + 2 * sz);
			munmap(cons, pg);
			return ENOSPC;
		}
		hdr[0] = len | (e->key.n && e->key.p[0] ? (1u << 30) : 0);
		hdr[1] = 0;
		memcpy(data + (pos & (sz - 1)) + 8, e->val.p, len);
		memcpy(data + (pos & (sz - 1)), hdr, 8);
		pos += total;
		__atomic_store_n(prod, pos, __ATOMIC_RELEASE);
	}
	munmap(base, pg + 2 * sz);
	munmap(cons, pg);
	return 0;
}

static int create_maps(struct request *r, int btf_fd, uint32_t *failed_at, const char **stage)
{
	uint32_t i;
	size_t j;

	for (i = 0; i < r->nmaps; i++) {
		struct mapdef *m = &r->maps[i];
		union bpf_attr a;

		memset(&a, 0, sizeof(a));
		a.map_type = m->type;
		a.key_size = m->key_size;
		a.value_size = m->value_size;
		a.max_entries = m->max_entries;
		a.map_flags = m->flags;
		if (m->name.present)
			memcpy(a.map_name, m->name.p, m->name.n);
		if (m->btf_value_id && btf_fd >= 0) {
			a.btf_fd = (uint32_t)btf_fd;
			a.btf_key_type_id = m->btf_key_id;
			a.btf_value_type_id = m->btf_value_id;
		}
		m->fd = (int)sys_bpf(BPF_MAP_CREATE, &a);
		if (m->fd < 0) {
			m->fd = -1;
			*failed_at = i;
			*stage = "map_create";
			return errno;
		}
	}
	for (i = 0; i < r->nmaps; i++) {
		struct mapdef *m = &r->maps[i];
		size_t ks = m->key_size, vs = syscall_value_size(m);
		uint8_t *kb, *vb;

		if (m->nelems == 0)
			continue;
		if (m->type == 31 /* BPF_MAP_TYPE_USER_RINGBUF */) {
			int err = user_ringbuf_produce(m);

			if (err) {
				*failed_at = i;
				*stage = "map_update";
				return err;
			}
			continue;
		}
		if (ks > MAX_KV || vs > MAX_KV) {
			*failed_at = i;
			*stage = "map_update";
			return E2BIG;
		}
		/* Pad short keys/values with zeros so that the kernel never reads
		 * past our buffers; the caller's bytes win where given. */
		kb = calloc(1, ks + 1);
		vb = calloc(1, vs + 1);
		if (!kb || !vb) {
			free(kb);
			free(vb);
			*failed_at = i;
			*stage = "map_update";
			return ENOMEM;
		}
		for (j = 0; j < m->nelems; j++) {
			struct elem *e = &m->elems[j];
			union bpf_attr a;

			if (e->key.n > ks || e->val.n > vs) {
				free(kb);
				free(vb);
				*failed_at = i;
				*stage = "map_update";
				return EINVAL;
			}
			memset(kb, 0, ks + 1);
			memset(vb, 0, vs + 1);
			if (e->key.n)
				memcpy(kb, e->key.p, e->key.n);
			if (e->val.n)
				memcpy(vb, e->val.p, e->val.n);
			memset(&a, 0, sizeof(a));
			a.map_fd = (uint32_t)m->fd;
			/* Queue/stack maps have key_size 0 and want a NULL key. */
			a.key = ks ? ptr_u64(kb) : 0;
			a.value = ptr_u64(vb);
			a.flags = BPF_ANY;
			if (sys_bpf(BPF_MAP_UPDATE_ELEM, &a) < 0) {
				int err = errno;

				free(kb);
				free(vb);
				*failed_at = i;
				*stage = "map_update";
				return err;
			}
		}
		free(kb);
		free(vb);
	}
	/* A map created BPF_F_RDONLY_PROG is frozen once filled, as libbpf freezes .rodata: only then are its
	 * values constant strings for the verifier (ARG_PTR_TO_CONST_STR, e.g. bpf_snprintf's format). */
	for (i = 0; i < r->nmaps; i++) {
		union bpf_attr a;

		if (!(r->maps[i].flags & BPF_F_RDONLY_PROG))
			continue;
		memset(&a, 0, sizeof(a));
		a.map_fd = (uint32_t)r->maps[i].fd;
		if (sys_bpf(BPF_MAP_FREEZE, &a) < 0) {
			*failed_at = i;
			*stage = "map_update";
			return errno;
		}
	}
	return 0;
}

/* Rewrite "map by index" pseudo loads to "map by fd" ones.  Out-of-range
 * indices are left untouched so the kernel rejects them the way it would. */
static void rewrite_map_refs(struct request *r)
{
	size_t cnt = r->insns.n / 8, i;
	struct bpf_insn *insn = (struct bpf_insn *)r->insns.p;

	for (i = 0; i + 1 < cnt; i++) {
		int32_t imm;

		if (insn[i].code != (BPF_LD | BPF_IMM | BPF_DW))
			continue;
		imm = insn[i].imm;
		if ((insn[i].src_reg == BPF_PSEUDO_MAP_IDX ||
		     insn[i].src_reg == BPF_PSEUDO_MAP_IDX_VALUE) &&
		    imm >= 0 && (uint32_t)imm < r->nmaps) {
			insn[i].src_reg = insn[i].src_reg == BPF_PSEUDO_MAP_IDX
						  ? BPF_PSEUDO_MAP_FD
						  : BPF_PSEUDO_MAP_VALUE;
			insn[i].imm = r->maps[imm].fd;
		}
		i++; /* skip the second half of the 16-byte instruction */
	}
}

/* Queue / stack: pop until empty (bounded by max_entries). */
static void dump_queue(struct mapdef *m)
{
	uint8_t *val = m->value_size <= MAX_KV ? calloc(1, m->value_size) : NULL;
	unsigned n;

	if (!val)
		return;
	for (n = 0; n < m->max_entries && n < MAX_DUMP; n++) {
		union bpf_attr a;

		memset(&a, 0, sizeof(a));
		a.map_fd = (uint32_t)m->fd;
		a.value = ptr_u64(val);
		if (sys_bpf(BPF_MAP_LOOKUP_AND_DELETE_ELEM, &a) < 0)
			break;
		if (n)
			putchar(',');
		fputs("[\"\",\"", stdout);
		put_hex(val, m->value_size);
		fputs("\"]", stdout);
	}
	free(val);
}

/* Ring buffer: every record between the consumer and producer positions. */
static void dump_ringbuf(struct mapdef *m)
{
	long pg = sysconf(_SC_PAGESIZE);
	size_t sz = m->max_entries;
	uint64_t *cons, *prod, pos;
	uint8_t *base, *data;
	unsigned n = 0;

	cons = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED, m->fd, 0);
	if (cons == MAP_FAILED)
		return;
	base = mmap(NULL, pg + 2 * sz, PROT_READ, MAP_SHARED, m->fd, pg);
	if (base == MAP_FAILED) {
		munmap(cons, pg);
		return;
	}
	prod = (uint64_t *)base;
	data = base + pg;
	for (pos = *cons; pos < *prod && n < MAX_DUMP; n++) {
		uint32_t hdr, len;

		memcpy(&hdr, data + (pos & (sz - 1)), 4);
		len = hdr & ~(3u << 30);
		if (n)
			putchar(',');
		fputs("[\"", stdout);
		put_hex((uint8_t *)&hdr, 4);
		fputs("\",\"", stdout);
		put_hex(data + (pos & (sz - 1)) + 8, len);
		fputs("\"]", stdout);
		pos += (len + 8 + 7) / 8 * 8;
	}
	munmap(base, pg + 2 * sz);
	munmap(cons, pg);
}

static void dump_maps(struct request *r)
{
	uint32_t i;

	fputs(",\"maps\":[", stdout);
	for (i = 0; i < r->nmaps; i++) {
		struct mapdef *m = &r->maps[i];
		size_t ks = m->key_size, vs = syscall_value_size(m);
		uint8_t *cur = NULL, *next = NULL, *val = NULL;
		unsigned count = 0, steps = 0;
		int have_cur = 0;

		if (i)
			putchar(',');
		fputs("{\"entries\":[", stdout);
		if (m->fd >= 0 && (m->type == 22 || m->type == 23)) {
			dump_queue(m);
			goto done;
		}
		if (m->fd >= 0 && m->type == 27) {
			dump_ringbuf(m);
			goto done;
		}
		/* Other maps without keys are reported empty. */
		if (ks == 0 || ks > MAX_KV || vs > MAX_KV || m->fd < 0)
			goto done;
		cur = calloc(1, ks);
		next = calloc(1, ks);
		/* fd-type maps may answer lookups with a u32 id or u64 cookie
		 * regardless of value_size, so leave slack. */
		val = calloc(1, vs + 16);
		if (!cur || !next || !val)
			goto done;
		/* Bound the walk: a hash map could in principle keep producing
		 * keys if it were modified concurrently. */
		while (count < MAX_DUMP && steps <= (unsigned)m->max_entries + 1) {
			union bpf_attr a;

			steps++;
			memset(&a, 0, sizeof(a));
			a.map_fd = (uint32_t)m->fd;
			a.key = have_cur ? ptr_u64(cur) : 0;
			a.next_key = ptr_u64(next);
			if (sys_bpf(BPF_MAP_GET_NEXT_KEY, &a) < 0)
				break;
			memcpy(cur, next, ks);
			have_cur = 1;
			memset(&a, 0, sizeof(a));
			memset(val, 0, vs + 16);
			a.map_fd = (uint32_t)m->fd;
			a.key = ptr_u64(cur);
			a.value = ptr_u64(val);
			if (sys_bpf(BPF_MAP_LOOKUP_ELEM, &a) < 0)
				continue; /* e.g. fd maps that refuse lookups */
			if (count)
				putchar(',');
			fputs("[\"", stdout);
			put_hex(cur, ks);
			fputs("\",\"", stdout);
			put_hex(val, vs);
			fputs("\"]", stdout);
			count++;
		}
done:
		fputs("]}", stdout);
		free(cur);
		free(next);
		free(val);
	}
	putchar(']');
}

static void execute_inner(struct request *r);

static void execute(struct request *r)
{
	int err;

	if (!r->restricted) {
		execute_inner(r);
		return;
	}
	err = drop_caps();
	if (err) {
		char msg[96];

		snprintf(msg, sizeof(msg), "cannot drop capabilities: %s", strerror(err));
		emit_error(msg);
		return;
	}
	execute_inner(r);
	restore_caps();
}

static void execute_inner(struct request *r)
{
	uint32_t failed_map = 0;
	const char *stage = NULL;
	int err, prog_fd = -1, btf_fd = -1, attempts;
	char *log = NULL;
	size_t log_len = 0;
	union bpf_attr a;

	if (!r->have_prog || !r->have_insns) {
		emit_error("request lacks PROG or INSNS");
		return;
	}
	if (r->insns.n / 8 > MAX_INSNS) {
		emit_error("too many instructions");
		return;
	}

	/* BTF first: maps may be described by it (MAPBTF) */
	if (r->btf.n) {
		memset(&a, 0, sizeof(a));
		a.btf = ptr_u64(r->btf.p);
		a.btf_size = (uint32_t)r->btf.n;
		btf_fd = (int)sys_bpf(BPF_BTF_LOAD, &a);
		if (btf_fd < 0) {
			printf("{\"loaded\":false,\"errno\":%d,\"stage\":\"prog_load\",\"log\":\"\"}\n", errno);
			fflush(stdout);
			return;
		}
	}

	err = create_maps(r, btf_fd, &failed_map, &stage);
	if (err) {
		if (btf_fd >= 0)
			close(btf_fd);
		printf("{\"loaded\":false,\"errno\":%d,\"stage\":\"%s\",\"failedMap\":%u,\"log\":\"\"}\n",
		       err, stage, failed_map);
		fflush(stdout);
		return;
	}
	rewrite_map_refs(r);

	if (r->log_level && r->log_size) {
		/* calloc: whatever the kernel does not write stays NUL, so the
		 * text is always terminated within the buffer. */
		log = calloc(1, (size_t)r->log_size + 1);
		if (!log) {
			emit_error("cannot allocate log buffer");
			return;
		}
	}

	/* The verifier returns EAGAIN when a signal interrupts it; retry a
	 * few times like libbpf does.  The log is reset for each attempt. */
	for (attempts = 0; attempts < 5; attempts++) {
		memset(&a, 0, sizeof(a));
		a.prog_type = r->prog_type;
		a.insn_cnt = (uint32_t)(r->insns.n / 8);
		a.insns = ptr_u64(r->insns.p);
		a.license = ptr_u64(r->license.present ? (char *)r->license.p : "GPL");
		a.log_level = r->log_level;
		a.log_size = log ? r->log_size : 0;
		a.log_buf = ptr_u64(log);
		a.prog_flags = r->prog_flags;
		a.expected_attach_type = r->attach_type;
		if (btf_fd >= 0) {
			a.prog_btf_fd = (uint32_t)btf_fd;
			a.func_info_rec_size = 8;
			a.func_info = ptr_u64(r->func_info.p);
			a.func_info_cnt = (uint32_t)(r->func_info.n / 8);
		}
		if (log)
			memset(log, 0, (size_t)r->log_size + 1);
		prog_fd = (int)sys_bpf(BPF_PROG_LOAD, &a);
		err = prog_fd < 0 ? errno : 0;
		if (err != EAGAIN)
			break;
	}
	if (log)
		log_len = strnlen(log, r->log_size);

	printf("{\"loaded\":%s,\"errno\":%d", prog_fd >= 0 ? "true" : "false", err);
	if (prog_fd < 0) {
		printf(",\"stage\":\"prog_load\"");
	} else if (r->have_run) {
		uint8_t *dout = NULL, *cout = NULL;
		int rerr;

		if (r->data_size_out)
			dout = calloc(1, r->data_size_out);
		if (r->ctx_size_out)
			cout = calloc(1, r->ctx_size_out);
		memset(&a, 0, sizeof(a));
		a.test.prog_fd = (uint32_t)prog_fd;
		a.test.data_in = ptr_u64(r->data.p);
		a.test.data_size_in = (uint32_t)r->data.n;
		/* data_out must stay NULL when there is no buffer: with a
		 * non-NULL pointer and data_size_out 0 the kernel copies the
		 * whole packet without any bound. */
		a.test.data_out = ptr_u64(dout);
		a.test.data_size_out = dout ? r->data_size_out : 0;
		a.test.ctx_in = ptr_u64(r->ctx.p);
		a.test.ctx_size_in = (uint32_t)r->ctx.n;
		a.test.ctx_out = ptr_u64(cout);
		a.test.ctx_size_out = cout ? r->ctx_size_out : 0;
		a.test.repeat = r->repeat;
		rerr = sys_bpf(BPF_PROG_TEST_RUN, &a) < 0 ? errno : 0;
		if ((r->data_size_out && !dout) || (r->ctx_size_out && !cout))
			rerr = ENOMEM; /* only reached if calloc failed */
		if (rerr)
			printf(",\"stage\":\"test_run\"");
		printf(",\"run\":{\"retval\":%u,\"errno\":%d,\"duration\":%u",
		       a.test.retval, rerr, a.test.duration);
		/* On success or ENOSPC the kernel reports the full output size
		 * and copied as much as fit; otherwise the buffers are junk. */
		if (dout && (rerr == 0 || rerr == ENOSPC)) {
			size_t n = a.test.data_size_out < r->data_size_out
					   ? a.test.data_size_out
					   : r->data_size_out;

			printf(",\"dataSize\":%u,\"dataOut\":\"", a.test.data_size_out);
			put_hex(dout, n);
			putchar('"');
		}
		if (cout && (rerr == 0 || rerr == ENOSPC)) {
			size_t n = a.test.ctx_size_out < r->ctx_size_out
					   ? a.test.ctx_size_out
					   : r->ctx_size_out;

			printf(",\"ctxSize\":%u,\"ctxOut\":\"", a.test.ctx_size_out);
			put_hex(cout, n);
			putchar('"');
		}
		putchar('}');
		free(dout);
		free(cout);
	}
	fputs(",\"log\":\"", stdout);
	put_hex((const uint8_t *)log, log_len);
	putchar('"');
	if (r->dump)
		dump_maps(r);
	fputs("}\n", stdout);
	fflush(stdout);

	if (prog_fd >= 0)
		close(prog_fd);
	if (btf_fd >= 0)
		close(btf_fd);
	free(log);
}

int main(void)
{
	static struct request req; /* large: keep it off the stack */
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int in_req = 0;

	read_ncpus_possible();
	for (;;) {
		len = getline(&line, &cap, stdin);
		if (len < 0)
			break;
		lineno++;
		if ((size_t)len > MAX_LINE) {
			if (in_req) {
				req_fail(&req, "line longer than %u bytes", MAX_LINE);
			} else {
				emit_error("over-long line outside a request");
			}
			continue;
		}
		if (strncmp(line, "REQ", 3) == 0 && (line[3] == '\n' || line[3] == 0 || line[3] == '\r')) {
			if (in_req) {
				/* A REQ without END: report the broken one, start anew. */
				emit_error("REQ inside an unfinished request");
				req_free(&req);
			}
			in_req = 1;
			continue;
		}
		if (strncmp(line, "END", 3) == 0 && (line[3] == '\n' || line[3] == 0 || line[3] == '\r')) {
			if (!in_req) {
				emit_error("END outside a request");
				continue;
			}
			if (req.bad)
				emit_error(req.err);
			else
				execute(&req);
			req_free(&req);
			in_req = 0;
			continue;
		}
		if (!in_req) {
			char *t = line;

			while (*t == ' ' || *t == '\t' || *t == '\r' || *t == '\n')
				t++;
			if (*t)
				emit_error("data outside a request");
			continue;
		}
		handle_line(&req, line);
	}
	if (in_req) {
		emit_error("end of input inside a request");
		req_free(&req);
	}
	free(line);
	return 0;
}
