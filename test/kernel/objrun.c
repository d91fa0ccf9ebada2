/*
 * objrun: loads ONE BPF ELF object with libbpf (so its BTF, map value BTF,
 * func_info and callbacks reach the kernel, which bpfrun.c's raw loader
 * cannot give) and runs commands against it, for bpfvm's kernel-differential
 * tests of helpers that need BTF (bpf_for_each_map_elem, bpf_spin_lock,
 * bpf_timer_*).  Driven by test/kernel/objrun.ts.
 *
 *   objrun OBJECT < commands
 *
 * Commands, one per line (answers: one JSON object per line on stdout):
 *   run PROG        BPF_PROG_TEST_RUN of program PROG on 64 zero bytes
 *                   -> {"run":"PROG","errno":N,"retval":N}
 *   sleep MS        sleeps MS milliseconds (timers fire meanwhile), <= 2000
 *                   -> {"slept":MS}
 *   dump MAP        every key/value of map MAP (get_next_key order)
 *                   -> {"map":"MAP","entries":[["keyhex","valuehex"],...]}
 *   lookup MAP KEYHEX FLAGS   BPF_MAP_LOOKUP_ELEM_FLAGS
 *                   -> {"lookup":"MAP","errno":N,"value":"hex"}
 *   update MAP KEYHEX VALUEHEX FLAGS
 *                   -> {"update":"MAP","errno":N}
 *   update_fd MAP KEYHEX PATH   opens PATH (a cgroup directory, say) and
 *                   stores its fd at KEYHEX (a CGROUP_ARRAY slot), BPF_ANY
 *                   -> {"update":"MAP","errno":N}
 * The first line of output says whether the object loaded:
 *   {"loaded":true} or {"loaded":false,"errno":N,"log":"..."}
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char logbuf[1 << 16];
static size_t loglen;

static int log_cb(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	if (loglen < sizeof(logbuf) - 1) {
		int n = vsnprintf(logbuf + loglen, sizeof(logbuf) - loglen, fmt, ap);
		if (n > 0)
			loglen += (size_t)n < sizeof(logbuf) - loglen ? (size_t)n : sizeof(logbuf) - loglen - 1;
	}
	return 0;
}

static void put_json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void put_hex(const unsigned char *b, size_t n)
{
	putchar('"');
	for (size_t i = 0; i < n; i++)
		printf("%02x", b[i]);
	putchar('"');
}

static int from_hex(const char *s, unsigned char *out, size_t max)
{
	size_t n = strlen(s);
	if (n % 2 || n / 2 > max)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;
		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (unsigned char)v;
	}
	return (int)(n / 2);
}

static size_t value_bytes(struct bpf_map *m)
{
	size_t v = bpf_map__value_size(m);
	enum bpf_map_type t = bpf_map__type(m);
	if (t == BPF_MAP_TYPE_PERCPU_ARRAY || t == BPF_MAP_TYPE_PERCPU_HASH || t == BPF_MAP_TYPE_LRU_PERCPU_HASH)
		v = ((v + 7) / 8) * 8 * (size_t)libbpf_num_possible_cpus();
	return v;
}

int main(int argc, char **argv)
{
	struct bpf_object *obj;
	char line[8192];
	int err;

	if (argc != 2) {
		fprintf(stderr, "usage: objrun OBJECT < commands\n");
		return 2;
	}
	libbpf_set_print(log_cb);
	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj) {
		printf("{\"loaded\":false,\"errno\":%d,\"log\":", errno);
		put_json_str(logbuf);
		printf("}\n");
		return 0;
	}
	err = bpf_object__load(obj);
	if (err) {
		printf("{\"loaded\":false,\"errno\":%d,\"log\":", -err);
		put_json_str(logbuf);
		printf("}\n");
		return 0;
	}
	printf("{\"loaded\":true}\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		char cmd[32] = "", a[256] = "", b[4096] = "", c[4096] = "";
		unsigned long long fl = 0;
		int n = sscanf(line, "%31s %255s %4095s %4095s %llu", cmd, a, b, c, &fl);
		if (n < 1)
			continue;
		if (!strcmp(cmd, "run")) {
			struct bpf_program *p = bpf_object__find_program_by_name(obj, a);
			unsigned char pkt[64] = { 0 };
			LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = sizeof(pkt), .repeat = 1);
			if (!p) {
				printf("{\"run\":\"%s\",\"errno\":%d,\"retval\":0}\n", a, ENOENT);
			} else {
				err = bpf_prog_test_run_opts(bpf_program__fd(p), &o);
				printf("{\"run\":\"%s\",\"errno\":%d,\"retval\":%u}\n", a, err ? errno : 0, o.retval);
			}
		} else if (!strcmp(cmd, "sleep")) {
			long ms = atol(a);
			if (ms < 0 || ms > 2000)
				ms = 0;
			struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
			nanosleep(&ts, NULL);
			printf("{\"slept\":%ld}\n", ms);
		} else if (!strcmp(cmd, "update_fd")) {
			struct bpf_map *m = bpf_object__find_map_by_name(obj, a);
			unsigned char key[64];
			int fd = open(c, O_RDONLY | O_DIRECTORY);
			if (!m || fd < 0 || from_hex(b, key, sizeof(key)) != (int)bpf_map__key_size(m)) {
				printf("{\"update\":\"%s\",\"errno\":%d}\n", a, !m ? ENOENT : fd < 0 ? errno : EINVAL);
			} else {
				__u32 v = (__u32)fd;
				err = bpf_map_update_elem(bpf_map__fd(m), key, &v, BPF_ANY);
				printf("{\"update\":\"%s\",\"errno\":%d}\n", a, err ? errno : 0);
			}
			if (fd >= 0)
				close(fd);
		} else if (!strcmp(cmd, "dump") || !strcmp(cmd, "lookup") || !strcmp(cmd, "update")) {
			struct bpf_map *m = bpf_object__find_map_by_name(obj, a);
			if (!m) {
				printf("{\"%s\":\"%s\",\"errno\":%d}\n", cmd, a, ENOENT);
				fflush(stdout);
				continue;
			}
			int fd = bpf_map__fd(m);
			size_t ks = bpf_map__key_size(m), vs = value_bytes(m);
			unsigned char *key = calloc(1, ks + 1), *next = calloc(1, ks + 1), *val = calloc(1, vs + 1);
			if (!strcmp(cmd, "dump")) {
				int first = 1, have = 0;
				printf("{\"map\":\"%s\",\"entries\":[", a);
				while (bpf_map_get_next_key(fd, have ? key : NULL, next) == 0) {
					memcpy(key, next, ks);
					have = 1;
					if (bpf_map_lookup_elem(fd, key, val) != 0)
						continue;
					printf("%s[", first ? "" : ",");
					put_hex(key, ks);
					putchar(',');
					put_hex(val, vs);
					putchar(']');
					first = 0;
				}
				printf("]}\n");
			} else if (!strcmp(cmd, "lookup")) {
				if (from_hex(b, key, ks) != (int)ks) {
					printf("{\"lookup\":\"%s\",\"errno\":%d}\n", a, EINVAL);
				} else {
					fl = strtoull(c, NULL, 10);
					err = bpf_map_lookup_elem_flags(fd, key, val, fl);
					printf("{\"lookup\":\"%s\",\"errno\":%d,\"value\":", a, err ? errno : 0);
					put_hex(val, err ? 0 : vs);
					printf("}\n");
				}
			} else {
				if (from_hex(b, key, ks) != (int)ks || from_hex(c, val, vs) != (int)vs) {
					printf("{\"update\":\"%s\",\"errno\":%d}\n", a, EINVAL);
				} else {
					err = bpf_map_update_elem(fd, key, val, fl);
					printf("{\"update\":\"%s\",\"errno\":%d}\n", a, err ? errno : 0);
				}
			}
			free(key);
			free(next);
			free(val);
		} else {
			printf("{\"error\":\"unknown command\"}\n");
		}
		fflush(stdout);
	}
	bpf_object__close(obj);
	return 0;
}
