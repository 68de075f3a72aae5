/* SPDX-License-Identifier: MIT */
/* Tests for the cluster engine's address (src/services/redisurl.c): what
 * `engine` and `engine_password` accept, and the sentence for what not. */
#include "testutil.h"

#include <stdio.h>
#include <string.h>

#include "services/redisurl_int.h"

static void test_redisurl__accepts_the_forms(void **state)
{
    wsr__redis_url_t u;
    wsr_error_t err;

    (void)state;
    assert_int_equal(wsr__redis_url_parse("redis://localhost", NULL, &u, &err), 0);
    assert_string_equal(u.host, "localhost");
    assert_int_equal(u.port, 6379);
    assert_int_equal(u.db, 0);
    assert_string_equal(u.user, "");
    assert_string_equal(u.password, "");

    assert_int_equal(wsr__redis_url_parse("redis://127.0.0.1:7000/3", NULL, &u, &err), 0);
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 7000);
    assert_int_equal(u.db, 3);

    assert_int_equal(wsr__redis_url_parse("redis://[::1]:6380/", NULL, &u, &err), 0);
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 6380);
    assert_int_equal(u.db, 0);

    assert_int_equal(wsr__redis_url_parse("redis://:s3cr@t@redis.example:1/15", NULL, &u, &err), 0);
    assert_string_equal(u.user, "");
    assert_string_equal(u.password, "s3cr@t");
    assert_string_equal(u.host, "redis.example");
    assert_int_equal(u.db, 15);

    assert_int_equal(wsr__redis_url_parse("redis://app:pw@h", NULL, &u, &err), 0);
    assert_string_equal(u.user, "app");
    assert_string_equal(u.password, "pw");

    /* engine_password when the URL has none. */
    assert_int_equal(wsr__redis_url_parse("redis://h:1", "from-config", &u, &err), 0);
    assert_string_equal(u.password, "from-config");
    assert_int_equal(wsr__redis_url_parse("redis://h:1", "", &u, &err), 0);
    assert_string_equal(u.password, "");
}

static void refused(const char *url, const char *password, const char *why)
{
    wsr__redis_url_t u;
    wsr_error_t err;

    memset(&err, 0, sizeof(err));
    assert_int_equal(wsr__redis_url_parse(url, password, &u, &err), WSR_EINVAL);
    assert_int_equal(err.code, WSR_EINVAL);
    if (strstr(err.text, why) == NULL)
        fail_msg("\"%s\": \"%s\" does not say \"%s\"", url, err.text, why);
    if (password != NULL && password[0] != '\0')
        assert_null(strstr(err.text, password));
}

static void test_redisurl__refuses_with_a_reason(void **state)
{
    char long_host[400];

    (void)state;
    refused("http://h", NULL, "does not begin with redis://");
    refused("", NULL, "does not begin with redis://");
    refused("redis://", NULL, "the host is missing");
    refused("redis://:6379", NULL, "the host is missing");
    refused("redis://h:0", NULL, "the port must be a number from 1 to 65535");
    refused("redis://h:65536", NULL, "the port must be a number from 1 to 65535");
    refused("redis://h:12a", NULL, "the port must be");
    refused("redis://h:", NULL, "the port must be");
    refused("redis://h/16", NULL, "the database must be a number from 0 to 15");
    refused("redis://h/x", NULL, "the database must be");
    refused("redis://h/1/2", NULL, "the database must be");
    refused("redis://ho st", NULL, "the host name holds a character");
    refused("redis://[::1", NULL, "no closing ']'");
    refused("redis://[::g]", NULL, "the IPv6 address holds");
    refused("redis://[::1]x", NULL, "only :PORT may follow");
    refused("redis://user@h", NULL, "USER:PASSWORD or :PASSWORD");
    refused("redis://:@h", NULL, "the password before '@' is empty");
    refused("redis://:inurl@h", "secret-too", "both in the URL and in engine_password");
    memset(long_host, 'a', sizeof(long_host) - 1);
    long_host[sizeof(long_host) - 1] = '\0';
    {
        char url[512];

        snprintf(url, sizeof(url), "redis://%s", long_host);
        refused(url, NULL, "the host name is too long");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redisurl__accepts_the_forms),
        cmocka_unit_test(test_redisurl__refuses_with_a_reason),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
