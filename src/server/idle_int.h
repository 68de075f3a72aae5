/* SPDX-License-Identifier: MIT */
/* The idle policy (see idle.c). */
#ifndef WSR_SERVER_IDLE_INT_H
#define WSR_SERVER_IDLE_INT_H

#include "server/loop_int.h"

/* Loop thread: (re)arms the idle check when the policy is on. */
void wsr__idle_start(wsr__loop_t *loop);

#endif /* WSR_SERVER_IDLE_INT_H */
