/*
 * master's TLS session ticket keys (lib/tls/tls_tickets.h): made at start,
 * replaced every smtpd_tls_session_cache_timeout with the previous key
 * kept, given to each network (inet) service process in its service record
 * and sent again to the running ones whenever they are replaced. With the
 * timeout 0 there are no keys, and servers make no tickets.
 */
#include <string.h>

#include "master/master.h"
#include "tls/tls_tickets.h"
#include "util/log.h"

/* How long master waits to write to a child's status socket. */
#define TICKET_SEND_TIMEOUT_MS 2000

static struct tls_ticket_keys keys;
static struct event_timer *rotate_timer;
static int64_t lifetime_ms;

static void add_keys(struct ipc_rec *rec)
{
	unsigned char data[TLS_TICKET_KEYS_MAX * TLS_TICKET_KEY_SIZE];
	size_t len = tls_ticket_keys_encode(&keys, data);
	ipc_rec_add_data(rec, "tls_ticket_keys", data, len);
	memset(data, 0, sizeof(data));
}

void tickets_add_to_service_record(const struct service *svc, struct ipc_rec *rec)
{
	if (svc->def.type == SERVICE_INET && keys.count > 0)
		add_keys(rec);
}

/* The running network service processes get the keys as they are now. */
static void send_to_children(void)
{
	for (struct service *svc = master.services; svc; svc = svc->next) {
		if (svc->def.type != SERVICE_INET)
			continue;
		for (struct child *c = svc->children; c; c = c->next) {
			if (c->retired || c->status_fd < 0)
				continue;
			struct ipc_rec *rec = ipc_rec_new("tls_keys");
			add_keys(rec);
			if (ipc_write(c->status_fd, rec, TICKET_SEND_TIMEOUT_MS) != 0)
				log_warn("service %s: pid %ld: cannot send TLS ticket keys: %m",
				         svc->label, (long)c->pid);
			ipc_rec_free(rec);
		}
	}
}

static void arm(void);

static void on_rotate(struct event_loop *loop, void *ctx)
{
	(void)loop;
	(void)ctx;
	rotate_timer = NULL;
	if (tls_ticket_keys_rotate(&keys, event_now_ms()) != 0)
		log_warn("TLS session ticket key: no random bytes (%m); the old key stays");
	else
		send_to_children();
	arm();
}

static void arm(void)
{
	if (rotate_timer)
		event_cancel_timer(master.loop, rotate_timer);
	rotate_timer = NULL;
	if (lifetime_ms <= 0)
		return;
	int64_t delay = keys.made_ms + lifetime_ms - event_now_ms();
	rotate_timer = event_add_timer(master.loop, delay > 0 ? delay : 0, on_rotate, NULL);
}

void tickets_configure(void)
{
	int64_t lifetime = (int64_t)conf_get_time(master.conf, "smtpd_tls_session_cache_timeout");
	if (lifetime <= 0) {
		if (keys.count > 0) {
			tls_ticket_keys_clear(&keys);
			send_to_children();
		}
		lifetime_ms = 0;
		arm();
		return;
	}
	lifetime_ms = lifetime * 1000;
	if (keys.count == 0) {
		if (tls_ticket_keys_rotate(&keys, event_now_ms()) != 0) {
			log_warn(
			    "TLS session ticket key: no random bytes (%m); no session tickets");
			lifetime_ms = 0;
		} else {
			send_to_children();
		}
	}
	arm();
}
