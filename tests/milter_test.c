/*
 * A test filter built on libmilter (not part of Postern): it writes every
 * event it sees, with its macros, to a log file, and does what the mail
 * tells it to, so that tests/test_milter.py can exercise every event,
 * reply and modification of the milter protocol:
 *   HELO helo-reject            reject HELO
 *   MAIL FROM mail-reject@...   reject; mail-tempfail, mail-replycode
 *                               (multi-line 550), mail-discard, mail-accept,
 *                               data-reject (reject at DATA)
 *   RCPT TO rcpt-reject@...     550 5.1.1; rcpt-tempfail@...
 *   X-Test-Action: a, b, ...    at end of message, in order: addheader,
 *     insheader, chgheader, delheader, foldheader, addrcpt, addrcpt_par,
 *     delrcpt, replbody, chgfrom, quarantine, progress; then a final
 *     reply: reject, tempfail, discard, replycode, accept (default
 *     continue). "skip" answers the first body chunk with SKIP.
 * Options: -s socket (unix:/path or inet:port@host), -l log file,
 * -n  ask for no replies to every event that allows it (SMFIP_NR_*)
 *     and only watch (no edits, no refusals),
 * -x  skip the connect and HELO events (SMFIP_NOCONNECT, SMFIP_NOHELO),
 * -m  ask for its own connect macro list (SMFIF_SETSYMLIST),
 * -r  ask for the recipients the MTA rejected too (SMFIP_RCPT_REJ).
 */
#include <libmilter/mfapi.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static const char *log_path;
static int no_reply, skip_steps, own_macros, rcpt_rej;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

struct priv {
	char action[1024];
	size_t body_bytes;
	int body_chunks;
};

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void logf_(const char *fmt, ...)
{
	char line[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One event per line: escape line ends. */
	char out[16384];
	size_t o = 0;
	for (const char *p = line; *p && o + 3 < sizeof(out); p++) {
		if (*p == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else if (*p == '\r') {
			out[o++] = '\\';
			out[o++] = 'r';
		} else {
			out[o++] = *p;
		}
	}
	out[o++] = '\n';
	pthread_mutex_lock(&log_lock);
	FILE *f = fopen(log_path, "a");
	if (f) {
		fwrite(out, 1, o, f);
		fclose(f);
	}
	pthread_mutex_unlock(&log_lock);
}

static struct priv *priv(SMFICTX *ctx)
{
	struct priv *p = smfi_getpriv(ctx);
	if (p == NULL) {
		p = calloc(1, sizeof(*p));
		smfi_setpriv(ctx, p);
	}
	return p;
}

static void log_macros(SMFICTX *ctx, const char *stage, const char *const *names)
{
	for (size_t i = 0; names[i]; i++) {
		char *v = smfi_getsymval(ctx, (char *)names[i]);
		if (v)
			logf_("%s macro %s=%s", stage, names[i], v);
	}
}

static sfsistat nr(sfsistat s)
{
	return no_reply ? SMFIS_NOREPLY : s;
}

static sfsistat on_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *sa)
{
	(void)sa;
	priv(ctx);
	logf_("connect %s", host);
	static const char *const names[] = {"j", "{daemon_name}", "{daemon_addr}", "v",
	                                    "_", "{client_addr}", "{client_port}", "{client_name}",
	                                    NULL};
	log_macros(ctx, "connect", names);
	return nr(SMFIS_CONTINUE);
}

static sfsistat on_helo(SMFICTX *ctx, char *helo)
{
	static const char *const names[] = {"{tls_version}", "{cert_subject}", "{cert_issuer}",
	                                    NULL};
	logf_("helo %s", helo);
	log_macros(ctx, "helo", names);
	if (strcmp(helo, "helo-reject") == 0 && !no_reply)
		return SMFIS_REJECT;
	return nr(SMFIS_CONTINUE);
}

static sfsistat on_envfrom(SMFICTX *ctx, char **argv)
{
	struct priv *p = priv(ctx);
	memset(p, 0, sizeof(*p));
	char line[4096] = "envfrom";
	for (size_t i = 0; argv[i]; i++) {
		strncat(line, " ", sizeof(line) - strlen(line) - 1);
		strncat(line, argv[i], sizeof(line) - strlen(line) - 1);
	}
	logf_("%s", line);
	static const char *const names[] = {"i",
	                                    "{mail_addr}",
	                                    "{auth_authen}",
	                                    "{auth_type}",
	                                    "{auth_author}",
	                                    "{mail_mailer}",
	                                    "{mail_host}",
	                                    NULL};
	log_macros(ctx, "envfrom", names);
	if (no_reply)
		return SMFIS_NOREPLY;
	const char *a = argv[0];
	if (strncmp(a, "<mail-reject@", 13) == 0)
		return SMFIS_REJECT;
	if (strncmp(a, "<mail-tempfail@", 15) == 0)
		return SMFIS_TEMPFAIL;
	if (strncmp(a, "<mail-replycode@", 16) == 0) {
		smfi_setmlreply(ctx, "550", "5.7.1", "Sender refused,", "second line", NULL);
		return SMFIS_REJECT;
	}
	if (strncmp(a, "<mail-discard@", 14) == 0)
		return SMFIS_DISCARD;
	if (strncmp(a, "<mail-accept@", 13) == 0)
		return SMFIS_ACCEPT;
	if (strncmp(a, "<data-reject@", 13) == 0)
		snprintf(p->action, sizeof(p->action), "data-reject");
	return SMFIS_CONTINUE;
}

static sfsistat on_envrcpt(SMFICTX *ctx, char **argv)
{
	char line[4096] = "envrcpt";
	for (size_t i = 0; argv[i]; i++) {
		strncat(line, " ", sizeof(line) - strlen(line) - 1);
		strncat(line, argv[i], sizeof(line) - strlen(line) - 1);
	}
	logf_("%s", line);
	static const char *const names[] = {"{rcpt_addr}", "{rcpt_mailer}", "{rcpt_host}", NULL};
	log_macros(ctx, "envrcpt", names);
	if (no_reply)
		return SMFIS_NOREPLY;
	if (strncmp(argv[0], "<rcpt-reject@", 13) == 0) {
		smfi_setreply(ctx, "550", "5.1.1", "No such user here");
		return SMFIS_REJECT;
	}
	if (strncmp(argv[0], "<rcpt-tempfail@", 15) == 0)
		return SMFIS_TEMPFAIL;
	return SMFIS_CONTINUE;
}

static sfsistat on_data(SMFICTX *ctx)
{
	logf_("data");
	static const char *const names[] = {"i", NULL};
	log_macros(ctx, "data", names);
	if (strcmp(priv(ctx)->action, "data-reject") == 0 && !no_reply)
		return SMFIS_REJECT;
	return nr(SMFIS_CONTINUE);
}

static sfsistat on_unknown(SMFICTX *ctx, const char *cmd)
{
	(void)ctx;
	logf_("unknown %s", cmd);
	return nr(SMFIS_CONTINUE);
}

static sfsistat on_header(SMFICTX *ctx, char *name, char *value)
{
	logf_("header %s: %s", name, value);
	if (strcasecmp(name, "X-Test-Action") == 0)
		snprintf(priv(ctx)->action, sizeof(priv(ctx)->action), "%s", value);
	return nr(SMFIS_CONTINUE);
}

static sfsistat on_eoh(SMFICTX *ctx)
{
	(void)ctx;
	logf_("eoh");
	return nr(SMFIS_CONTINUE);
}

static bool has(const char *list, const char *word)
{
	size_t n = strlen(word);
	for (const char *p = list; (p = strstr(p, word)) != NULL; p += n)
		if ((p == list || p[-1] == ' ' || p[-1] == ',') &&
		    (p[n] == '\0' || p[n] == ',' || p[n] == ' '))
			return true;
	return false;
}

static sfsistat on_body(SMFICTX *ctx, unsigned char *data, size_t len)
{
	(void)data;
	struct priv *p = priv(ctx);
	p->body_bytes += len;
	p->body_chunks++;
	logf_("body %zu", len);
	if (has(p->action, "skip") && !no_reply)
		return SMFIS_SKIP;
	return nr(SMFIS_CONTINUE);
}

static sfsistat on_eom(SMFICTX *ctx)
{
	struct priv *p = priv(ctx);
	logf_("eom body=%zu chunks=%d", p->body_bytes, p->body_chunks);
	static const char *const names[] = {"i", NULL};
	log_macros(ctx, "eom", names);
	if (no_reply)
		return SMFIS_CONTINUE; /* -n: an observer only */
	const char *a = p->action;
	if (has(a, "addheader"))
		smfi_addheader(ctx, "X-Added", "yes");
	if (has(a, "insheader"))
		smfi_insheader(ctx, 0, "X-Inserted-First", "top");
	if (has(a, "chgheader"))
		smfi_chgheader(ctx, "Subject", 1, "changed subject");
	if (has(a, "delheader"))
		smfi_chgheader(ctx, "X-Delete-Me", 1, NULL);
	if (has(a, "foldheader"))
		smfi_addheader(ctx, "X-Folded", "first line\n\tsecond line");
	if (has(a, "addrcpt"))
		smfi_addrcpt(ctx, "<added@example.test>");
	if (has(a, "addrcpt_par"))
		smfi_addrcpt_par(ctx, "<added-par@example.test>", "NOTIFY=NEVER");
	if (has(a, "delrcpt"))
		smfi_delrcpt(ctx, "<deleted@example.test>");
	if (has(a, "replbody")) {
		static char body[] = "Replaced body.\r\nSecond line.\r\n";
		smfi_replacebody(ctx, (unsigned char *)body, (int)strlen(body));
	}
	if (has(a, "chgfrom"))
		smfi_chgfrom(ctx, "<new-sender@example.test>", "RET=HDRS");
	if (has(a, "quarantine"))
		smfi_quarantine(ctx, "test quarantine reason");
	if (has(a, "progress")) {
		for (int i = 0; i < 3; i++) {
			smfi_progress(ctx);
			sleep(1);
		}
	}
	if (has(a, "reject"))
		return SMFIS_REJECT;
	if (has(a, "tempfail"))
		return SMFIS_TEMPFAIL;
	if (has(a, "discard"))
		return SMFIS_DISCARD;
	if (has(a, "replycode")) {
		smfi_setmlreply(ctx, "554", "5.7.1", "Message refused,", "for a test", NULL);
		return SMFIS_REJECT;
	}
	if (has(a, "accept"))
		return SMFIS_ACCEPT;
	return SMFIS_CONTINUE;
}

static sfsistat on_abort(SMFICTX *ctx)
{
	(void)ctx;
	logf_("abort");
	return SMFIS_CONTINUE;
}

static sfsistat on_close(SMFICTX *ctx)
{
	logf_("close");
	free(smfi_getpriv(ctx));
	smfi_setpriv(ctx, NULL);
	return SMFIS_CONTINUE;
}

static sfsistat on_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2,
                             unsigned long f3, unsigned long *pf0, unsigned long *pf1,
                             unsigned long *pf2, unsigned long *pf3)
{
	(void)f2;
	(void)f3;
	logf_("negotiate actions=0x%lx protocol=0x%lx", f0, f1);
	*pf0 = f0; /* every action offered */
	unsigned long want = SMFIP_SKIP;
	if (no_reply)
		want |= SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_MAIL | SMFIP_NR_RCPT |
		        SMFIP_NR_DATA | SMFIP_NR_UNKN | SMFIP_NR_EOH | SMFIP_NR_BODY | SMFIP_NR_HDR;
	if (skip_steps)
		want |= SMFIP_NOCONNECT | SMFIP_NOHELO;
	if (rcpt_rej)
		want |= SMFIP_RCPT_REJ;
	*pf1 = want & f1;
	*pf2 = 0;
	*pf3 = 0;
	if (own_macros)
		smfi_setsymlist(ctx, SMFIM_CONNECT, "{client_addr} j");
	return SMFIS_CONTINUE;
}

int main(int argc, char **argv)
{
	const char *sock = NULL;
	int opt;
	while ((opt = getopt(argc, argv, "s:l:nxmr")) != -1) {
		switch (opt) {
		case 's':
			sock = optarg;
			break;
		case 'l':
			log_path = optarg;
			break;
		case 'n':
			no_reply = 1;
			break;
		case 'x':
			skip_steps = 1;
			break;
		case 'm':
			own_macros = 1;
			break;
		case 'r':
			rcpt_rej = 1;
			break;
		default:
			return 2;
		}
	}
	if (sock == NULL || log_path == NULL) {
		fprintf(stderr, "usage: milter_test -s socket -l logfile [-n] [-x] [-m] [-r]\n");
		return 2;
	}
	struct smfiDesc desc = {
	    .xxfi_name = "postern-test",
	    .xxfi_version = SMFI_VERSION,
	    .xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_CHGBODY | SMFIF_ADDRCPT |
	                  SMFIF_ADDRCPT_PAR | SMFIF_DELRCPT | SMFIF_QUARANTINE | SMFIF_CHGFROM |
	                  SMFIF_SETSYMLIST,
	    .xxfi_connect = on_connect,
	    .xxfi_helo = on_helo,
	    .xxfi_envfrom = on_envfrom,
	    .xxfi_envrcpt = on_envrcpt,
	    .xxfi_header = on_header,
	    .xxfi_eoh = on_eoh,
	    .xxfi_body = on_body,
	    .xxfi_eom = on_eom,
	    .xxfi_abort = on_abort,
	    .xxfi_close = on_close,
	    .xxfi_unknown = on_unknown,
	    .xxfi_data = on_data,
	    .xxfi_negotiate = on_negotiate,
	};
	if (smfi_setconn((char *)sock) == MI_FAILURE || smfi_register(desc) == MI_FAILURE) {
		fprintf(stderr, "milter_test: cannot set up\n");
		return 1;
	}
	smfi_opensocket(1);
	return smfi_main() == MI_SUCCESS ? 0 : 1;
}
