/* Unit tests for conf/params: the table and the typed value parsers. */
#include "conf/params.h"
#include "util/testing.h"

#include <limits.h>
#include <string.h>

TEST(table_sorted_and_unique)
{
	CHECK(param_table_count > 20);
	for (size_t i = 1; i < param_table_count; i++)
		CHECK(strcmp(param_table[i - 1].name, param_table[i].name) < 0);
}

TEST(table_entries_complete)
{
	for (size_t i = 0; i < param_table_count; i++) {
		const struct param_def *p = &param_table[i];
		const char *error;
		CHECK(p->name && p->name[0] && p->default_value && p->doc && strlen(p->doc) > 10);
		/* Every default is valid for its type (none of the typed ones uses $). */
		CHECK(param_validate(p->type, p->default_value, &error) == 0);
		CHECK(param_find(p->name) == p);
	}
}

TEST(find)
{
	const struct param_def *p = param_find("max_idle");
	CHECK(p != NULL && p->type == PARAM_TIME);
	CHECK_STR(p ? p->default_value : NULL, "100s");
	/* The first and the last entry are found too (bisection edges). */
	CHECK(param_find(param_table[0].name) == &param_table[0]);
	CHECK(param_find(param_table[param_table_count - 1].name) ==
	      &param_table[param_table_count - 1]);
	CHECK(param_find("") == NULL);
	CHECK(param_find("max_idl") == NULL);
	CHECK(param_find("max_idlez") == NULL);
	CHECK(param_find("MAX_IDLE") == NULL);
	CHECK(param_find("zzz") == NULL);
	CHECK(param_find("aaa") == NULL);
	p = param_find("smtpd_helo_required");
	CHECK(p != NULL && p->type == PARAM_BOOL && strcmp(p->default_value, "no") == 0);
	p = param_find("mydestination");
	CHECK(p != NULL && p->type == PARAM_LIST);
}

TEST(find_pattern)
{
	/* A service's per-transport parameters are known, typed like the
	 * default they fall back to. */
	const struct param_def *p = param_find("relay_destination_concurrency_limit");
	CHECK(p != NULL && p->type == PARAM_INT);
	CHECK_STR(p ? p->default_value : NULL, "$default_destination_concurrency_limit");
	p = param_find("slow_destination_recipient_limit");
	CHECK(p != NULL && p->type == PARAM_INT);
	CHECK_STR(p ? p->name : NULL, "transport_destination_recipient_limit");
	const struct param_pattern *pattern =
	    param_find_pattern("relay_destination_recipient_limit");
	CHECK(pattern != NULL && pattern->def.type == PARAM_INT);
	CHECK_STR(pattern ? pattern->suffix : NULL, "_destination_recipient_limit");
	/* The table's own entries win; the suffix alone is no name. */
	p = param_find("smtp_destination_concurrency_limit");
	CHECK(p != NULL && strcmp(p->name, "smtp_destination_concurrency_limit") == 0);
	CHECK(param_find_pattern("smtp_destination_concurrency_limit") != NULL);
	CHECK(param_find("_destination_concurrency_limit") == NULL);
	CHECK(param_find("relay_destination_concurrency") == NULL);
	CHECK(param_find("relay_destination_rate") == NULL);
	p = param_find("relay_destination_rate_delay");
	CHECK(p != NULL && p->type == PARAM_TIME);
	for (size_t i = 0; i < param_pattern_count; i++) {
		const struct param_pattern *pt = &param_pattern_table[i];
		CHECK(pt->suffix[0] == '_' && strlen(pt->def.doc) > 10);
		CHECK(strncmp(pt->def.name, "transport", 9) == 0 &&
		      strcmp(pt->def.name + 9, pt->suffix) == 0);
		/* The default names a table parameter. */
		CHECK(pt->def.default_value[0] == '$' &&
		      param_find(pt->def.default_value + 1) != NULL);
	}
}

TEST(type_names)
{
	CHECK_STR(param_type_name(PARAM_STR), "str");
	CHECK_STR(param_type_name(PARAM_INT), "int");
	CHECK_STR(param_type_name(PARAM_BOOL), "bool");
	CHECK_STR(param_type_name(PARAM_TIME), "time");
	CHECK_STR(param_type_name(PARAM_SIZE), "size");
	CHECK_STR(param_type_name(PARAM_LIST), "list");
}

TEST(parse_int)
{
	long long n = 0;
	const char *error = NULL;
	CHECK(param_parse_int("0", &n, &error) == 0 && n == 0);
	CHECK(param_parse_int("42", &n, &error) == 0 && n == 42);
	CHECK(param_parse_int("-7", &n, &error) == 0 && n == -7);
	CHECK(param_parse_int("9223372036854775807", &n, &error) == 0 && n == LLONG_MAX);
	CHECK(param_parse_int("-9223372036854775807", &n, &error) == 0 && n == -LLONG_MAX);
	CHECK(param_parse_int("9223372036854775808", &n, &error) == -1);
	CHECK_STR(error, "invalid integer value '9223372036854775808': out of range");
	CHECK(param_parse_int("99999999999999999999999", &n, &error) == -1);
	const char *bad[] = {"", "-", "+1", " 1", "1 ", "1x", "0x10", "1.5", "--1", "abc"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		error = NULL;
		CHECK(param_parse_int(bad[i], &n, &error) == -1);
		CHECK(error != NULL && strncmp(error, "invalid integer value '", 23) == 0);
	}
	CHECK(param_parse_int("abc", &n, &error) == -1);
	CHECK_STR(error, "invalid integer value 'abc'");
}

TEST(parse_bool)
{
	bool b;
	const char *error = NULL;
	const char *yes[] = {"yes", "YES", "Yes", "true", "TRUE", "on", "On", "1"};
	const char *no[] = {"no", "NO", "false", "False", "off", "OFF", "0"};
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		b = false;
		CHECK(param_parse_bool(yes[i], &b, &error) == 0 && b);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		b = true;
		CHECK(param_parse_bool(no[i], &b, &error) == 0 && !b);
	}
	const char *bad[] = {"", "y", "n", "2", "yes ", " no", "yess", "t", "enabled"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(param_parse_bool(bad[i], &b, &error) == -1);
	CHECK(param_parse_bool("maybe", &b, &error) == -1);
	CHECK_STR(error, "invalid boolean value 'maybe': use yes or no");
}

TEST(parse_time)
{
	long long s = -1;
	const char *error = NULL;
	CHECK(param_parse_time("30", &s, &error) == 0 && s == 30);
	CHECK(param_parse_time("0", &s, &error) == 0 && s == 0);
	CHECK(param_parse_time("30s", &s, &error) == 0 && s == 30);
	CHECK(param_parse_time("5m", &s, &error) == 0 && s == 300);
	CHECK(param_parse_time("2h", &s, &error) == 0 && s == 7200);
	CHECK(param_parse_time("1d", &s, &error) == 0 && s == 86400);
	CHECK(param_parse_time("1w", &s, &error) == 0 && s == 604800);
	CHECK(param_parse_time("1h30m", &s, &error) == 0 && s == 5400);
	CHECK(param_parse_time("1d2h3m4s", &s, &error) == 0 && s == 93784);
	CHECK(param_parse_time("2147483647", &s, &error) == 0 && s == INT_MAX);
	CHECK(param_parse_time("2147483648", &s, &error) == -1);
	CHECK_STR(error, "invalid time value '2147483648': too large");
	CHECK(param_parse_time("99999999w", &s, &error) == -1);
	CHECK_STR(error, "invalid time value '99999999w': too large");
	CHECK(param_parse_time("3550w", &s, &error) == 0 && s == 3550LL * 604800);
	CHECK(param_parse_time("3550w7d", &s, &error) == -1); /* the sum overflows */
	CHECK(param_parse_time("-5s", &s, &error) == -1);
	CHECK_STR(error, "invalid time value '-5s': negative");
	CHECK(param_parse_time("5x", &s, &error) == -1);
	CHECK_STR(error, "invalid time value '5x': unknown unit (use s, m, h, d or w)");
	CHECK(param_parse_time("1h30", &s, &error) == -1);
	CHECK_STR(error, "invalid time value '1h30': missing unit");
	CHECK(param_parse_time("forever", &s, &error) == -1);
	CHECK_STR(error, "invalid time value 'forever'");
	const char *bad[] = {"", "s", "5 s", " 5", "5s ", "5S", "1.5h", "5ss", "h5", "+5", "5m-1s"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(param_parse_time(bad[i], &s, &error) == -1);
}

TEST(parse_size)
{
	long long n = -1;
	const char *error = NULL;
	CHECK(param_parse_size("1024", &n, &error) == 0 && n == 1024);
	CHECK(param_parse_size("0", &n, &error) == 0 && n == 0);
	CHECK(param_parse_size("10k", &n, &error) == 0 && n == 10240);
	CHECK(param_parse_size("10K", &n, &error) == 0 && n == 10240);
	CHECK(param_parse_size("10m", &n, &error) == 0 && n == 10485760);
	CHECK(param_parse_size("1g", &n, &error) == 0 && n == 1073741824);
	CHECK(param_parse_size("8589934591g", &n, &error) == 0 && n == 8589934591LL << 30);
	CHECK(param_parse_size("8589934592g", &n, &error) == -1);
	CHECK_STR(error, "invalid size value '8589934592g': too large");
	CHECK(param_parse_size("99999999999999999999", &n, &error) == -1);
	CHECK_STR(error, "invalid size value '99999999999999999999': too large");
	CHECK(param_parse_size("-1k", &n, &error) == -1);
	CHECK_STR(error, "invalid size value '-1k': negative");
	const char *bad[] = {"", "k", "10kb", "10 k", "10t", "1.5m", "+1", "0x10", "10k1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(param_parse_size(bad[i], &n, &error) == -1);
	CHECK(param_parse_size("big", &n, &error) == -1);
	CHECK_STR(error, "invalid size value 'big'");
}

TEST(validate)
{
	const char *error = NULL;
	CHECK(param_validate(PARAM_STR, "", &error) == 0);
	CHECK(param_validate(PARAM_STR, "any $thing", &error) == 0);
	CHECK(param_validate(PARAM_LIST, "a, b c", &error) == 0);
	CHECK(param_validate(PARAM_INT, "12", &error) == 0);
	CHECK(param_validate(PARAM_INT, "12s", &error) == -1);
	CHECK(param_validate(PARAM_BOOL, "on", &error) == 0);
	CHECK(param_validate(PARAM_TIME, "1h", &error) == 0);
	CHECK(param_validate(PARAM_SIZE, "1h", &error) == -1);
	CHECK_STR(error, "invalid size value '1h'");
	/* Long values are cut short in the message. */
	char longval[300];
	memset(longval, 'x', sizeof(longval) - 1);
	longval[sizeof(longval) - 1] = '\0';
	CHECK(param_validate(PARAM_TIME, longval, &error) == -1);
	CHECK(strlen(error) < 120 && strstr(error, "...'") != NULL);
}

int main(void)
{
	RUN(table_sorted_and_unique);
	RUN(table_entries_complete);
	RUN(find);
	RUN(find_pattern);
	RUN(type_names);
	RUN(parse_int);
	RUN(parse_bool);
	RUN(parse_time);
	RUN(parse_size);
	RUN(validate);
	return TESTING_DONE();
}
