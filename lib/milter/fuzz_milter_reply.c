/* Fuzz target: what a filter sends back, and the filter list syntax of
 * smtpd_milters (the same bytes as a string). The bytes are split into packets
 * (milter_packet_split); each packet is decoded as a negotiation reply and
 * as an ordinary reply, and each decoded edit is applied to a small
 * message and envelope, which must then still write out. A broken filter
 * may send anything; none of it may crash the MTA. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail/queue.h"
#include "milter/milter.h"
#include "milter/milter_edit.h"
#include "milter/milter_message.h"
#include "milter/milter_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = strndup((const char *)data, size);
	struct milter_defaults d = {.protocol = 6, .default_action = MILTER_TEMPFAIL};
	struct milter_spec *specs;
	size_t count;
	const char *why = NULL;
	if (milter_specs_parse(text, &d, &specs, &count, &why) == 0) {
		for (size_t i = 0; i < count; i++)
			if (specs[i].address == NULL || specs[i].protocol < 2)
				abort();
		milter_specs_free(specs, count);
	} else if (why == NULL) {
		abort();
	}
	free(text);
	static const char base[] = "Received: from x\r\n\tby y\r\nSubject: s\r\n\r\nbody\r\n";
	struct milter_message m;
	milter_message_parse(&m, base, sizeof(base) - 1);
	struct queue_envelope env;
	queue_envelope_init(&env);
	env.sender = strdup("a@b");
	queue_envelope_add_rcpt(&env, "c@d", "", "");
	size_t at = 0;
	while (at < size) {
		struct milter_packet p;
		size_t used = 0;
		const char *error = NULL;
		int rc =
		    milter_packet_split(data + at, size - at, MILTER_MAX_PACKET, &p, &used, &error);
		if (rc < 0 && error == NULL)
			abort();
		if (rc != 1)
			break;
		if (used < 5 || used > size - at)
			abort();
		at += used;
		struct milter_optneg o;
		if (milter_optneg_parse(&p, &o, &error) == 0)
			milter_optneg_free(&o);
		struct milter_reply r;
		if (milter_reply_parse(&p, &r, &error) != 0) {
			if (error == NULL)
				abort();
			continue;
		}
		if (r.cmd == SMFIR_REPLYCODE && (r.code < 400 || r.code > 599))
			abort();
		if (milter_edit_action(r.cmd) != 0 && r.cmd != SMFIR_REPLBODY &&
		    r.cmd != SMFIR_QUARANTINE)
			milter_edit_apply(&r, (r.index & 1) != 0, &m, &env, &error);
		if (r.cmd == SMFIR_REPLBODY)
			milter_message_set_body(&m, r.body, r.body_len);
		milter_reply_free(&r);
	}
	struct str out = STR_INIT;
	milter_message_write(&m, &out);
	/* What we write must parse back into the same header count. */
	struct milter_message again;
	milter_message_parse(&again, out.data, out.len);
	if (again.count != m.count)
		abort();
	milter_message_free(&again);
	str_free(&out);
	milter_message_free(&m);
	queue_envelope_free(&env);
	return 0;
}
