/*
 * Tests of password hashing: fresh hashes are yescrypt and salted, verify
 * accepts the right password only, stored hashes of both supported kinds
 * verify, and locked, empty or malformed hashes never do.
 */
#include <stdlib.h>
#include <string.h>

#include "auth/password.h"
#include "util/testing.h"

/* Fixed vectors (openssl passwd -6 and libxcrypt's yescrypt). */
#define SHA512_PASSWORD                                                                            \
	"$6$saltsalt$qFmFH.bQmmtXzyBY0s9v7Oicd2z4XSIecDzlB5KiA2/jctKu9YterLp8wwnSq.qc."            \
	"eoxqOmSuNp2xS0ktL3nh/"
#define YESCRYPT_PASSWORD                                                                          \
	"$y$j9T$F5Jx5fExrKuPp53xLKQ..1$tnSYvahCwPBHKZUspmcxMfb0.WiB9W.zEaKlOBL35rC"

TEST(hash_and_verify)
{
	const char *error = NULL;
	char *h1 = password_hash("correct horse", &error);
	char *h2 = password_hash("correct horse", &error);
	CHECK(h1 != NULL && h2 != NULL);
	if (h1 == NULL || h2 == NULL)
		return;
	CHECK(strncmp(h1, "$y$", 3) == 0);
	CHECK(strcmp(h1, h2) != 0); /* a fresh salt each time */
	CHECK(strstr(h1, "correct") == NULL);
	CHECK(password_hash_usable(h1));
	CHECK(password_verify("correct horse", h1));
	CHECK(password_verify("correct horse", h2));
	CHECK(!password_verify("correct horse ", h1));
	CHECK(!password_verify("Correct horse", h1));
	CHECK(!password_verify("", h1));
	CHECK(!password_verify(NULL, h1));
	free(h1);
	free(h2);
	/* Non-ASCII passwords are bytes like any other. */
	char *h3 = password_hash("p\xc3\xa4ssw\xc3\xb6rd", &error);
	CHECK(h3 != NULL && password_verify("p\xc3\xa4ssw\xc3\xb6rd", h3));
	CHECK(h3 != NULL && !password_verify("passwort", h3));
	free(h3);
}

TEST(empty_password_refused)
{
	const char *error = NULL;
	CHECK(password_hash("", &error) == NULL);
	CHECK_STR(error, "empty password");
}

TEST(stored_hashes)
{
	CHECK(password_verify("password", SHA512_PASSWORD));
	CHECK(!password_verify("passwore", SHA512_PASSWORD));
	CHECK(password_verify("password", YESCRYPT_PASSWORD));
	CHECK(!password_verify("Password", YESCRYPT_PASSWORD));
	CHECK(!password_verify("secret word", SHA512_PASSWORD));
}

TEST(locked_and_bad_hashes)
{
	CHECK(!password_hash_usable(NULL));
	CHECK(!password_hash_usable(""));
	CHECK(!password_hash_usable("*"));
	CHECK(!password_hash_usable("!"));
	CHECK(!password_hash_usable("!" SHA512_PASSWORD));
	CHECK(!password_verify("password", "!" SHA512_PASSWORD));
	CHECK(!password_verify("password", "*" YESCRYPT_PASSWORD));
	CHECK(!password_verify("", ""));
	CHECK(!password_verify("password", "*"));
	CHECK(!password_verify("password", "!"));
	CHECK(!password_verify("password", "password")); /* plain text is not a hash */
	CHECK(!password_verify("password", "$6$saltsalt$short"));
	CHECK(!password_verify("password", "$unknown$x$y"));
	CHECK(!password_verify("password", SHA512_PASSWORD ":quota=1"));
	CHECK(!password_hash_usable(SHA512_PASSWORD " "));
	/* Truncated or extended stored hashes do not verify. */
	char truncated[] = SHA512_PASSWORD;
	truncated[strlen(truncated) - 1] = '\0';
	CHECK(!password_verify("password", truncated));
	CHECK(!password_verify("password", SHA512_PASSWORD "x"));
}

int main(void)
{
	RUN(hash_and_verify);
	RUN(empty_password_refused);
	RUN(stored_hashes);
	RUN(locked_and_bad_hashes);
	return TESTING_DONE();
}
