/*
 * Per-client event rates across all smtpd processes, as Postfix's anvil
 * rate limits (smtpd_client_connection_rate_limit, ..._message_rate_limit,
 * ..._recipient_rate_limit, ..._auth_rate_limit, ..._new_tls_session_rate_limit),
 * without a helper service: every smtpd maps
 * the file $data_directory/smtpd-rates, a table of sets of counters, each
 * set chosen by a hash of the service name and client address (a client
 * is counted per service, as with anvil) and holding a few clients. A set
 * is locked (an fcntl byte-range lock, gone with the process) while it is
 * updated. A client's counts start over once anvil_rate_time_unit has
 * passed since the first event counted, as anvil's do; when a set is
 * full, the client whose counting began longest ago gives way.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "smtpd/smtpd.h"
#include "util/alloc.h"
#include "util/log.h"

#define RATE_SETS 16384u
#define RATE_WAYS 4u

struct rate_entry {
	uint64_t key;         /* hash of the address; 0: free */
	int64_t window_start; /* seconds (CLOCK_REALTIME, shared by processes) */
	uint32_t count[CLIENT_EVENT_KINDS];
};

struct rate_set {
	struct rate_entry way[RATE_WAYS];
};

#define RATE_FILE_SIZE ((off_t)RATE_SETS * (off_t)sizeof(struct rate_set))

static int rate_fd = -1;
static struct rate_set *sets;
static bool unusable; /* warned once; rates are not counted */

/* As anvil, a client is counted per service: "service/address". */
static uint64_t hash_client(const char *service, const char *addr)
{
	uint64_t h = 14695981039346656037ull; /* FNV-1a, 64 bits */
	const char *parts[] = {service, "/", addr};
	for (size_t i = 0; i < 3; i++)
		for (const unsigned char *p = (const unsigned char *)parts[i]; *p; p++) {
			h ^= *p;
			h *= 1099511628211ull;
		}
	return h ? h : 1;
}

static bool open_table(const struct smtpd_settings *cfg)
{
	if (sets != NULL)
		return true;
	if (unusable)
		return false;
	char *path = xasprintf("%s/smtpd-rates", cfg->data_dir);
	rate_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	struct stat st;
	bool ok = rate_fd >= 0 && fstat(rate_fd, &st) == 0 &&
	          (st.st_size >= RATE_FILE_SIZE || ftruncate(rate_fd, RATE_FILE_SIZE) == 0);
	if (ok) {
		void *map = mmap(NULL, (size_t)RATE_FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		                 rate_fd, 0);
		if (map != MAP_FAILED)
			sets = map;
	}
	if (sets == NULL) {
		log_warn("%s: %m; client rate limits are not enforced", path);
		if (rate_fd >= 0)
			close(rate_fd);
		rate_fd = -1;
		unusable = true;
	}
	free(path);
	return sets != NULL;
}

static bool lock_set(size_t index, short type)
{
	struct flock fl = {.l_type = type,
	                   .l_whence = SEEK_SET,
	                   .l_start = (off_t)(index * sizeof(struct rate_set)),
	                   .l_len = (off_t)sizeof(struct rate_set)};
	while (fcntl(rate_fd, F_SETLKW, &fl) != 0)
		if (errno != EINTR)
			return false;
	return true;
}

/* The client's count of event in this time unit, after adding add (0 or 1). */
static long long rate_update(const struct smtpd_settings *cfg, const char *addr,
                             enum client_event event, uint32_t add)
{
	if (cidr_list_match(cfg->event_limit_exceptions, addr) || !open_table(cfg))
		return 0;
	uint64_t key = hash_client(cfg->service_name, addr);
	size_t index = (size_t)(key % RATE_SETS);
	if (!lock_set(index, F_WRLCK))
		return 0;
	struct rate_set *set = &sets[index];
	int64_t now = (int64_t)time(NULL);
	int64_t unit = cfg->rate_time_unit > 0 ? cfg->rate_time_unit : 60;
	struct rate_entry *e = NULL, *oldest = &set->way[0];
	for (size_t i = 0; i < RATE_WAYS && e == NULL; i++) {
		if (set->way[i].key == key)
			e = &set->way[i];
		else if (set->way[i].window_start < oldest->window_start)
			oldest = &set->way[i];
	}
	if (e == NULL) {
		e = oldest; /* the client seen longest ago gives way */
		memset(e, 0, sizeof(*e));
		e->key = key;
		e->window_start = now;
	}
	if (now - e->window_start >= unit || now < e->window_start) {
		memset(e->count, 0, sizeof(e->count));
		e->window_start = now;
	}
	if (e->count[event] <= UINT32_MAX - add)
		e->count[event] += add;
	long long count = e->count[event];
	lock_set(index, F_UNLCK);
	return count;
}

long long client_rate_count(const struct smtpd_settings *cfg, const char *addr,
                            enum client_event event)
{
	return rate_update(cfg, addr, event, 1);
}

long long client_rate_peek(const struct smtpd_settings *cfg, const char *addr,
                           enum client_event event)
{
	return rate_update(cfg, addr, event, 0);
}

bool newtls_rate_exceeded(struct session *s)
{
	const struct smtpd_settings *cfg = s->cfg;
	if (cfg->newtls_rate_limit <= 0)
		return false;
	long long rate = client_rate_peek(cfg, s->client_addr, CLIENT_EVENT_NEWTLS);
	if (rate < cfg->newtls_rate_limit)
		return false;
	log_warn("New TLS session rate limit exceeded: %lld from %s for service %s", rate,
	         session_client(s), cfg->service_name);
	return true;
}

void newtls_handshake_done(struct session *s)
{
	if (s->cfg->newtls_rate_limit > 0 && !tls_session_reused(s->tls))
		client_rate_count(s->cfg, s->client_addr, CLIENT_EVENT_NEWTLS);
}

bool client_rate_refused(struct session *s, enum client_event event, long long limit)
{
	static const struct {
		const char *reply; /* "Error: too ... from ADDR" */
		const char *what;  /* "... rate limit exceeded" */
	} words[CLIENT_EVENT_KINDS] = {
	    [CLIENT_EVENT_CONNECT] = {"many connections", "Connection"},
	    [CLIENT_EVENT_MESSAGE] = {"much mail", "Message delivery request"},
	    [CLIENT_EVENT_RECIPIENT] = {"many recipients", "Recipient address"},
	    [CLIENT_EVENT_AUTH] = {"many AUTH commands", "AUTH command"},
	    [CLIENT_EVENT_NEWTLS] = {"many new TLS sessions", "New TLS session"},
	};
	if (limit <= 0)
		return false;
	long long rate = client_rate_count(s->cfg, s->client_addr, event);
	if (rate <= limit)
		return false;
	reply(s, 450, "4.7.1", "Error: too %s from %s", words[event].reply, s->client_addr);
	log_warn("%s rate limit exceeded: %lld from %s for service %s", words[event].what, rate,
	         session_client(s), s->cfg->service_name);
	return true;
}
