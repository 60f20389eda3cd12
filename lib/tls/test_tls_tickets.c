/*
 * Unit test of TLS session ticket keys: rotation keeps the one before,
 * the encoding has the newest key first, and malformed key data is
 * refused. Resumption across processes is tests/test_smtpd_tls_resume.py.
 */
#include "tls/tls_tickets.h"

#include <string.h>

#include "util/testing.h"

TEST(rotate_keeps_previous)
{
	struct tls_ticket_keys keys = {0};
	CHECK(tls_ticket_keys_rotate(&keys, 1000) == 0);
	CHECK(keys.count == 1);
	struct tls_ticket_key first = keys.key[0];
	CHECK(tls_ticket_keys_rotate(&keys, 2000) == 0);
	CHECK(keys.count == 2);
	CHECK(keys.made_ms == 2000);
	CHECK(memcmp(&keys.key[1], &first, sizeof(first)) == 0);
	CHECK(memcmp(&keys.key[0], &first, sizeof(first)) != 0);
	CHECK(tls_ticket_keys_rotate(&keys, 3000) == 0);
	CHECK(keys.count == 2);
	CHECK(memcmp(&keys.key[1], &first, sizeof(first)) != 0);
	tls_ticket_keys_clear(&keys);
	CHECK(keys.count == 0);
}

TEST(install_checks_length)
{
	struct tls_ticket_keys keys = {0};
	tls_ticket_keys_rotate(&keys, 0);
	tls_ticket_keys_rotate(&keys, 0);
	unsigned char data[3 * TLS_TICKET_KEY_SIZE];
	size_t len = tls_ticket_keys_encode(&keys, data);
	CHECK(len == 2 * TLS_TICKET_KEY_SIZE);
	CHECK(tls_tickets_install(data, len - 1) == -1);
	memcpy(data + len, data, TLS_TICKET_KEY_SIZE);
	CHECK(tls_tickets_install(data, 3 * TLS_TICKET_KEY_SIZE) == -1);
	CHECK(tls_tickets_install(data, len) == 0);
	CHECK(tls_tickets_available());
	CHECK(tls_tickets_install(NULL, 0) == 0);
	CHECK(!tls_tickets_available());
}

int main(void)
{
	RUN(rotate_keeps_previous);
	RUN(install_checks_length);
	return TESTING_DONE();
}
