/* SPDX-License-Identifier: MIT */
/* Password hashes (see password.c). Slow on purpose: worker threads only. */
#ifndef WSR_SRC_PASSWORD_INT_H
#define WSR_SRC_PASSWORD_INT_H

#include "core/internal.h"

#define WSR__PASSWORD_ITERATIONS      600000ul
#define WSR__PASSWORD_ITERATIONS_TEXT "600000" /* the same, spelled */
#define WSR__PASSWORD_MIN_ITERATIONS  600000ul
#define WSR__PASSWORD_MAX_ITERATIONS  100000000ul /* fits PBKDF2's int */

/* Hashes `password` with a new salt; *out is owned (wsr__free). Returns 0,
 * WSR_EINVAL (iterations under the minimum), WSR_ETLS or WSR_ENOMEM. */
WSR_NODISCARD int wsr__password_hash(const char *password, unsigned long iterations, char **out);

/* Returns 0 when `password` matches `stored`, WSR_EAUTH when it does not,
 * WSR_EINVAL when `stored` is not of this program's form (16-byte salt,
 * 32-byte hash, 1000 to WSR__PASSWORD_MAX_ITERATIONS iterations in one
 * spelling), WSR_ETLS or WSR_ENOMEM. */
WSR_NODISCARD int wsr__password_check(const char *password, const char *stored);

/* A well-formed hash of a password nobody has, with this program's
 * iterations, for logins of unknown users: checking it costs what checking
 * a real one does, so an answer's timing does not tell names apart. */
extern const char wsr__password_dummy[];

#endif /* WSR_SRC_PASSWORD_INT_H */
