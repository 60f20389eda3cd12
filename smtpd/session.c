/*
 * smtpd's session: the connection from accept to close (the PROXY
 * header, wrapper-mode TLS, the connection limits, the greeting pause,
 * the greeting), the command loop with pipelining, the dispatch of each
 * command with its counters and the junk command limit, HELP, and the
 * disconnect log line. Replies and the per-session log lines are in
 * reply.c; HELO/EHLO in ehlo.c, STARTTLS in starttls.c, MAIL, RCPT and
 * VRFY in transaction.c, DATA/BDAT in data.c, AUTH in auth.c, XFORWARD
 * in xforward.c.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "smtp/smtp_command.h"
#include "smtpd/smtpd.h"
#include "util/log.h"
#include "util/sock.h"

static const char *const count_names[] = {"helo", "ehlo", "starttls", "xforward", "auth",
                                          "mail", "rcpt", "data",     "bdat",     "rset",
                                          "noop", "vrfy", "help",     "quit",     "unknown"};
enum {
	C_HELO,
	C_EHLO,
	C_STARTTLS,
	C_XFORWARD,
	C_AUTH,
	C_MAIL,
	C_RCPT,
	C_DATA,
	C_BDAT,
	C_RSET,
	C_NOOP,
	C_VRFY,
	C_HELP,
	C_QUIT,
	C_UNKNOWN
};

static void cmd_help(struct session *s)
{
	reply_more(s, 214, "2.0.0", "Commands: HELO EHLO STARTTLS AUTH MAIL RCPT DATA BDAT");
	reply(s, 214, "2.0.0", "RSET NOOP VRFY HELP QUIT; see RFC 5321");
}

/* Commands after which nothing may be pipelined: what follows them would be
 * read in another context (message content, TLS, a SASL exchange). EHLO and
 * HELO may be followed by commands, as scripts that pipe a session do. */
static bool must_end_group(enum smtp_verb v)
{
	return v == SMTP_VERB_DATA || v == SMTP_VERB_STARTTLS || v == SMTP_VERB_AUTH;
}

/* Without PIPELINING offered (before EHLO, or after HELO) a client must
 * wait for each reply; EHLO and HELO themselves start the conversation. */
static bool pipelining_forbidden(const struct session *s, enum smtp_verb v)
{
	if (must_end_group(v))
		return true;
	return !s->esmtp && v != SMTP_VERB_EHLO && v != SMTP_VERB_HELO;
}

static void count(struct session *s, int which)
{
	s->counts[which]++;
	s->total_commands++;
}

/* HELO, EHLO, NOOP, RSET, VRFY and HELP are junk, as in Postfix: past
 * smtpd_junk_command_limit (since the last message received) each one
 * counts as an error, and the error limits end the session. */
static void count_junk(struct session *s)
{
	if (!s->quit && ++s->junk > s->cfg->junk_command_limit)
		session_error(s);
}

/* As Postfix: a message received forgives the client its earlier errors
 * and junk commands (DATA and BDAT LAST answer 250 only then). */
static void forgive_after_message(struct session *s)
{
	if (strncmp(s->last_reply, "250 ", 4) == 0) {
		s->errors = 0;
		s->junk = 0;
	}
}

static void dispatch(struct session *s, const char *line)
{
	const char *arg;
	enum smtp_verb verb = smtp_command_parse(line, &arg);
	if (stream_buffered(s->stream) > 0 && pipelining_forbidden(s, verb)) {
		/* A client that pipelines where it must not is out of step: anything it
		 * sent after this command could be read in the wrong context. */
		reply(s, 554, "5.5.0", "Error: improper command pipelining after %.*s",
		      (int)strcspn(line, " "), line);
		log_info("improper command pipelining after %.*s from %s", (int)strcspn(line, " "),
		         line, session_client(s));
		s->quit = true;
		return;
	}
	s->where = smtp_verb_name(verb);
	switch (verb) {
	case SMTP_VERB_HELO:
		count(s, C_HELO);
		cmd_ehlo(s, arg, false);
		count_junk(s);
		break;
	case SMTP_VERB_EHLO:
		count(s, C_EHLO);
		cmd_ehlo(s, arg, true);
		count_junk(s);
		break;
	case SMTP_VERB_STARTTLS:
		count(s, C_STARTTLS);
		cmd_starttls(s, arg);
		break;
	case SMTP_VERB_AUTH:
		count(s, C_AUTH);
		cmd_auth(s, arg);
		break;
	case SMTP_VERB_XFORWARD:
		count(s, C_XFORWARD);
		cmd_xforward(s, arg);
		count_junk(s);
		break;
	case SMTP_VERB_MAIL:
		count(s, C_MAIL);
		cmd_mail(s, arg);
		break;
	case SMTP_VERB_RCPT:
		count(s, C_RCPT);
		cmd_rcpt(s, arg);
		break;
	case SMTP_VERB_DATA:
		count(s, C_DATA);
		if (*arg) {
			reply(s, 501, "5.5.4", "Syntax: DATA");
			session_error(s);
		} else {
			cmd_data(s);
			forgive_after_message(s);
		}
		break;
	case SMTP_VERB_BDAT: {
		count(s, C_BDAT);
		unsigned long long size;
		bool last;
		struct smtp_reply err;
		if (smtp_parse_bdat(arg, &size, &last, &err) != 0) {
			/* Without a valid size the chunk cannot be skipped: end the session. */
			reply(s, err.code, err.enhanced, "%s", err.text);
			s->quit = true;
		} else {
			cmd_bdat(s, size, last);
			if (last)
				forgive_after_message(s);
		}
		break;
	}
	case SMTP_VERB_RSET:
		count(s, C_RSET);
		if (*arg) {
			/* RFC 5321 4.1.1.5: RSET takes no argument (Postfix's reply). */
			reply(s, 501, "5.5.4", "Syntax: RSET");
			session_error(s);
			break;
		}
		session_reset_transaction(s);
		reply(s, 250, "2.0.0", "Ok");
		count_junk(s);
		break;
	case SMTP_VERB_NOOP:
		count(s, C_NOOP);
		reply(s, 250, "2.0.0", "Ok");
		count_junk(s);
		break;
	case SMTP_VERB_VRFY:
		count(s, C_VRFY);
		cmd_vrfy(s, arg);
		count_junk(s);
		break;
	case SMTP_VERB_HELP:
		count(s, C_HELP);
		cmd_help(s);
		count_junk(s);
		break;
	case SMTP_VERB_QUIT:
		count(s, C_QUIT);
		reply(s, 221, "2.0.0", "Bye");
		s->quit = true;
		break;
	default:
		count(s, C_UNKNOWN);
		if (smtpd_milter_unknown(s, line)) {
			session_error(s);
			break;
		}
		reply(s, 502, "5.5.2", "Error: command not recognized");
		session_error(s);
		break;
	}
}

/* True if the client talked before the greeting. */
static bool early_talker(struct session *s)
{
	struct pollfd pfd = {.fd = s->fd, .events = POLLIN};
	return poll(&pfd, 1, (int)s->cfg->greet_pause_ms) > 0;
}

/* Before closing, read what the client still sends for a moment, so that
 * a refusal it has not read yet is not destroyed by a TCP reset. A client
 * that said QUIT and sent nothing after it has read its last reply and
 * closes by itself: waiting for that would cost a wake-up per session.
 * Nor is there anything to protect once it has closed (nothing unread
 * here: the close sends no reset) or reset the connection itself. */
static void drain_input(struct session *s)
{
	char byte;
	if (s->counts[C_QUIT] > 0 && stream_buffered(s->stream) == 0) {
		ssize_t n = recv(s->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EINTR))
			return;
	}
	shutdown(s->fd, SHUT_WR);
	char buf[4096];
	struct pollfd pfd = {.fd = s->fd, .events = POLLIN};
	for (int i = 0; i < 16 && poll(&pfd, 1, 200) == 1; i++)
		if (read(s->fd, buf, sizeof(buf)) <= 0)
			break;
}

static void log_disconnect(struct session *s)
{
	struct str line = STR_INIT;
	str_printf(&line, "disconnect from %s", session_client(s));
	for (size_t i = 0; i < sizeof(count_names) / sizeof(count_names[0]); i++)
		if (s->counts[i])
			str_printf(&line, " %s=%u", count_names[i], s->counts[i]);
	str_printf(&line, " commands=%u", s->total_commands);
	log_info("%s", str_cstr(&line));
	str_free(&line);
}

static void command_loop(struct session *s)
{
	struct str line = STR_INIT;
	while (!s->quit) {
		/* Pipelining: answer a whole group of commands at once. */
		if (stream_buffered(s->stream) == 0) {
			if (stream_flush(s->stream) != STREAM_OK)
				break;
			/* While the client reads the reply: the next queue file
			 * (none for a proxying smtpd, which queues nothing). */
			if (!proxy_filter_enabled(s->cfg))
				queue_writer_prepare(s->cfg->queue_dir);
		}
		bool had_cr = false;
		enum stream_status st =
		    stream_read_line(s->stream, &line, (size_t)s->cfg->line_length_limit, &had_cr);
		if (st == STREAM_TOO_LONG) {
			reply(s, 500, "5.5.2", "Error: line too long");
			if (session_error(s))
				break;
			continue;
		}
		if (st == STREAM_TIMEOUT) {
			reply(s, 421, "4.4.2", "%s Error: timeout exceeded", s->cfg->hostname);
			log_info("timeout after %s from %s",
			         s->total_commands ? "command" : "CONNECT", session_client(s));
			break;
		}
		if (st != STREAM_OK) {
			if (!s->quit)
				log_info("lost connection from %s", session_client(s));
			break;
		}
		notice_record_in(s, line.data, line.len);
		if (!had_cr && s->cfg->bare_newline == BARE_REJECT) {
			const char *ignored;
			reply(s, 500, "5.5.2",
			      "Error: bare <LF> received; lines must end in <CR><LF>");
			session_log_reject(
			    s, smtp_verb_name(smtp_command_parse(str_cstr(&line), &ignored)), NULL,
			    NULL);
			if (session_error(s))
				break;
			continue;
		}
		if (memchr(line.data, '\0', line.len) || memchr(line.data, '\r', line.len)) {
			reply(s, 500, "5.5.2", "Error: invalid characters in command");
			if (session_error(s))
				break;
			continue;
		}
		dispatch(s, str_cstr(&line));
	}
	stream_flush(s->stream);
	str_free(&line);
}

void session_run(const struct smtpd_settings *cfg, int fd)
{
	struct session s = {.cfg = cfg, .fd = fd, .where = "CONNECT"};
	queue_envelope_init(&s.env);
	sock_peer_name(fd, s.client_addr, sizeof(s.client_addr), s.client_port,
	               sizeof(s.client_port));
	s.stream = stream_new(fd, (int)cfg->timeout_ms);
	if (cfg->upstream_proxy && !smtpd_read_proxy_header(&s)) {
		session_reset_transaction(&s);
		stream_free(s.stream);
		return;
	}
	xforward_session_start(&s);
	client_name_lookup(&s);
	log_info("connect from %s", session_client(&s));
	if (cfg->wrapper_mode) {
		/* Over the new-session limit: closed before the handshake (a
		 * reply in clear would be garbage to a TLS client). */
		if (newtls_rate_exceeded(&s))
			goto done;
		const char *error;
		s.tls = tls_accept(cfg->tls, fd, (int)cfg->starttls_timeout_ms, &error);
		if (s.tls == NULL) {
			log_info("%s: TLS handshake failed: %s", session_client(&s), error);
			goto done;
		}
		newtls_handshake_done(&s);
		tls_session_attach(s.tls, s.stream);
		log_tls(&s);
		clientcerts_session_start(&s);
	}
	if (!client_limit_take(cfg, s.client_addr)) {
		reply(&s, 421, "4.7.0", "%s Error: too many connections from %s", cfg->hostname,
		      s.client_addr);
		stream_flush(s.stream);
		log_warn("too many connections from %s", session_client(&s));
		goto done;
	}
	long long rate = cfg->connection_rate_limit > 0
	                     ? client_rate_count(cfg, s.client_addr, CLIENT_EVENT_CONNECT)
	                     : 0;
	if (rate > cfg->connection_rate_limit && cfg->connection_rate_limit > 0) {
		reply(&s, 421, "4.7.0", "%s Error: too many connections from %s", cfg->hostname,
		      s.client_addr);
		stream_flush(s.stream);
		log_warn("Connection rate limit exceeded: %lld from %s for service %s", rate,
		         session_client(&s), cfg->service_name);
		goto done;
	}
	if (!s.tls && cfg->greet_pause_ms >= 0 && early_talker(&s)) {
		reply(&s, 554, "5.5.1",
		      "Error: SMTP protocol synchronization (talked before the greeting)");
		stream_flush(s.stream);
		log_info("reject: pre-greeting traffic from %s", session_client(&s));
		goto done;
	}
	smtpd_milter_connect(&s);
	if (s.milter_shutdown) {
		reply(&s, 421, "4.7.0", "%s Service not available, closing connection",
		      cfg->hostname);
		stream_flush(s.stream);
		goto done;
	}
	reply(&s, 220, NULL, "%s", cfg->banner);
	command_loop(&s);
done:
	drain_input(&s);
	client_limit_release();
	log_disconnect(&s);
	notice_session_end(&s);
	session_reset_transaction(&s);
	smtpd_milter_end(&s);
	free(s.helo);
	free(s.auth_user);
	free(s.auth_method);
	free(s.mail_auth);
	stream_free(s.stream);
	if (s.tls)
		tls_session_close(s.tls);
}
