/*
 * mapops: raw bpf(2) map operations for bpfvm's kernel-differential map tests (driven by test/kernel/mapops.ts).
 *
 * One command per input line, one result line per command on stdout: "<errno> <hex|->" (errno 0 = success).
 *   CREATE <type> <key_size> <value_size> <max_entries> <flags> <inner|-1>  -> handle index in hex-less decimal
 *   UPDATE <h> <keyhex> <valuehex> <flags>
 *   UPDATEMAP <h> <keyhex> <inner_h> <flags>   (map-in-map: value = fd of map handle inner_h)
 *   LOOKUP <h> <keyhex>                        -> value bytes
 *   LOOKUPDEL <h> <keyhex|-> <flags>           -> value bytes (BPF_MAP_LOOKUP_AND_DELETE_ELEM)
 *   DELETE <h> <keyhex>
 *   NEXT <h> <keyhex|->                        -> next key bytes
 *   KEYS <h>                                   -> every key, walking get_next_key from NULL
 *   FREEZE <h>
 *   RESET                                      (close every map)
 * The first output line is "CPUS <n>" (possible CPUs, the per-CPU value multiplier). The process pins itself to
 * CPU 0 so that per-CPU and LRU behaviour is that of one CPU.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/bpf.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAXH 256
#define MAXB (1 << 20)

static int fds[MAXH];
static uint32_t vsz[MAXH], ksz[MAXH];
static int nh;
static int ncpus = 1;
static uint8_t kbuf[MAXB], vbuf[MAXB], obuf[MAXB];

static long sys_bpf(int cmd, union bpf_attr *a) { return syscall(__NR_bpf, cmd, a, sizeof(*a)); }

static int unhex(const char *s, uint8_t *out, size_t max, size_t *n)
{
	size_t len;
	if (!s || strcmp(s, "-") == 0) { *n = 0; return 0; }
	len = strlen(s);
	if (len % 2 || len / 2 > max) return -1;
	for (size_t i = 0; i < len / 2; i++) {
		unsigned v;
		if (sscanf(s + 2 * i, "%2x", &v) != 1) return -1;
		out[i] = (uint8_t)v;
	}
	*n = len / 2;
	return 0;
}

static void put(int err, const uint8_t *b, size_t n)
{
	printf("%d ", err);
	if (!b || n == 0) printf("-");
	for (size_t i = 0; i < n; i++) printf("%02x", b[i]);
	printf("\n");
}

static int is_percpu(uint32_t t) { return t == 5 || t == 6 || t == 10; }

int main(void)
{
	static char line[4 * MAXB + 256];
	FILE *f = fopen("/sys/devices/system/cpu/possible", "r");
	cpu_set_t set;

	if (f) {
		int a = 0, b = 0;
		if (fscanf(f, "%d-%d", &a, &b) == 2) ncpus = b + 1;
		else ncpus = a + 1;
		fclose(f);
	}
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	sched_setaffinity(0, sizeof(set), &set);
	printf("CPUS %d\n", ncpus);
	while (fgets(line, sizeof(line), stdin)) {
		char *cmd = strtok(line, " \n");
		union bpf_attr a;
		size_t kn = 0, vn = 0;
		long r;
		int h;

		if (!cmd) continue;
		memset(&a, 0, sizeof(a));
		if (strcmp(cmd, "RESET") == 0) {
			for (int i = 0; i < nh; i++) if (fds[i] >= 0) close(fds[i]);
			nh = 0;
			put(0, NULL, 0);
			continue;
		}
		if (strcmp(cmd, "CREATE") == 0) {
			uint32_t t = strtoul(strtok(NULL, " \n"), NULL, 10);
			a.map_type = t;
			a.key_size = strtoul(strtok(NULL, " \n"), NULL, 10);
			a.value_size = strtoul(strtok(NULL, " \n"), NULL, 10);
			a.max_entries = strtoul(strtok(NULL, " \n"), NULL, 10);
			a.map_flags = strtoul(strtok(NULL, " \n"), NULL, 10);
			int inner = atoi(strtok(NULL, " \n"));
			if (inner >= 0 && inner < nh) a.inner_map_fd = fds[inner];
			if (nh >= MAXH) { put(EMFILE, NULL, 0); continue; }
			r = sys_bpf(BPF_MAP_CREATE, &a);
			if (r < 0) { put(errno, NULL, 0); continue; }
			fds[nh] = (int)r;
			ksz[nh] = a.key_size;
			vsz[nh] = is_percpu(t) ? ((a.value_size + 7) / 8 * 8) * ncpus : (t == 3 || t == 12 || t == 13) ? 4 : a.value_size;
			printf("0 %d\n", nh);
			nh++;
			continue;
		}
		h = atoi(strtok(NULL, " \n"));
		if (h < 0 || h >= nh) { put(EBADF, NULL, 0); continue; }
		a.map_fd = fds[h];
		if (strcmp(cmd, "KEYS") == 0) {
			size_t n = 0;
			void *prev = NULL;
			for (;;) {
				if (n + ksz[h] > MAXB) break;
				a.key = (uint64_t)(uintptr_t)prev;
				a.next_key = (uint64_t)(uintptr_t)(obuf + n);
				if (sys_bpf(BPF_MAP_GET_NEXT_KEY, &a) < 0) break;
				prev = obuf + n;
				n += ksz[h];
			}
			put(errno == ENOENT ? 0 : errno, obuf, n);
			continue;
		}
		if (strcmp(cmd, "FREEZE") == 0) {
			r = sys_bpf(BPF_MAP_FREEZE, &a);
			put(r < 0 ? errno : 0, NULL, 0);
			continue;
		}
		{
			char *k = strtok(NULL, " \n");
			int nokey = k && strcmp(k, "-") == 0;
			if (unhex(k, kbuf, MAXB, &kn)) { put(EINVAL, NULL, 0); continue; }
			a.key = nokey ? 0 : (uint64_t)(uintptr_t)kbuf;
		}
		if (strcmp(cmd, "UPDATE") == 0 || strcmp(cmd, "UPDATEMAP") == 0) {
			char *v = strtok(NULL, " \n");
			if (strcmp(cmd, "UPDATEMAP") == 0) {
				int ih = atoi(v);
				uint32_t fd = ih >= 0 && ih < nh ? (uint32_t)fds[ih] : 0xffffffffu;
				memcpy(vbuf, &fd, 4);
			} else if (unhex(v, vbuf, MAXB, &vn)) { put(EINVAL, NULL, 0); continue; }
			a.value = (uint64_t)(uintptr_t)vbuf;
			a.flags = strtoull(strtok(NULL, " \n"), NULL, 10);
			r = sys_bpf(BPF_MAP_UPDATE_ELEM, &a);
			put(r < 0 ? errno : 0, NULL, 0);
		} else if (strcmp(cmd, "LOOKUP") == 0) {
			memset(obuf, 0, vsz[h]);
			a.value = (uint64_t)(uintptr_t)obuf;
			r = sys_bpf(BPF_MAP_LOOKUP_ELEM, &a);
			if (r < 0) put(errno, NULL, 0); else put(0, obuf, vsz[h]);
		} else if (strcmp(cmd, "LOOKUPDEL") == 0) {
			memset(obuf, 0, vsz[h]);
			a.value = (uint64_t)(uintptr_t)obuf;
			a.flags = strtoull(strtok(NULL, " \n"), NULL, 10);
			r = sys_bpf(BPF_MAP_LOOKUP_AND_DELETE_ELEM, &a);
			if (r < 0) put(errno, NULL, 0); else put(0, obuf, vsz[h]);
		} else if (strcmp(cmd, "DELETE") == 0) {
			r = sys_bpf(BPF_MAP_DELETE_ELEM, &a);
			put(r < 0 ? errno : 0, NULL, 0);
		} else if (strcmp(cmd, "NEXT") == 0) {
			a.next_key = (uint64_t)(uintptr_t)obuf;
			r = sys_bpf(BPF_MAP_GET_NEXT_KEY, &a);
			if (r < 0) put(errno, NULL, 0); else put(0, obuf, ksz[h]);
		} else {
			put(EINVAL, NULL, 0);
		}
	}
	for (int i = 0; i < nh; i++) if (fds[i] >= 0) close(fds[i]);
	return 0;
}
