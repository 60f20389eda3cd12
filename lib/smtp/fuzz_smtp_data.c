/* Fuzz target: the DATA decoder must consume input safely in any chunking
 * and give the same result whole or byte by byte. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_data_decoder whole, bytes;
	struct str out1 = STR_INIT, out2 = STR_INIT;
	smtp_data_init(&whole);
	size_t used1 = smtp_data_feed(&whole, (const char *)data, size, &out1);
	smtp_data_init(&bytes);
	size_t used2 = 0;
	while (used2 < size && !bytes.done)
		used2 += smtp_data_feed(&bytes, (const char *)data + used2, 1, &out2);
	if (used1 != used2 || whole.done != bytes.done || out1.len != out2.len ||
	    (out1.len && memcmp(out1.data, out2.data, out1.len) != 0))
		abort();
	str_free(&out1);
	str_free(&out2);
	return 0;
}
