/* Fuzz target: the queue id in an end-of-data reply's text. The id it
 * returns must lie in the input, be at most QUEUED_AS_MAX bytes of the
 * allowed characters, and fit the buffer it is given. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/queued_as.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[QUEUED_AS_MAX + 1];
	size_t n = smtp_reply_queued_as((const char *)data, size, out, sizeof(out));
	if (n > QUEUED_AS_MAX || strlen(out) != n)
		abort();
	if (n > 0 && (memmem(data, size, out, n) == NULL || out[n - 1] == '.'))
		abort();
	/* A small buffer: never overrun, and no partial id. */
	char small[4];
	size_t m = smtp_reply_queued_as((const char *)data, size, small, sizeof(small));
	if (m >= sizeof(small) || (m > 0 && m != n))
		abort();
	return 0;
}
