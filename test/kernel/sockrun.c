/*
 * sockrun: the "socket scenario oracle" helper for bpfvm's test suite.
 *
 * Runs ONE sockmap scenario against the host kernel over real loopback
 * sockets and prints ONE JSON object describing everything observable:
 * map/program setup errors, the result of every step (send() return values
 * or -errno, received bytes, map update errnos, ...), and at the end the
 * bytes still waiting at every open socket, their SO_ERROR, program run
 * counts and a dump of every map.  Driven by test/kernel/sockrun.ts; it can
 * also be used by hand:  ./sockrun < scenario.txt
 *
 * Only libc and the system's <linux/bpf.h> are used (no libbpf), so it builds
 * with a plain `cc` anywhere kernel headers exist.
 *
 * ---- Input: one scenario, line oriented, read until EOF or "END" ----------
 *
 * Numbers are unsigned decimal unless said otherwise; HEX is a hex byte string
 * with "-" meaning empty.  Blank lines and lines starting with '#' are ignored.
 * Declarations (upper case) come first, then steps (lower case), executed in
 * order.
 *
 *   TIMEOUT <seconds>               global alarm, default 10, max 60
 *   DRAIN <ms>                      final drain window, default 200, max 2000
 *   NETNS                           run in a private network namespace (own
 *                                   loopback: fixed ports cannot collide with
 *                                   other runs); "netns" in the output says
 *                                   whether that worked
 *   MAP <type> <keySize> <valueSize> <maxEntries> <flags> <nameHex|->
 *   ELEM <keyHex> <valueHex>        initial element (BPF_ANY) of the previous MAP
 *   PROG <progType> <expectedAttachType> <licenseHex|-> <insnsHex>
 *
 * All maps are created first (in order; index = position), then ELEMs are
 * written, then programs are loaded (index = position).  In each program an
 * lddw with src_reg 5 (BPF_PSEUDO_MAP_IDX) / 6 (MAP_IDX_VALUE) and imm = map
 * index is rewritten to src 1 / 2 with imm = that map's fd (as bpfrun.c).
 * If a map cannot be created or a program fails to load, no step runs and
 * the output says so (stage/index/errno, plus the verifier log for loads).
 *
 * Steps.  SOCK/PEER/... are socket names ([A-Za-z0-9_.-], <= 31 chars).  A
 * name is declared by the step that creates it and must be unique; using an
 * undeclared name is a parse error.  Every step yields "ret": >= 0 on
 * success, -errno on failure.
 *
 *   attach PROG MAP ATYPE           BPF_PROG_ATTACH(target = map fd)
 *   detach PROG MAP ATYPE           BPF_PROG_DETACH
 *   link PROG MAP ATYPE             BPF_LINK_CREATE (link fd kept until exit)
 *   cgroup_attach PROG FLAGS        attach (type 3, BPF_CGROUP_SOCK_OPS) to the
 *                                   helper's private cgroup v2 (see below)
 *   listen NAME PORT                TCP socket bound to 127.0.0.1:PORT (0 =
 *                                   ephemeral), listen(128), non-blocking;
 *                                   "port" reported
 *   tcp NAME                        unbound, unconnected TCP socket
 *   connect NAME LISTENER           new TCP socket connected to LISTENER's
 *                                   address (non-blocking connect, <= 1 s);
 *                                   "port"/"peerPort" reported
 *   accept NAME LISTENER            accept one connection (poll <= 1 s)
 *   udp NAME PORT                   UDP socket bound to 127.0.0.1:PORT
 *   udp_connect NAME OTHER          connect UDP socket NAME to OTHER's address
 *   udp_unbound NAME                UDP socket, not bound, not connected
 *   sendto SOCK OTHER HEX FLAGS     sendto() OTHER's address (getsockname)
 *   unix_pair NAME1 NAME2 TYPE      socketpair(AF_UNIX, TYPE) (1 stream,
 *                                   2 dgram, 5 seqpacket)
 *   sock_update MAP KEYHEX SOCK FLAGS   BPF_MAP_UPDATE_ELEM, value = SOCK's fd
 *                                   as u32 or u64 according to the map's
 *                                   value_size (other sizes: u32 zero-padded)
 *   map_update MAP KEYHEX VALUEHEX FLAGS  raw update (value zero-padded)
 *   map_delete MAP KEYHEX
 *   map_lookup MAP KEYHEX           "data" = value bytes (value_size, or 8
 *                                   for sock maps, which return the cookie)
 *   map_next MAP KEYHEX|-           BPF_MAP_GET_NEXT_KEY; "data" = next key
 *   send SOCK HEX FLAGS             send(); ret = bytes or -errno
 *   sendmsg SOCK IOVLEN IOVCOUNT FLAGS  one sendmsg with IOVCOUNT buffers of
 *                                   IOVLEN bytes; data pattern 0,1,2,...
 *                                   (mod 256) restarting at every step
 *   sendfile SOCK LEN               sendfile() LEN bytes (same pattern) from
 *                                   a memfd
 *   recv SOCK MAXLEN FLAGS TIMEOUTMS  poll(POLLIN) up to TIMEOUTMS, then
 *                                   recv(MAXLEN, FLAGS | MSG_DONTWAIT);
 *                                   "data" = bytes received.  (MSG_PEEK = 2)
 *   shutdown SOCK HOW               0 SHUT_RD, 1 SHUT_WR, 2 SHUT_RDWR
 *   close SOCK                      close(); the name then answers -EBADF
 *   setsockopt SOCK LEVEL OPT VALUE int option; for SOL_SOCKET (1)
 *                                   SO_RCVTIMEO (20) / SO_SNDTIMEO (21)
 *                                   VALUE is in ms and sent as a timeval
 *   getsockopt SOCK LEVEL OPT       ret = int value (SO_ERROR clears sk_err!)
 *   fionread SOCK                   ioctl(FIONREAD); ret = bytes
 *   cookie SOCK                     "data" = SO_COOKIE (8 bytes, little end.)
 *   runcnt PROG                     ret = program run count so far
 *   sleep_ms MS                     (max 2000)
 *
 * ---- Sockets --------------------------------------------------------------
 *
 * Sockets are blocking (listeners excepted) but every TCP socket gets
 * SO_SNDTIMEO = 1000 ms so that a send into a full buffer fails with EAGAIN
 * instead of hanging.  SO_RCVTIMEO is left alone (it would arm the
 * strparser's message assembly timer); recv steps poll instead.  SIGPIPE is
 * ignored, so EPIPE is reported as -32 whatever the flags.
 *
 * ---- cgroup (sock_ops) ----------------------------------------------------
 *
 * When the scenario contains a cgroup_attach step, before the first step the
 * helper creates <cgroup2 mount><own cgroup>/bpfvm-sockrun-<pid> and moves
 * itself into it, so only the scenario's own sockets see the sock_ops
 * program; at exit (also on timeout) it moves back and removes the
 * directory.  Stale directories of dead helpers are removed on start.  If no
 * cgroup v2 hierarchy is mounted (or it cannot be used), "cgroup" in the
 * output carries the reason and cgroup_attach answers -EOPNOTSUPP.
 *
 * ---- Program run counts ---------------------------------------------------
 *
 * BPF_ENABLE_STATS(BPF_STATS_RUN_TIME) is held for the helper's lifetime so
 * run_cnt (BPF_OBJ_GET_INFO_BY_FD) counts executions; "statsEnabled" says
 * whether that worked.  Stats are global, so programs of other processes are
 * not affected beyond being counted.
 *
 * ---- Output (one line of JSON) --------------------------------------------
 *
 *   {"ok":true,"statsEnabled":B,"cgroup":{"ok":B,"reason":".."}?,
 *    "steps":[{"op":"send","ret":N,"data":"hex"?,"port":N?,"peerPort":N?},..],
 *    "sockets":[{"name":"c1","open":B,"data":"hex","chunks":[n,..],
 *                "eof":B,"recvErrno":N,"soError":N},..],
 *    "progs":[{"runCnt":N},..],
 *    "maps":[{"entries":[["keyhex","valhex"],..]} |
 *            {"socks":[["keyhex","name"|null],..],"lookupErrno":N},..]}
 *
 * or {"ok":false,"stage":"map_create"|"map_update"|"prog_load","index":I,
 * "errno":E,"log":"hex"} when setup fails, or {"error":"..."} for a malformed
 * scenario or a timeout (then also "step":I, the step that was running).
 *
 * Final drain: first SO_ERROR is read from every open socket (this clears
 * it, as getsockopt always does), then every open non-listening socket is
 * read with non-blocking recv() until EAGAIN/EOF/error, repeatedly, until
 * 50 ms pass without new bytes or the DRAIN window (default 200 ms) ends.
 * "data" is everything read in the drain, "chunks" the size of each
 * successful recv(), "eof" whether a recv() returned 0, "recvErrno" the
 * first error other than EAGAIN.  Each socket's drain is capped at 4 MiB.
 *
 * Map dump: plain maps by get_next_key + lookup; SOCKMAP/SOCKHASH entries are
 * looked up (value_size 8 needed, otherwise "lookupErrno" is ENOSPC and the
 * list stays empty) and the cookie is translated to the socket name (null if
 * no open socket has that cookie).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/bpf.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAX_LINE (16u << 20)
#define MAX_MAPS 32
#define MAX_PROGS 32
#define MAX_SOCKS 64
#define MAX_STEPS 1024
#define MAX_ELEMS 4096
#define MAX_INSNS 1000000u
#define MAX_KV 65536u
#define MAX_SEND (4u << 20)
#define MAX_RECV (4u << 20)
#define MAX_DRAIN (4u << 20)
#define MAX_CHUNKS 256
#define MAX_LINKS 64
#define LOG_SIZE (1u << 20)
#define SNDTIMEO_MS 1000

#ifndef BPF_PSEUDO_MAP_IDX
#define BPF_PSEUDO_MAP_IDX 5
#endif
#ifndef BPF_PSEUDO_MAP_IDX_VALUE
#define BPF_PSEUDO_MAP_IDX_VALUE 6
#endif
#ifndef SO_COOKIE
#define SO_COOKIE 57
#endif

struct bytes {
	uint8_t *p;
	size_t n;
};

struct mapdef {
	uint32_t type, key_size, value_size, max_entries, flags;
	struct bytes name;
	int fd;
};

struct elem {
	int map;
	struct bytes key, val;
};

struct progdef {
	uint32_t type, eat;
	struct bytes license, insns;
	int fd;
};

enum sock_kind { SK_NONE, SK_LISTEN, SK_TCP, SK_UDP, SK_UNIX };

struct sock {
	char name[32];
	int fd;
	int kind;
	int closed;
	/* drain results */
	uint8_t *data;
	size_t n;
	uint32_t chunks[MAX_CHUNKS];
	int nchunks, chunks_trunc;
	int eof, rerr, soerr, done;
};

enum op {
	OP_ATTACH, OP_DETACH, OP_LINK, OP_CGROUP_ATTACH, OP_LISTEN, OP_TCP,
	OP_CONNECT, OP_ACCEPT, OP_UDP, OP_UDP_CONNECT, OP_UNIX_PAIR,
	OP_SOCK_UPDATE, OP_MAP_UPDATE, OP_MAP_DELETE, OP_MAP_LOOKUP,
	OP_MAP_NEXT, OP_SEND, OP_SENDMSG, OP_SENDFILE, OP_RECV, OP_SHUTDOWN,
	OP_CLOSE, OP_SETSOCKOPT, OP_GETSOCKOPT, OP_FIONREAD, OP_COOKIE,
	OP_RUNCNT, OP_SLEEP, OP_UDP_UNBOUND, OP_SENDTO,
};

static const char *const op_names[] = {
	"attach", "detach", "link", "cgroup_attach", "listen", "tcp",
	"connect", "accept", "udp", "udp_connect", "unix_pair",
	"sock_update", "map_update", "map_delete", "map_lookup",
	"map_next", "send", "sendmsg", "sendfile", "recv", "shutdown",
	"close", "setsockopt", "getsockopt", "fionread", "cookie",
	"runcnt", "sleep_ms", "udp_unbound", "sendto",
};

struct step {
	int op;
	int s1, s2;          /* socket indices */
	int map, prog;
	uint64_t n[4];       /* numeric arguments, meaning per op */
	struct bytes key, val; /* hex arguments */
	int key_present;
};

static struct mapdef maps[MAX_MAPS];
static int nmaps;
static struct elem *elems;
static int nelems;
static struct progdef progs[MAX_PROGS];
static int nprogs;
static struct sock socks[MAX_SOCKS];
static int nsocks;
static struct step *steps;
static int nsteps;
static int links[MAX_LINKS];
static int nlinks;
static unsigned timeout_s = 10, drain_ms = 200;
static int want_cgroup;
static int want_netns, netns_ok;
static char netns_reason[160];
static unsigned long lineno;
static char parse_err[256];

static volatile sig_atomic_t cur_step = -1;

/* cgroup state; paths are prepared before use so the signal handler can
 * restore things with async-signal-safe calls only. */
static char cg_child[PATH_MAX];
static char cg_orig_procs[PATH_MAX + 32];
static volatile sig_atomic_t cg_moved, cg_created;
static int cg_fd = -1;
static char cg_reason[256];
static int cg_ok;

/* output buffer (open_memstream) */
static char *outbuf;
static size_t outlen;
static FILE *out;

static long sys_bpf(int cmd, union bpf_attr *attr)
{
	return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

static uint64_t ptr_u64(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

/* ---- small output helpers ------------------------------------------- */

static void put_hex(FILE *f, const uint8_t *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		fputc(digits[p[i] >> 4], f);
		fputc(digits[p[i] & 15], f);
	}
}

static void put_json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void emit_error(const char *msg, int step)
{
	fputs("{\"error\":", stdout);
	put_json_string(stdout, msg);
	if (step >= 0)
		printf(",\"step\":%d", step);
	fputs("}\n", stdout);
	fflush(stdout);
}

/* ---- cgroup ------------------------------------------------------------ */

static void cg_restore_async(void)
{
	/* async-signal-safe: open/write/close/rmdir only */
	if (cg_moved) {
		int fd = open(cg_orig_procs, O_WRONLY);

		if (fd >= 0) {
			if (write(fd, "0", 1) < 0) {
				/* nothing useful to do */
			}
			close(fd);
		}
		cg_moved = 0;
	}
	if (cg_created) {
		rmdir(cg_child);
		cg_created = 0;
	}
}

static void u64_to_str(char *buf, unsigned long long v)
{
	char tmp[24];
	int i = 0, j = 0;

	do {
		tmp[i++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (i)
		buf[j++] = tmp[--i];
	buf[j] = 0;
}

static void on_alarm(int sig)
{
	char msg[128] = "{\"error\":\"timeout: helper alarm fired\",\"step\":";
	char num[24];
	int s = cur_step;
	size_t len;

	(void)sig;
	if (s < 0) {
		num[0] = '-';
		num[1] = '1';
		num[2] = 0;
	} else {
		u64_to_str(num, (unsigned long long)s);
	}
	len = strlen(msg);
	memcpy(msg + len, num, strlen(num));
	len += strlen(num);
	memcpy(msg + len, "}\n", 2);
	len += 2;
	if (write(1, msg, len) < 0) {
		/* ignore */
	}
	cg_restore_async();
	_exit(2);
}

/* Find the cgroup2 mount point from /proc/self/mountinfo. */
static int find_cgroup2(char *mnt, size_t sz)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char *line = NULL;
	size_t cap = 0;
	int found = 0;

	if (!f)
		return 0;
	while (getline(&line, &cap, f) > 0) {
		char *sep = strstr(line, " - ");
		char *fields[6];
		int i = 0;
		char *save = NULL, *t;

		if (!sep || strncmp(sep + 3, "cgroup2 ", 8) != 0)
			continue;
		*sep = 0;
		for (t = strtok_r(line, " ", &save); t && i < 6; t = strtok_r(NULL, " ", &save))
			fields[i++] = t;
		if (i >= 5 && strlen(fields[4]) < sz) {
			strcpy(mnt, fields[4]);
			found = 1;
			break;
		}
	}
	free(line);
	fclose(f);
	return found;
}

static int own_cgroup2_path(char *path, size_t sz)
{
	FILE *f = fopen("/proc/self/cgroup", "r");
	char *line = NULL;
	size_t cap = 0;
	int found = 0;

	if (!f)
		return 0;
	while (getline(&line, &cap, f) > 0) {
		if (strncmp(line, "0::", 3) == 0) {
			size_t l = strlen(line + 3);

			while (l && (line[3 + l - 1] == '\n' || line[3 + l - 1] == ' '))
				line[3 + --l] = 0;
			if (l < sz) {
				strcpy(path, line + 3);
				found = 1;
			}
			break;
		}
	}
	free(line);
	fclose(f);
	return found;
}

static void cg_remove_stale(const char *parent)
{
	DIR *d = opendir(parent);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		char p[PATH_MAX];
		long pid;
		char *end;

		if (strncmp(e->d_name, "bpfvm-sockrun-", 14) != 0)
			continue;
		pid = strtol(e->d_name + 14, &end, 10);
		if (*end || pid <= 0)
			continue;
		if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		if ((size_t)snprintf(p, sizeof(p), "%s/%s", parent, e->d_name) < sizeof(p))
			rmdir(p); /* fails harmlessly if still populated */
	}
	closedir(d);
}

static void cg_setup(void)
{
	char mnt[PATH_MAX / 2], own[PATH_MAX / 2], parent[PATH_MAX];
	char procs[PATH_MAX + 32];
	int fd;

	if (!find_cgroup2(mnt, sizeof(mnt))) {
		snprintf(cg_reason, sizeof(cg_reason), "no cgroup2 hierarchy mounted");
		return;
	}
	if (!own_cgroup2_path(own, sizeof(own))) {
		snprintf(cg_reason, sizeof(cg_reason), "no cgroup v2 entry in /proc/self/cgroup");
		return;
	}
	if (strcmp(own, "/") == 0)
		own[0] = 0;
	snprintf(parent, sizeof(parent), "%.2000s%.2000s", mnt, own);
	snprintf(cg_orig_procs, sizeof(cg_orig_procs), "%.4000s/cgroup.procs", parent);
	cg_remove_stale(parent);
	snprintf(cg_child, sizeof(cg_child), "%.3000s/bpfvm-sockrun-%d", parent, (int)getpid());
	if (mkdir(cg_child, 0755) < 0) {
		snprintf(cg_reason, sizeof(cg_reason), "mkdir %.180s: %.60s", cg_child, strerror(errno));
		return;
	}
	cg_created = 1;
	snprintf(procs, sizeof(procs), "%.4000s/cgroup.procs", cg_child);
	fd = open(procs, O_WRONLY);
	if (fd < 0 || write(fd, "0", 1) != 1) {
		snprintf(cg_reason, sizeof(cg_reason), "cannot move into %.170s: %.60s", cg_child, strerror(errno));
		if (fd >= 0)
			close(fd);
		cg_restore_async();
		return;
	}
	close(fd);
	cg_moved = 1;
	cg_fd = open(cg_child, O_RDONLY | O_DIRECTORY);
	if (cg_fd < 0) {
		snprintf(cg_reason, sizeof(cg_reason), "open %.180s: %.60s", cg_child, strerror(errno));
		cg_restore_async();
		return;
	}
	cg_ok = 1;
	snprintf(cg_reason, sizeof(cg_reason), "%.250s", cg_child);
}

/* ---- parsing ----------------------------------------------------------- */

static int fail(const char *fmt, ...)
{
	va_list ap;
	int n;

	if (parse_err[0])
		return -1;
	n = snprintf(parse_err, sizeof(parse_err), "line %lu: ", lineno);
	if (n < 0 || (size_t)n >= sizeof(parse_err))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(parse_err + n, sizeof(parse_err) - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
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

static int parse_hex(const char *tok, size_t max, const char *what, struct bytes *b)
{
	size_t len, i;

	free(b->p);
	b->p = NULL;
	b->n = 0;
	if (strcmp(tok, "-") == 0)
		return 0;
	len = strlen(tok);
	if (len % 2)
		return fail("%s: odd number of hex digits", what);
	if (len / 2 > max)
		return fail("%s: %zu bytes exceeds limit %zu", what, len / 2, max);
	b->p = malloc(len / 2 + 1);
	if (!b->p)
		return fail("%s: out of memory", what);
	for (i = 0; i < len / 2; i++) {
		int hi = hexval((unsigned char)tok[2 * i]);
		int lo = hexval((unsigned char)tok[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return fail("%s: invalid hex digit", what);
		b->p[i] = (uint8_t)(hi << 4 | lo);
	}
	b->p[len / 2] = 0;
	b->n = len / 2;
	return 0;
}

static int parse_u64(const char *tok, uint64_t max, const char *what, uint64_t *v)
{
	char *end;
	unsigned long long x;

	if (tok[0] < '0' || tok[0] > '9')
		return fail("%s: not an unsigned decimal number", what);
	errno = 0;
	x = strtoull(tok, &end, 10);
	if (errno || *end || x > max)
		return fail("%s: not a number in 0..%llu", what, (unsigned long long)max);
	*v = x;
	return 0;
}

static int parse_u32(const char *tok, const char *what, uint32_t *v)
{
	uint64_t x;

	if (parse_u64(tok, UINT32_MAX, what, &x))
		return -1;
	*v = (uint32_t)x;
	return 0;
}

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

static int find_sock(const char *name)
{
	int i;

	for (i = 0; i < nsocks; i++)
		if (strcmp(socks[i].name, name) == 0)
			return i;
	return -1;
}

static int use_sock(const char *name, int *out)
{
	int i = find_sock(name);

	if (i < 0)
		return fail("unknown socket '%.32s'", name);
	*out = i;
	return 0;
}

static int decl_sock(const char *name, int kind, int *out)
{
	const char *p;

	if (strlen(name) > 31 || !name[0])
		return fail("socket name must be 1..31 characters");
	for (p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' || *p == '-'))
			return fail("bad character in socket name '%.32s'", name);
	if (find_sock(name) >= 0)
		return fail("socket '%s' declared twice", name);
	if (nsocks >= MAX_SOCKS)
		return fail("more than %d sockets", MAX_SOCKS);
	memset(&socks[nsocks], 0, sizeof(socks[nsocks]));
	strcpy(socks[nsocks].name, name);
	socks[nsocks].fd = -1;
	socks[nsocks].kind = kind;
	*out = nsocks++;
	return 0;
}

static int use_map(const char *tok, int *out)
{
	uint64_t v;

	if (parse_u64(tok, MAX_MAPS, "map index", &v))
		return -1;
	if ((int)v >= nmaps)
		return fail("map index %d out of range", (int)v);
	*out = (int)v;
	return 0;
}

static int use_prog(const char *tok, int *out)
{
	uint64_t v;

	if (parse_u64(tok, MAX_PROGS, "program index", &v))
		return -1;
	if ((int)v >= nprogs)
		return fail("program index %d out of range", (int)v);
	*out = (int)v;
	return 0;
}

static int key_arg(const char *tok, struct step *s)
{
	if (strcmp(tok, "-") == 0) {
		s->key_present = 0;
		return 0;
	}
	s->key_present = 1;
	if (parse_hex(tok, MAX_KV, "key", &s->key))
		return -1;
	if (s->key.n > maps[s->map].key_size)
		return fail("key longer than the map's key size");
	return 0;
}

struct opspec {
	const char *name;
	int op, nargs;
};

static const struct opspec opspecs[] = {
	{ "attach", OP_ATTACH, 3 },        { "detach", OP_DETACH, 3 },
	{ "link", OP_LINK, 3 },            { "cgroup_attach", OP_CGROUP_ATTACH, 2 },
	{ "listen", OP_LISTEN, 2 },        { "tcp", OP_TCP, 1 },
	{ "connect", OP_CONNECT, 2 },      { "accept", OP_ACCEPT, 2 },
	{ "udp", OP_UDP, 2 },              { "udp_connect", OP_UDP_CONNECT, 2 },
	{ "unix_pair", OP_UNIX_PAIR, 3 },  { "sock_update", OP_SOCK_UPDATE, 4 },
	{ "map_update", OP_MAP_UPDATE, 4 }, { "map_delete", OP_MAP_DELETE, 2 },
	{ "map_lookup", OP_MAP_LOOKUP, 2 }, { "map_next", OP_MAP_NEXT, 2 },
	{ "send", OP_SEND, 3 },            { "sendmsg", OP_SENDMSG, 4 },
	{ "sendfile", OP_SENDFILE, 2 },    { "recv", OP_RECV, 4 },
	{ "shutdown", OP_SHUTDOWN, 2 },    { "close", OP_CLOSE, 1 },
	{ "setsockopt", OP_SETSOCKOPT, 4 }, { "getsockopt", OP_GETSOCKOPT, 3 },
	{ "fionread", OP_FIONREAD, 1 },    { "cookie", OP_COOKIE, 1 },
	{ "runcnt", OP_RUNCNT, 1 },        { "sleep_ms", OP_SLEEP, 1 },
	{ "udp_unbound", OP_UDP_UNBOUND, 1 }, { "sendto", OP_SENDTO, 4 },
};

static int parse_step(char **tok, int n)
{
	const struct opspec *spec = NULL;
	struct step *s;
	size_t i;

	for (i = 0; i < sizeof(opspecs) / sizeof(opspecs[0]); i++)
		if (strcmp(tok[0], opspecs[i].name) == 0)
			spec = &opspecs[i];
	if (!spec)
		return fail("unknown keyword '%.32s'", tok[0]);
	if (n - 1 != spec->nargs)
		return fail("%s needs %d arguments", spec->name, spec->nargs);
	if (nsteps >= MAX_STEPS)
		return fail("more than %d steps", MAX_STEPS);
	s = &steps[nsteps];
	memset(s, 0, sizeof(*s));
	s->op = spec->op;
	s->s1 = s->s2 = -1;
	s->map = s->prog = -1;
	switch (s->op) {
	case OP_ATTACH:
	case OP_DETACH:
	case OP_LINK:
		if (use_prog(tok[1], &s->prog) || use_map(tok[2], &s->map) ||
		    parse_u64(tok[3], UINT32_MAX, "attach type", &s->n[0]))
			return -1;
		break;
	case OP_CGROUP_ATTACH:
		if (use_prog(tok[1], &s->prog) || parse_u64(tok[2], UINT32_MAX, "flags", &s->n[0]))
			return -1;
		want_cgroup = 1;
		break;
	case OP_LISTEN:
		if (decl_sock(tok[1], SK_LISTEN, &s->s1) || parse_u64(tok[2], 65535, "port", &s->n[0]))
			return -1;
		break;
	case OP_TCP:
		if (decl_sock(tok[1], SK_TCP, &s->s1))
			return -1;
		break;
	case OP_CONNECT:
	case OP_ACCEPT:
		if (use_sock(tok[2], &s->s2))
			return -1;
		if (socks[s->s2].kind != SK_LISTEN)
			return fail("'%s' is not a listener", tok[2]);
		if (decl_sock(tok[1], SK_TCP, &s->s1))
			return -1;
		break;
	case OP_UDP:
		if (decl_sock(tok[1], SK_UDP, &s->s1) || parse_u64(tok[2], 65535, "port", &s->n[0]))
			return -1;
		break;
	case OP_UDP_CONNECT:
		if (use_sock(tok[1], &s->s1) || use_sock(tok[2], &s->s2))
			return -1;
		break;
	case OP_UDP_UNBOUND:
		if (decl_sock(tok[1], SK_UDP, &s->s1))
			return -1;
		break;
	case OP_SENDTO:
		if (use_sock(tok[1], &s->s1) || use_sock(tok[2], &s->s2) ||
		    parse_hex(tok[3], MAX_SEND, "data", &s->val) ||
		    parse_u64(tok[4], UINT32_MAX, "flags", &s->n[0]))
			return -1;
		break;
	case OP_UNIX_PAIR:
		if (decl_sock(tok[1], SK_UNIX, &s->s1) || decl_sock(tok[2], SK_UNIX, &s->s2) ||
		    parse_u64(tok[3], 16, "socket type", &s->n[0]))
			return -1;
		break;
	case OP_SOCK_UPDATE:
		if (use_map(tok[1], &s->map) || key_arg(tok[2], s) || use_sock(tok[3], &s->s1) ||
		    parse_u64(tok[4], UINT64_MAX, "flags", &s->n[0]))
			return -1;
		break;
	case OP_MAP_UPDATE:
		if (use_map(tok[1], &s->map) || key_arg(tok[2], s) ||
		    parse_hex(tok[3], MAX_KV, "value", &s->val) ||
		    parse_u64(tok[4], UINT64_MAX, "flags", &s->n[0]))
			return -1;
		break;
	case OP_MAP_DELETE:
	case OP_MAP_LOOKUP:
	case OP_MAP_NEXT:
		if (use_map(tok[1], &s->map) || key_arg(tok[2], s))
			return -1;
		break;
	case OP_SEND:
		if (use_sock(tok[1], &s->s1) || parse_hex(tok[2], MAX_SEND, "data", &s->val) ||
		    parse_u64(tok[3], UINT32_MAX, "flags", &s->n[0]))
			return -1;
		break;
	case OP_SENDMSG:
		if (use_sock(tok[1], &s->s1) || parse_u64(tok[2], MAX_SEND, "iov_len", &s->n[0]) ||
		    parse_u64(tok[3], 1024, "iov_count", &s->n[1]) ||
		    parse_u64(tok[4], UINT32_MAX, "flags", &s->n[2]))
			return -1;
		if (s->n[0] * s->n[1] > MAX_SEND)
			return fail("sendmsg: more than %u bytes", MAX_SEND);
		break;
	case OP_SENDFILE:
		if (use_sock(tok[1], &s->s1) || parse_u64(tok[2], MAX_SEND, "len", &s->n[0]))
			return -1;
		break;
	case OP_RECV:
		if (use_sock(tok[1], &s->s1) || parse_u64(tok[2], MAX_RECV, "maxlen", &s->n[0]) ||
		    parse_u64(tok[3], UINT32_MAX, "flags", &s->n[1]) ||
		    parse_u64(tok[4], 5000, "timeout_ms", &s->n[2]))
			return -1;
		break;
	case OP_SHUTDOWN:
		if (use_sock(tok[1], &s->s1) || parse_u64(tok[2], 2, "how", &s->n[0]))
			return -1;
		break;
	case OP_CLOSE:
	case OP_FIONREAD:
	case OP_COOKIE:
		if (use_sock(tok[1], &s->s1))
			return -1;
		break;
	case OP_SETSOCKOPT:
		if (use_sock(tok[1], &s->s1) || parse_u64(tok[2], INT32_MAX, "level", &s->n[0]) ||
		    parse_u64(tok[3], INT32_MAX, "optname", &s->n[1]) ||
		    parse_u64(tok[4], INT32_MAX, "value", &s->n[2]))
			return -1;
		break;
	case OP_GETSOCKOPT:
		if (use_sock(tok[1], &s->s1) || parse_u64(tok[2], INT32_MAX, "level", &s->n[0]) ||
		    parse_u64(tok[3], INT32_MAX, "optname", &s->n[1]))
			return -1;
		break;
	case OP_RUNCNT:
		if (use_prog(tok[1], &s->prog))
			return -1;
		break;
	case OP_SLEEP:
		if (parse_u64(tok[1], 2000, "ms", &s->n[0]))
			return -1;
		break;
	}
	nsteps++;
	return 0;
}

/* Returns 1 at END, 0 to continue, -1 on error. */
static int parse_line(char *line)
{
	char *tok[8];
	int n = tokenize(line, tok, 7);
	uint64_t v;

	if (n == 0 || tok[0][0] == '#')
		return 0;
	if (n > 7)
		return fail("too many fields");
	if (strcmp(tok[0], "END") == 0)
		return 1;
	if (strcmp(tok[0], "TIMEOUT") == 0) {
		if (n != 2 || parse_u64(tok[1], 60, "timeout", &v))
			return fail("TIMEOUT needs seconds (1..60)");
		timeout_s = v ? (unsigned)v : 1;
		return 0;
	}
	if (strcmp(tok[0], "NETNS") == 0) {
		if (n != 1)
			return fail("NETNS takes no arguments");
		want_netns = 1;
		return 0;
	}
	if (strcmp(tok[0], "DRAIN") == 0) {
		if (n != 2 || parse_u64(tok[1], 2000, "drain", &v))
			return fail("DRAIN needs ms (0..2000)");
		drain_ms = (unsigned)v;
		return 0;
	}
	if (strcmp(tok[0], "MAP") == 0) {
		struct mapdef *m;

		if (nsteps || nprogs)
			return fail("MAP after PROG or steps");
		if (n != 7)
			return fail("MAP needs 6 fields");
		if (nmaps >= MAX_MAPS)
			return fail("more than %d maps", MAX_MAPS);
		m = &maps[nmaps++];
		m->fd = -1;
		if (parse_u32(tok[1], "map type", &m->type) ||
		    parse_u32(tok[2], "keySize", &m->key_size) ||
		    parse_u32(tok[3], "valueSize", &m->value_size) ||
		    parse_u32(tok[4], "maxEntries", &m->max_entries) ||
		    parse_u32(tok[5], "map flags", &m->flags) ||
		    parse_hex(tok[6], BPF_OBJ_NAME_LEN - 1, "map name", &m->name))
			return -1;
		if (m->key_size > MAX_KV || m->value_size > MAX_KV)
			return fail("key/value size above %u", MAX_KV);
		return 0;
	}
	if (strcmp(tok[0], "ELEM") == 0) {
		struct elem *e;

		if (n != 3)
			return fail("ELEM needs 2 fields");
		if (!nmaps || nprogs || nsteps)
			return fail("ELEM must follow a MAP");
		if (nelems >= MAX_ELEMS)
			return fail("more than %d elements", MAX_ELEMS);
		e = &elems[nelems++];
		memset(e, 0, sizeof(*e));
		e->map = nmaps - 1;
		if (parse_hex(tok[1], MAX_KV, "elem key", &e->key) ||
		    parse_hex(tok[2], MAX_KV, "elem value", &e->val))
			return -1;
		if (e->key.n > maps[e->map].key_size || e->val.n > maps[e->map].value_size)
			return fail("ELEM key/value longer than the map's sizes");
		return 0;
	}
	if (strcmp(tok[0], "PROG") == 0) {
		struct progdef *p;

		if (nsteps)
			return fail("PROG after steps");
		if (n != 5)
			return fail("PROG needs 4 fields");
		if (nprogs >= MAX_PROGS)
			return fail("more than %d programs", MAX_PROGS);
		p = &progs[nprogs++];
		p->fd = -1;
		if (parse_u32(tok[1], "progType", &p->type) ||
		    parse_u32(tok[2], "expectedAttachType", &p->eat) ||
		    parse_hex(tok[3], 256, "license", &p->license) ||
		    parse_hex(tok[4], (size_t)MAX_INSNS * 8, "insns", &p->insns))
			return -1;
		if (p->license.n && memchr(p->license.p, 0, p->license.n))
			return fail("license contains NUL");
		if (p->insns.n % 8 || p->insns.n == 0)
			return fail("insns: length must be a non-zero multiple of 8");
		return 0;
	}
	return parse_step(tok, n);
}

/* ---- setup ------------------------------------------------------------- */

static int setup_fail(const char *stage, int index, int err, const char *log)
{
	fprintf(out, "{\"ok\":false,\"stage\":\"%s\",\"index\":%d,\"errno\":%d,\"log\":\"", stage, index, err);
	if (log)
		put_hex(out, (const uint8_t *)log, strnlen(log, LOG_SIZE));
	fputs("\"}", out);
	return -1;
}

static int setup(void)
{
	int i;
	char *log = NULL;

	for (i = 0; i < nmaps; i++) {
		struct mapdef *m = &maps[i];
		union bpf_attr a;

		memset(&a, 0, sizeof(a));
		a.map_type = m->type;
		a.key_size = m->key_size;
		a.value_size = m->value_size;
		a.max_entries = m->max_entries;
		a.map_flags = m->flags;
		if (m->name.n)
			memcpy(a.map_name, m->name.p, m->name.n);
		m->fd = (int)sys_bpf(BPF_MAP_CREATE, &a);
		if (m->fd < 0)
			return setup_fail("map_create", i, errno, NULL);
	}
	for (i = 0; i < nelems; i++) {
		struct elem *e = &elems[i];
		struct mapdef *m = &maps[e->map];
		uint8_t *kb = calloc(1, m->key_size + 1), *vb = calloc(1, m->value_size + 1);
		union bpf_attr a;
		int err = 0;

		if (!kb || !vb) {
			err = ENOMEM;
		} else {
			if (e->key.n)
				memcpy(kb, e->key.p, e->key.n);
			if (e->val.n)
				memcpy(vb, e->val.p, e->val.n);
			memset(&a, 0, sizeof(a));
			a.map_fd = (uint32_t)m->fd;
			a.key = m->key_size ? ptr_u64(kb) : 0;
			a.value = ptr_u64(vb);
			a.flags = BPF_ANY;
			if (sys_bpf(BPF_MAP_UPDATE_ELEM, &a) < 0)
				err = errno;
		}
		free(kb);
		free(vb);
		if (err)
			return setup_fail("map_update", e->map, err, NULL);
	}
	log = calloc(1, LOG_SIZE + 1);
	if (!log)
		return setup_fail("prog_load", 0, ENOMEM, NULL);
	for (i = 0; i < nprogs; i++) {
		struct progdef *p = &progs[i];
		struct bpf_insn *insn = (struct bpf_insn *)p->insns.p;
		size_t cnt = p->insns.n / 8, j;
		union bpf_attr a;
		int attempts, err = 0;

		for (j = 0; j + 1 < cnt; j++) {
			int32_t imm;

			if (insn[j].code != (BPF_LD | BPF_IMM | BPF_DW))
				continue;
			imm = insn[j].imm;
			if ((insn[j].src_reg == BPF_PSEUDO_MAP_IDX ||
			     insn[j].src_reg == BPF_PSEUDO_MAP_IDX_VALUE) &&
			    imm >= 0 && imm < nmaps) {
				insn[j].src_reg = insn[j].src_reg == BPF_PSEUDO_MAP_IDX
							  ? BPF_PSEUDO_MAP_FD
							  : BPF_PSEUDO_MAP_VALUE;
				insn[j].imm = maps[imm].fd;
			}
			j++;
		}
		for (attempts = 0; attempts < 5; attempts++) {
			memset(&a, 0, sizeof(a));
			memset(log, 0, LOG_SIZE + 1);
			a.prog_type = p->type;
			a.expected_attach_type = p->eat;
			a.insn_cnt = (uint32_t)cnt;
			a.insns = ptr_u64(p->insns.p);
			a.license = ptr_u64(p->license.n ? (char *)p->license.p : "GPL");
			a.log_level = 1;
			a.log_size = LOG_SIZE;
			a.log_buf = ptr_u64(log);
			p->fd = (int)sys_bpf(BPF_PROG_LOAD, &a);
			err = p->fd < 0 ? errno : 0;
			if (err != EAGAIN)
				break;
		}
		if (p->fd < 0) {
			setup_fail("prog_load", i, err, log);
			free(log);
			return -1;
		}
	}
	free(log);
	return 0;
}

/* ---- socket helpers ---------------------------------------------------- */

static long neg(void)
{
	return -(long)errno;
}

static void set_sndtimeo(int fd, unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static int sock_fd(int i)
{
	return socks[i].closed ? -1 : socks[i].fd;
}

static int local_port(int fd)
{
	struct sockaddr_in sa;
	socklen_t l = sizeof(sa);

	if (fd < 0 || getsockname(fd, (struct sockaddr *)&sa, &l) < 0 || sa.sin_family != AF_INET)
		return -1;
	return ntohs(sa.sin_port);
}

static int remote_port(int fd)
{
	struct sockaddr_in sa;
	socklen_t l = sizeof(sa);

	if (fd < 0 || getpeername(fd, (struct sockaddr *)&sa, &l) < 0 || sa.sin_family != AF_INET)
		return -1;
	return ntohs(sa.sin_port);
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static uint8_t *pattern(size_t n)
{
	uint8_t *b = malloc(n ? n : 1);
	size_t i;

	if (b)
		for (i = 0; i < n; i++)
			b[i] = (uint8_t)i;
	return b;
}

static long do_connect_inet(int fd, int target_fd, int wait)
{
	struct sockaddr_in sa;
	socklen_t l = sizeof(sa);
	int fl, err = 0;

	if (getsockname(target_fd, (struct sockaddr *)&sa, &l) < 0)
		return neg();
	if (!wait)
		return connect(fd, (struct sockaddr *)&sa, l) < 0 ? neg() : 0;
	fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	if (connect(fd, (struct sockaddr *)&sa, l) < 0) {
		if (errno != EINPROGRESS) {
			err = errno;
		} else {
			struct pollfd p = { fd, POLLOUT, 0 };
			socklen_t el = sizeof(err);

			if (poll(&p, 1, 1000) <= 0)
				err = ETIMEDOUT;
			else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
				err = errno;
		}
	}
	fcntl(fd, F_SETFL, fl);
	return err ? -(long)err : 0;
}

/* ---- steps ------------------------------------------------------------- */

static void out_data(const uint8_t *p, size_t n)
{
	fputs(",\"data\":\"", out);
	put_hex(out, p, n);
	fputc('"', out);
}

static long prog_runcnt(int fd, int *ok)
{
	struct bpf_prog_info info;
	union bpf_attr a;

	memset(&info, 0, sizeof(info));
	memset(&a, 0, sizeof(a));
	a.info.bpf_fd = (uint32_t)fd;
	a.info.info_len = sizeof(info);
	a.info.info = ptr_u64(&info);
	if (sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &a) < 0) {
		*ok = 0;
		return -(long)errno;
	}
	*ok = 1;
	return (long)info.run_cnt;
}

static void run_step(struct step *s)
{
	union bpf_attr a;
	long ret = 0;
	int fd = s->s1 >= 0 ? sock_fd(s->s1) : -1;
	struct mapdef *m = s->map >= 0 && s->map < nmaps ? &maps[s->map] : NULL;

	fprintf(out, "{\"op\":\"%s\"", op_names[s->op]);
	memset(&a, 0, sizeof(a));
	switch (s->op) {
	case OP_ATTACH:
	case OP_DETACH:
		a.target_fd = (uint32_t)maps[s->map].fd;
		a.attach_bpf_fd = (uint32_t)progs[s->prog].fd;
		a.attach_type = (uint32_t)s->n[0];
		ret = sys_bpf(s->op == OP_ATTACH ? BPF_PROG_ATTACH : BPF_PROG_DETACH, &a) < 0 ? neg() : 0;
		break;
	case OP_LINK:
		a.link_create.prog_fd = (uint32_t)progs[s->prog].fd;
		a.link_create.target_fd = (uint32_t)maps[s->map].fd;
		a.link_create.attach_type = (uint32_t)s->n[0];
		ret = sys_bpf(BPF_LINK_CREATE, &a);
		if (ret < 0) {
			ret = neg();
		} else {
			if (nlinks < MAX_LINKS)
				links[nlinks++] = (int)ret;
			else
				close((int)ret);
			ret = 0;
		}
		break;
	case OP_CGROUP_ATTACH:
		if (!cg_ok) {
			ret = -EOPNOTSUPP;
			break;
		}
		a.target_fd = (uint32_t)cg_fd;
		a.attach_bpf_fd = (uint32_t)progs[s->prog].fd;
		a.attach_type = BPF_CGROUP_SOCK_OPS;
		a.attach_flags = (uint32_t)s->n[0];
		ret = sys_bpf(BPF_PROG_ATTACH, &a) < 0 ? neg() : 0;
		break;
	case OP_LISTEN: {
		struct sockaddr_in sa;
		int one = 1;

		fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			ret = neg();
			break;
		}
		socks[s->s1].fd = fd;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		sa.sin_port = htons((uint16_t)s->n[0]);
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 128) < 0)
			ret = neg();
		fprintf(out, ",\"port\":%d", local_port(fd));
		break;
	}
	case OP_TCP:
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			ret = neg();
			break;
		}
		socks[s->s1].fd = fd;
		set_sndtimeo(fd, SNDTIMEO_MS);
		break;
	case OP_CONNECT:
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			ret = neg();
			break;
		}
		socks[s->s1].fd = fd;
		set_sndtimeo(fd, SNDTIMEO_MS);
		if (sock_fd(s->s2) < 0) {
			ret = -EBADF;
			break;
		}
		ret = do_connect_inet(fd, sock_fd(s->s2), 1);
		fprintf(out, ",\"port\":%d,\"peerPort\":%d", local_port(fd), remote_port(fd));
		break;
	case OP_ACCEPT: {
		int lfd = sock_fd(s->s2);
		struct pollfd p = { lfd, POLLIN, 0 };

		if (lfd < 0) {
			ret = -EBADF;
			break;
		}
		if (poll(&p, 1, 1000) <= 0) {
			ret = -EAGAIN;
			break;
		}
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			ret = neg();
			break;
		}
		socks[s->s1].fd = fd;
		set_sndtimeo(fd, SNDTIMEO_MS);
		fprintf(out, ",\"port\":%d,\"peerPort\":%d", local_port(fd), remote_port(fd));
		break;
	}
	case OP_UDP: {
		struct sockaddr_in sa;

		fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			ret = neg();
			break;
		}
		socks[s->s1].fd = fd;
		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		sa.sin_port = htons((uint16_t)s->n[0]);
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			ret = neg();
		fprintf(out, ",\"port\":%d", local_port(fd));
		break;
	}
	case OP_UDP_UNBOUND:
		fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			ret = neg();
		else
			socks[s->s1].fd = fd;
		break;
	case OP_SENDTO: {
		struct sockaddr_in sa;
		socklen_t l = sizeof(sa);

		if (fd < 0 || sock_fd(s->s2) < 0) {
			ret = -EBADF;
			break;
		}
		if (getsockname(sock_fd(s->s2), (struct sockaddr *)&sa, &l) < 0) {
			ret = neg();
			break;
		}
		ret = sendto(fd, s->val.p ? (void *)s->val.p : (void *)"", s->val.n, (int)s->n[0],
			     (struct sockaddr *)&sa, l);
		if (ret < 0)
			ret = neg();
		break;
	}
	case OP_UDP_CONNECT:
		if (fd < 0 || sock_fd(s->s2) < 0) {
			ret = -EBADF;
			break;
		}
		ret = do_connect_inet(fd, sock_fd(s->s2), 0);
		break;
	case OP_UNIX_PAIR: {
		int sv[2];

		if (socketpair(AF_UNIX, (int)s->n[0] | SOCK_CLOEXEC, 0, sv) < 0) {
			ret = neg();
			break;
		}
		socks[s->s1].fd = sv[0];
		socks[s->s2].fd = sv[1];
		break;
	}
	case OP_SOCK_UPDATE:
	case OP_MAP_UPDATE: {
		uint8_t *kb = calloc(1, m->key_size + 8), *vb = calloc(1, m->value_size + 8);

		if (!kb || !vb) {
			ret = -ENOMEM;
		} else {
			if (s->key.n)
				memcpy(kb, s->key.p, s->key.n);
			if (s->op == OP_SOCK_UPDATE) {
				if (m->value_size == 8) {
					uint64_t v = (uint64_t)(int64_t)fd;

					memcpy(vb, &v, 8);
				} else {
					uint32_t v = (uint32_t)fd;

					memcpy(vb, &v, 4);
				}
			} else if (s->val.n) {
				memcpy(vb, s->val.p, s->val.n < m->value_size ? s->val.n : m->value_size);
			}
			a.map_fd = (uint32_t)m->fd;
			a.key = m->key_size ? ptr_u64(kb) : 0;
			a.value = ptr_u64(vb);
			a.flags = s->n[0];
			ret = sys_bpf(BPF_MAP_UPDATE_ELEM, &a) < 0 ? neg() : 0;
		}
		free(kb);
		free(vb);
		break;
	}
	case OP_MAP_DELETE:
	case OP_MAP_LOOKUP:
	case OP_MAP_NEXT: {
		size_t vs = m->value_size + 16;
		uint8_t *kb = calloc(1, m->key_size + 8), *vb = calloc(1, vs > m->key_size ? vs : m->key_size + 8);

		if (!kb || !vb) {
			ret = -ENOMEM;
			free(kb);
			free(vb);
			break;
		}
		if (s->key.n)
			memcpy(kb, s->key.p, s->key.n);
		a.map_fd = (uint32_t)m->fd;
		a.key = s->key_present && m->key_size ? ptr_u64(kb) : 0;
		if (s->op == OP_MAP_DELETE) {
			ret = sys_bpf(BPF_MAP_DELETE_ELEM, &a) < 0 ? neg() : 0;
		} else if (s->op == OP_MAP_LOOKUP) {
			a.value = ptr_u64(vb);
			ret = sys_bpf(BPF_MAP_LOOKUP_ELEM, &a) < 0 ? neg() : 0;
			if (ret == 0)
				out_data(vb, m->type == BPF_MAP_TYPE_SOCKMAP || m->type == BPF_MAP_TYPE_SOCKHASH
						     ? 8 : m->value_size);
		} else {
			a.next_key = ptr_u64(vb);
			ret = sys_bpf(BPF_MAP_GET_NEXT_KEY, &a) < 0 ? neg() : 0;
			if (ret == 0)
				out_data(vb, m->key_size);
		}
		free(kb);
		free(vb);
		break;
	}
	case OP_SEND:
		ret = send(fd, s->val.p ? (void *)s->val.p : (void *)"", s->val.n, (int)s->n[0]);
		if (ret < 0)
			ret = neg();
		break;
	case OP_SENDMSG: {
		size_t len = s->n[0], cnt = s->n[1], i, k = 0;
		struct iovec *iov = calloc(cnt ? cnt : 1, sizeof(*iov));
		uint8_t *buf = malloc(len * cnt > 0 ? len * cnt : 1);
		struct msghdr mh;

		if (!iov || !buf) {
			free(iov);
			free(buf);
			ret = -ENOMEM;
			break;
		}
		for (i = 0; i < len * cnt; i++)
			buf[i] = (uint8_t)k++;
		for (i = 0; i < cnt; i++) {
			iov[i].iov_base = buf + i * len;
			iov[i].iov_len = len;
		}
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = iov;
		mh.msg_iovlen = cnt;
		ret = sendmsg(fd, &mh, (int)s->n[2]);
		if (ret < 0)
			ret = neg();
		free(iov);
		free(buf);
		break;
	}
	case OP_SENDFILE: {
		size_t len = s->n[0];
		uint8_t *buf = pattern(len);
		int mfd = (int)syscall(SYS_memfd_create, "sockrun", 0);
		off_t off = 0;

		if (!buf || mfd < 0) {
			ret = buf ? neg() : -ENOMEM;
		} else if (write(mfd, buf, len) != (ssize_t)len) {
			ret = -EIO;
		} else {
			ret = sendfile(fd, mfd, &off, len);
			if (ret < 0)
				ret = neg();
		}
		if (mfd >= 0)
			close(mfd);
		free(buf);
		break;
	}
	case OP_RECV: {
		size_t max = s->n[0];
		uint8_t *buf = malloc(max ? max : 1);
		struct pollfd p = { fd, POLLIN, 0 };

		if (!buf) {
			ret = -ENOMEM;
			break;
		}
		if (fd >= 0 && s->n[2])
			poll(&p, 1, (int)s->n[2]);
		ret = recv(fd, buf, max, (int)s->n[1] | MSG_DONTWAIT);
		if (ret < 0)
			ret = neg();
		out_data(buf, ret > 0 ? (size_t)ret : 0);
		free(buf);
		break;
	}
	case OP_SHUTDOWN:
		ret = shutdown(fd, (int)s->n[0]) < 0 ? neg() : 0;
		break;
	case OP_CLOSE:
		if (fd < 0) {
			ret = -EBADF;
			break;
		}
		ret = close(fd) < 0 ? neg() : 0;
		socks[s->s1].closed = 1;
		break;
	case OP_SETSOCKOPT: {
		int level = (int)s->n[0], opt = (int)s->n[1], v = (int)s->n[2];

		if (level == SOL_SOCKET && (opt == SO_RCVTIMEO || opt == SO_SNDTIMEO)) {
			struct timeval tv = { v / 1000, (v % 1000) * 1000 };

			ret = setsockopt(fd, level, opt, &tv, sizeof(tv)) < 0 ? neg() : 0;
		} else {
			ret = setsockopt(fd, level, opt, &v, sizeof(v)) < 0 ? neg() : 0;
		}
		break;
	}
	case OP_GETSOCKOPT: {
		int v = 0;
		socklen_t l = sizeof(v);

		ret = getsockopt(fd, (int)s->n[0], (int)s->n[1], &v, &l) < 0 ? neg() : v;
		break;
	}
	case OP_FIONREAD: {
		int v = 0;

		ret = ioctl(fd, FIONREAD, &v) < 0 ? neg() : v;
		break;
	}
	case OP_COOKIE: {
		uint64_t c = 0;
		socklen_t l = sizeof(c);

		ret = getsockopt(fd, SOL_SOCKET, SO_COOKIE, &c, &l) < 0 ? neg() : 0;
		if (ret == 0)
			out_data((uint8_t *)&c, 8);
		break;
	}
	case OP_RUNCNT: {
		int ok;

		ret = prog_runcnt(progs[s->prog].fd, &ok);
		break;
	}
	case OP_SLEEP:
		sleep_ms((unsigned)s->n[0]);
		break;
	}
	fprintf(out, ",\"ret\":%ld}", ret);
}

/* ---- final report ------------------------------------------------------- */

static void drain(void)
{
	struct timespec t0;
	long last_progress = 0;
	uint8_t *buf = malloc(65536);
	int i;

	if (!buf)
		return;
	for (i = 0; i < nsocks; i++) {
		struct sock *k = &socks[i];
		int fd = sock_fd(i);
		socklen_t l = sizeof(k->soerr);

		k->done = fd < 0 || k->kind == SK_LISTEN;
		if (fd >= 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &k->soerr, &l) < 0)
			k->soerr = -errno;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		int progress = 0;

		for (i = 0; i < nsocks; i++) {
			struct sock *k = &socks[i];

			while (!k->done) {
				ssize_t r = recv(k->fd, buf, 65536, MSG_DONTWAIT);

				if (r > 0) {
					size_t room = MAX_DRAIN - k->n;
					size_t take = (size_t)r < room ? (size_t)r : room;
					uint8_t *nd = realloc(k->data, k->n + take + 1);

					if (!nd) {
						k->done = 1;
						break;
					}
					k->data = nd;
					memcpy(k->data + k->n, buf, take);
					k->n += take;
					if (k->nchunks < MAX_CHUNKS)
						k->chunks[k->nchunks++] = (uint32_t)r;
					else
						k->chunks_trunc = 1;
					progress = 1;
					if (k->n >= MAX_DRAIN)
						k->done = 1;
				} else if (r == 0) {
					/* UDP/unix dgram: a zero-length datagram
					 * also reads as 0; treat it as EOF too. */
					k->eof = 1;
					k->done = 1;
				} else {
					if (errno != EAGAIN && errno != EWOULDBLOCK) {
						k->rerr = errno;
						k->done = 1;
					}
					break;
				}
			}
		}
		if (progress)
			last_progress = ms_since(&t0);
		if (ms_since(&t0) >= (long)drain_ms || ms_since(&t0) - last_progress >= 50)
			break;
		sleep_ms(5);
	}
	free(buf);
}

static int cookie_owner(uint64_t cookie)
{
	int i;

	for (i = 0; i < nsocks; i++) {
		uint64_t c = 0;
		socklen_t l = sizeof(c);
		int fd = sock_fd(i);

		if (fd >= 0 && getsockopt(fd, SOL_SOCKET, SO_COOKIE, &c, &l) == 0 && c == cookie)
			return i;
	}
	return -1;
}

static void dump_map(struct mapdef *m)
{
	size_t ks = m->key_size, vs = m->value_size;
	uint8_t *cur = calloc(1, ks + 8), *next = calloc(1, ks + 8), *val = calloc(1, vs + 16);
	int sockmap = m->type == BPF_MAP_TYPE_SOCKMAP || m->type == BPF_MAP_TYPE_SOCKHASH;
	unsigned count = 0, steps_ = 0;
	int have_cur = 0, lookup_errno = 0;

	fputs(sockmap ? "{\"socks\":[" : "{\"entries\":[", out);
	if (!cur || !next || !val || ks == 0)
		goto done;
	while (count < 100000 && steps_ <= m->max_entries + 1) {
		union bpf_attr a;

		steps_++;
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
		if (sys_bpf(BPF_MAP_LOOKUP_ELEM, &a) < 0) {
			if (errno != ENOENT && !lookup_errno)
				lookup_errno = errno;
			continue;
		}
		if (count)
			fputc(',', out);
		fputs("[\"", out);
		put_hex(out, cur, ks);
		fputs("\",", out);
		if (sockmap) {
			uint64_t c;
			int owner;

			memcpy(&c, val, 8);
			owner = cookie_owner(c);
			if (owner >= 0)
				put_json_string(out, socks[owner].name);
			else
				fputs("null", out);
		} else {
			fputc('"', out);
			put_hex(out, val, vs);
			fputc('"', out);
		}
		fputc(']', out);
		count++;
	}
done:
	fputc(']', out);
	if (sockmap)
		fprintf(out, ",\"lookupErrno\":%d", lookup_errno);
	fputc('}', out);
	free(cur);
	free(next);
	free(val);
}

/*
 * NETNS: run in a fresh network namespace with its own loopback, so that
 * scenarios on fixed ports (test_sockmap's 10000/10001) cannot collide with
 * other helpers running at the same time.  On failure the scenario runs in
 * the helper's namespace and "netns" says why.
 */
static void netns_setup(void)
{
	struct ifreq ifr;
	int fd;

	if (syscall(SYS_unshare, 0x40000000 /* CLONE_NEWNET */) != 0) {
		snprintf(netns_reason, sizeof(netns_reason), "unshare(CLONE_NEWNET): %s", strerror(errno));
		return;
	}
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
		snprintf(netns_reason, sizeof(netns_reason), "lo flags: %s", strerror(errno));
	} else {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
			snprintf(netns_reason, sizeof(netns_reason), "lo up: %s", strerror(errno));
		else {
			netns_ok = 1;
			snprintf(netns_reason, sizeof(netns_reason), "private network namespace");
		}
	}
	if (fd >= 0)
		close(fd);
}

static void report(void)
{
	int i, j;

	drain();
	fputs("],\"sockets\":[", out);
	for (i = 0; i < nsocks; i++) {
		struct sock *k = &socks[i];

		if (i)
			fputc(',', out);
		fputs("{\"name\":", out);
		put_json_string(out, k->name);
		fprintf(out, ",\"open\":%s", sock_fd(i) >= 0 ? "true" : "false");
		out_data(k->data, k->n);
		fputs(",\"chunks\":[", out);
		for (j = 0; j < k->nchunks; j++)
			fprintf(out, "%s%u", j ? "," : "", k->chunks[j]);
		fprintf(out, "],\"chunksTruncated\":%s,\"eof\":%s,\"recvErrno\":%d,\"soError\":%d}",
			k->chunks_trunc ? "true" : "false", k->eof ? "true" : "false", k->rerr, k->soerr);
	}
	fputs("],\"progs\":[", out);
	for (i = 0; i < nprogs; i++) {
		int ok;
		long rc = prog_runcnt(progs[i].fd, &ok);

		fprintf(out, "%s{\"runCnt\":%ld}", i ? "," : "", rc);
	}
	fputs("],\"maps\":[", out);
	for (i = 0; i < nmaps; i++) {
		if (i)
			fputc(',', out);
		dump_map(&maps[i]);
	}
	fputc(']', out);
}

int main(void)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int i, r = 0, stats_fd = -1;
	struct sigaction sa;

	signal(SIGPIPE, SIG_IGN);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	alarm(timeout_s);

	elems = calloc(MAX_ELEMS, sizeof(*elems));
	steps = calloc(MAX_STEPS, sizeof(*steps));
	if (!elems || !steps) {
		emit_error("out of memory", -1);
		return 1;
	}
	while ((len = getline(&line, &cap, stdin)) >= 0) {
		lineno++;
		if ((size_t)len > MAX_LINE) {
			fail("line longer than %u bytes", MAX_LINE);
			break;
		}
		r = parse_line(line);
		if (r)
			break;
	}
	free(line);
	if (r < 0 || parse_err[0]) {
		emit_error(parse_err[0] ? parse_err : "parse error", -1);
		return 1;
	}
	/* re-arm with the scenario's own timeout */
	alarm(timeout_s);

	out = open_memstream(&outbuf, &outlen);
	if (!out) {
		emit_error("open_memstream failed", -1);
		return 1;
	}
	{
		union bpf_attr a;

		memset(&a, 0, sizeof(a));
		a.enable_stats.type = BPF_STATS_RUN_TIME;
		stats_fd = (int)sys_bpf(BPF_ENABLE_STATS, &a);
	}
	if (want_netns)
		netns_setup();
	if (setup() == 0) {
		if (want_cgroup)
			cg_setup();
		fprintf(out, "{\"ok\":true,\"statsEnabled\":%s", stats_fd >= 0 ? "true" : "false");
		if (want_cgroup) {
			fprintf(out, ",\"cgroup\":{\"ok\":%s,\"reason\":", cg_ok ? "true" : "false");
			put_json_string(out, cg_reason);
			fputc('}', out);
		}
		if (want_netns) {
			fprintf(out, ",\"netns\":{\"ok\":%s,\"reason\":", netns_ok ? "true" : "false");
			put_json_string(out, netns_reason);
			fputc('}', out);
		}
		fputs(",\"steps\":[", out);
		for (i = 0; i < nsteps; i++) {
			cur_step = i;
			if (i)
				fputc(',', out);
			run_step(&steps[i]);
		}
		cur_step = nsteps;
		report();
		fputc('}', out);
	}
	fclose(out);
	alarm(0);

	for (i = 0; i < nsocks; i++)
		if (sock_fd(i) >= 0)
			close(socks[i].fd);
	for (i = 0; i < nlinks; i++)
		close(links[i]);
	for (i = 0; i < nprogs; i++)
		if (progs[i].fd >= 0)
			close(progs[i].fd);
	for (i = 0; i < nmaps; i++)
		if (maps[i].fd >= 0)
			close(maps[i].fd);
	if (cg_fd >= 0)
		close(cg_fd);
	cg_restore_async();
	if (stats_fd >= 0)
		close(stats_fd);

	fwrite(outbuf, 1, outlen, stdout);
	fputc('\n', stdout);
	fflush(stdout);
	free(outbuf);
	return 0;
}
