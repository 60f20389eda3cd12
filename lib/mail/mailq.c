/*
 * Postfix's mailq format for a queue scan (see mailq.h).
 */
#include "mail/mailq.h"

#include <string.h>
#include <time.h>

void mailq_format(const struct queue_scan *list, struct str *out)
{
	size_t requests = 0;
	long long bytes = 0;
	for (size_t i = 0; i < list->count; i++) {
		const struct queue_scan_entry *e = &list->items[i];
		if (e->error)
			continue;
		if (requests++ == 0)
			str_printf(out, "%-11s %8s %-20s %s\n", "-Queue ID-", "--Size--",
			           "----Arrival Time----", "-Sender/Recipient-------");
		char when[32] = "";
		time_t t = (time_t)e->env.arrival;
		struct tm tm;
		if (localtime_r(&t, &tm) != NULL)
			strftime(when, sizeof(when), "%a %b %e %H:%M:%S", &tm);
		char mark = strcmp(e->queue, "active") == 0 ? '*'
		            : strcmp(e->queue, "hold") == 0 ? '!'
		                                            : ' ';
		str_printf(out, "%s%c %8lld %-20.20s ", e->name, mark, (long long)e->env.size,
		           when);
		queue_scan_append_text(out, *e->env.sender ? e->env.sender : "MAILER-DAEMON");
		str_append_char(out, '\n');
		const char *last_reason = NULL;
		for (size_t r = 0; r < e->env.rcpt_count; r++) {
			const struct rcpt_result *res = &e->results[r];
			if (res->state == RCPT_DELIVERED || res->state == RCPT_BOUNCED)
				continue;
			const char *reason = res->state == RCPT_DEFERRED ? res->reason : NULL;
			if (reason && (last_reason == NULL || strcmp(reason, last_reason) != 0)) {
				str_append_char(out, '(');
				queue_scan_append_text(out, reason);
				str_append_cstr(out, ")\n");
			}
			last_reason = reason;
			str_printf(out, "%41s", "");
			queue_scan_append_text(out, e->env.rcpts[r].address);
			str_append_char(out, '\n');
		}
		str_append_char(out, '\n');
		bytes += e->env.size;
	}
	if (requests == 0)
		str_append_cstr(out, "Mail queue is empty\n");
	else
		str_printf(out, "-- %lld Kbytes in %zu Request%s.\n", (bytes + 1023) / 1024,
		           requests, requests == 1 ? "" : "s");
}
