/* Fuzz target: SMTP server replies as the client parses them, line by
 * line, plus the EHLO keywords and the summary. A complete reply must
 * carry a code in 200..599 and a status of the right class. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_resp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_resp r;
	struct str summary = STR_INIT;
	smtp_resp_init(&r);
	const char *p = (const char *)data, *end = p + size;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		size_t line_len = len > 0 && p[len - 1] == '\r' ? len - 1 : len;
		const char *error = NULL;
		enum smtp_resp_step step = smtp_resp_add_line(&r, p, line_len, &error);
		if (step == SMTP_RESP_BAD) {
			if (error == NULL)
				abort();
			smtp_resp_clear(&r);
		} else if (step == SMTP_RESP_DONE) {
			if (r.code < 200 || r.code > 599)
				abort();
			const char *status = smtp_resp_status(&r, "X");
			if (status[0] != 'X' && status[0] - '0' != r.code / 100)
				abort();
			smtp_resp_summary(&r, &summary, 1000);
			if (summary.len > 1000)
				abort();
			struct smtp_ehlo e;
			smtp_ehlo_parse(&r, &e);
			(void)smtp_ehlo_has_auth(&e, "PLAIN");
			smtp_ehlo_free(&e);
			smtp_resp_clear(&r);
		}
		p += len + (nl ? 1 : 0);
	}
	str_free(&summary);
	smtp_resp_free(&r);
	return 0;
}
