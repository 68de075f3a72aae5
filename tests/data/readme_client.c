/* SPDX-License-Identifier: MIT */
/* The C client example of README.md: call a route and print the answer. */
#include <stdio.h>
#include <wsrouter/wsrouter.h>

int main(int argc, char **argv)
{
    wsr_client_config_t cfg;
    wsr_client_reply_t reply;
    wsr_error_t err;
    wsr_client_t *c;
    int rc = 1;

    wsr_client_config_init(&cfg);
    cfg.url = argc > 1 ? argv[1] : "ws://127.0.0.1:8080/";
    c = wsr_client_new(&cfg, &err);
    if (c == NULL || wsr_client_connect(c, &err) != 0 ||
        wsr_client_call(c, "GET", "/hello/bob/42", NULL, NULL, &reply, &err) != 0) {
        fprintf(stderr, "error: %s\n", err.text);
    } else {
        printf("%d %s\n", reply.status, json_string_value(reply.data));
        wsr_client_reply_dispose(&reply);
        rc = 0;
    }
    wsr_client_free(c);
    return rc;
}
