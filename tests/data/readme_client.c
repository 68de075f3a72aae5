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
    } else if (reply.status == 200) {
        const char *text = json_string_value(reply.data); /* NULL unless a string */

        printf("%d %s\n", reply.status, text ? text : "(not a string)");
        wsr_client_reply_dispose(&reply);
        rc = 0;
    } else { /* an error status: the sentence is in detail, and data is absent */
        fprintf(stderr, "%d %s\n", reply.status, reply.detail ? reply.detail : "(no detail)");
        wsr_client_reply_dispose(&reply);
    }
    wsr_client_free(c);
    return rc;
}
