/*
 * mailctl queue shape: the queue's distribution by domain and age, as
 * Postfix's qshape(1) shows it. One row per recipient domain (or sender
 * domain with --sender), busiest first after a TOTAL row; columns count
 * the recipients still waiting (not yet delivered or bounced) by the age
 * of their message: T (all), then buckets of 5, 10, 20, ... minutes, each
 * twice the last, and the last bucket's "+" for anything older. With
 * --sender each message counts once, under its sender's domain
 * (MAILER-DAEMON for the null sender). --parent adds a ".parent" row per
 * parent domain summing its subdomains. The queues read are incoming and
 * active unless named (incoming, active, deferred, hold), as qshape.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mail/queue_scan.h"
#include "mailctl/queue.h"
#include "server/program.h"
#include "util/alloc.h"
#include "util/json.h"
#include "util/str.h"

#define SHAPE_MAX_BUCKETS 20

struct shape_row {
	char *domain;
	long counts[SHAPE_MAX_BUCKETS + 2]; /* [0] total, then the buckets */
};

struct shape {
	struct shape_row *rows; /* rows[0] is TOTAL */
	size_t count, cap;
	int buckets;        /* age buckets, the last open-ended */
	int bucket_minutes; /* the first bucket's width */
};

static struct shape_row *row_for(struct shape *sh, const char *domain)
{
	for (size_t i = 0; i < sh->count; i++)
		if (strcmp(sh->rows[i].domain, domain) == 0)
			return &sh->rows[i];
	if (sh->count == sh->cap) {
		sh->cap = sh->cap ? sh->cap * 2 : 64;
		sh->rows = xreallocarray(sh->rows, sh->cap, sizeof(*sh->rows));
	}
	struct shape_row *r = &sh->rows[sh->count++];
	memset(r, 0, sizeof(*r));
	r->domain = xstrdup(domain);
	return r;
}

/* The bucket (1..buckets) of an age in minutes: 1 holds ages under the
 * first width, each next one up to twice the last bound. */
static int bucket_of(const struct shape *sh, double minutes)
{
	double bound = sh->bucket_minutes;
	for (int b = 1; b < sh->buckets; b++) {
		if (minutes < bound)
			return b;
		bound *= 2;
	}
	return sh->buckets;
}

static void count(struct shape *sh, const char *domain, int bucket, bool parents)
{
	struct shape_row *rows[2] = {&sh->rows[0], row_for(sh, domain)};
	for (int i = 0; i < 2; i++) {
		rows[i]->counts[0]++;
		rows[i]->counts[bucket]++;
	}
	if (!parents)
		return;
	for (const char *dot = strchr(domain, '.'); dot != NULL && strchr(dot + 1, '.') != NULL;
	     dot = strchr(dot + 1, '.')) {
		struct shape_row *r = row_for(sh, dot);
		r->counts[0]++;
		r->counts[bucket]++;
	}
}

static char *domain_of(const char *address)
{
	const char *at = strrchr(address, '@');
	return str_lower_dup(at != NULL && at[1] != '\0' ? at + 1 : "(no domain)");
}

static bool waiting(const struct queue_scan_entry *e, size_t i)
{
	return e->states == NULL ||
	       (strcmp(e->states[i], "delivered") != 0 && strcmp(e->states[i], "bounced") != 0);
}

static void add_entry(struct shape *sh, const struct queue_scan_entry *e, time_t now,
                      bool by_sender, bool parents)
{
	double minutes = e->env.arrival > 0 && now > e->env.arrival
	                     ? (double)(now - e->env.arrival) / 60.0
	                     : 0.0;
	int bucket = bucket_of(sh, minutes);
	if (by_sender) {
		char *domain = e->env.sender == NULL || *e->env.sender == '\0'
		                   ? xstrdup("MAILER-DAEMON")
		                   : domain_of(e->env.sender);
		count(sh, domain, bucket, parents);
		free(domain);
		return;
	}
	for (size_t i = 0; i < e->env.rcpt_count; i++) {
		if (!waiting(e, i))
			continue;
		char *domain = domain_of(e->env.rcpts[i].address);
		count(sh, domain, bucket, parents);
		free(domain);
	}
}

static int by_total(const void *a, const void *b)
{
	const struct shape_row *x = a, *y = b;
	if (x->counts[0] != y->counts[0])
		return x->counts[0] > y->counts[0] ? -1 : 1;
	return strcmp(x->domain, y->domain);
}

static void print_text(const struct shape *sh, size_t rows)
{
	int width = 5;
	for (size_t i = 0; i < rows; i++)
		if ((int)strlen(sh->rows[i].domain) > width)
			width = (int)strlen(sh->rows[i].domain);
	printf("%*s %5s", width, "", "T");
	long bound = sh->bucket_minutes;
	for (int b = 1; b < sh->buckets; b++, bound *= 2)
		printf(" %5ld", bound);
	printf(" %5ld+\n", bound / 2);
	for (size_t i = 0; i < rows; i++) {
		printf("%*s %5ld", width, sh->rows[i].domain, sh->rows[i].counts[0]);
		for (int b = 1; b <= sh->buckets; b++)
			printf(" %5ld", sh->rows[i].counts[b]);
		printf("\n");
	}
}

static void print_json(const struct shape *sh, size_t rows)
{
	struct str out = STR_INIT;
	str_append_cstr(&out, "{\"buckets\":[");
	long bound = sh->bucket_minutes;
	for (int b = 1; b <= sh->buckets; b++, bound *= 2)
		if (b < sh->buckets)
			str_printf(&out, "%s%ld", b > 1 ? "," : "", bound);
		else
			str_append_cstr(&out, b > 1 ? ",null" : "null");
	str_append_cstr(&out, "],\"rows\":[");
	for (size_t i = 0; i < rows; i++) {
		str_append_cstr(&out, i ? ",{\"domain\":" : "{\"domain\":");
		json_append_cstr(&out, sh->rows[i].domain);
		str_printf(&out, ",\"total\":%ld,\"counts\":[", sh->rows[i].counts[0]);
		for (int b = 1; b <= sh->buckets; b++)
			str_printf(&out, "%s%ld", b > 1 ? "," : "", sh->rows[i].counts[b]);
		str_append_cstr(&out, "]}");
	}
	str_append_cstr(&out, "]}\n");
	fputs(str_cstr(&out), stdout);
	str_free(&out);
}

static int shape_usage(void)
{
	mailctl_error("usage: mailctl queue shape [--sender] [--parent] [--top N] [--buckets N] "
	              "[--minutes N] [incoming|active|deferred|hold ...]");
	return 2;
}

/* A whole number in [min, max] from text, or -1. */
static long number(const char *text, long min, long max)
{
	char *end;
	long n = strtol(text, &end, 10);
	return *text != '\0' && *end == '\0' && n >= min && n <= max ? n : -1;
}

int cmd_queue_shape(struct mailctl *m, int argc, char **argv)
{
	bool by_sender = false, parents = false;
	long top = 0;
	struct shape sh = {.buckets = 10, .bucket_minutes = 5};
	const char *queues[5] = {NULL};
	size_t nqueues = 0;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--sender") == 0) {
			by_sender = true;
		} else if (strcmp(a, "--parent") == 0) {
			parents = true;
		} else if (strcmp(a, "--top") == 0 || strcmp(a, "--buckets") == 0 ||
		           strcmp(a, "--minutes") == 0) {
			long max = a[2] == 't' ? 100000 : a[2] == 'b' ? SHAPE_MAX_BUCKETS : 100000;
			long n = i + 1 < argc ? number(argv[i + 1], 1, max) : -1;
			if (n < 0) {
				mailctl_error("queue shape: %s wants a number from 1 to %ld", a,
				              max);
				return 2;
			}
			if (a[2] == 't')
				top = n;
			else if (a[2] == 'b')
				sh.buckets = (int)n;
			else
				sh.bucket_minutes = (int)n;
			i++;
		} else if (strcmp(a, "incoming") == 0 || strcmp(a, "active") == 0 ||
		           strcmp(a, "deferred") == 0 || strcmp(a, "hold") == 0) {
			if (nqueues < 4)
				queues[nqueues++] = a;
		} else {
			mailctl_error("queue shape: unknown argument \"%s\"", a);
			return shape_usage();
		}
	}
	if (nqueues == 0) {
		queues[nqueues++] = "incoming";
		queues[nqueues++] = "active";
	}
	struct conf *conf = program_load_conf(m->config_dir);
	const char *queue_dir = conf_get(conf, "queue_directory");
	struct queue_scan list = {0};
	const char *error;
	int rc = 0;
	if (queue_scan_load(queue_dir, &list, &error) != 0) {
		mailctl_error("queue shape: %s", error);
		rc = 1;
	} else {
		row_for(&sh, "TOTAL");
		time_t now = time(NULL);
		for (size_t i = 0; i < list.count; i++) {
			const struct queue_scan_entry *e = &list.items[i];
			bool wanted = false;
			for (size_t q = 0; q < nqueues; q++)
				wanted = wanted || strcmp(e->queue, queues[q]) == 0;
			if (wanted && e->error == NULL)
				add_entry(&sh, e, now, by_sender, parents);
		}
		qsort(sh.rows + 1, sh.count - 1, sizeof(*sh.rows), by_total);
		size_t rows = top > 0 && (size_t)top + 1 < sh.count ? (size_t)top + 1 : sh.count;
		if (m->json)
			print_json(&sh, rows);
		else
			print_text(&sh, rows);
	}
	for (size_t i = 0; i < sh.count; i++)
		free(sh.rows[i].domain);
	free(sh.rows);
	queue_scan_free(&list);
	conf_free(conf);
	return rc;
}
