/*
 * runner.h - what every tests/unit/test_<module>.c shares: a suite's
 * test cases, running it to an exit status, a scratch directory and a
 * tollgate.conf written and loaded. Header only (static inline), so a
 * unit test stays a program of one file; its cases and tables stay
 * there too.
 */
#ifndef TG_TESTS_RUNNER_H
#define TG_TESTS_RUNNER_H

#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

/* TG_LOOP_TEST - fn once for each row of the array table (_i the row) */
#define TG_LOOP_TEST(tc, fn, table) \
	tcase_add_loop_test((tc), (fn), 0, (int)(sizeof(table) / sizeof((table)[0])))

/* tg_test_tcase - a new test case of s, named name */
static inline TCase *
tg_test_tcase(Suite *s, const char *name)
{
	TCase *tc = tcase_create(name);

	suite_add_tcase(s, tc);
	return tc;
}

/* tg_test_run - run every test of s, then free it; the exit status:
   EXIT_SUCCESS when all passed, EXIT_FAILURE when any did not */
static inline int
tg_test_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* tg_test_rmtree - remove path and all it holds; system()'s status */
static inline int
tg_test_rmtree(const char *path)
{
	char *cmd = xasprintf("rm -rf '%s'", path);
	int rc = system(cmd);

	free(cmd);
	return rc;
}

/* tg_test_vconfig - write DIR/tollgate.conf from fmt and ap, load it;
   load errors go to err. dir NULL: a directory of its own, removed
   once the file is loaded. */
static inline struct tg_config *
tg_test_vconfig(const char *dir, struct tg_strbuf *err, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

static inline struct tg_config *
tg_test_vconfig(const char *dir, struct tg_strbuf *err, const char *fmt, va_list ap)
{
	char own[] = "/tmp/tg-test-XXXXXX";
	struct tg_config *cfg;
	char *path;
	FILE *fp;

	if (dir == NULL) {
		ck_assert_msg(mkdtemp(own) != NULL, "%s: %s", own, strerror(errno));
		dir = own;
	}
	path = xasprintf("%s/tollgate.conf", dir);
	fp = fopen(path, "w");
	ck_assert_msg(fp != NULL, "%s: %s", path, strerror(errno));
	vfprintf(fp, fmt, ap);
	ck_assert_int_eq(fclose(fp), 0);
	cfg = tg_config_load(path, err);
	if (dir == own) {
		unlink(path);
		rmdir(own);
	}
	free(path);
	return cfg;
}

/* tg_test_config_try - tg_test_vconfig with the text as printf's
   arguments: NULL and the errors in err when it does not load */
static inline struct tg_config *
tg_test_config_try(const char *dir, struct tg_strbuf *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static inline struct tg_config *
tg_test_config_try(const char *dir, struct tg_strbuf *err, const char *fmt, ...)
{
	struct tg_config *cfg;
	va_list ap;

	va_start(ap, fmt);
	cfg = tg_test_vconfig(dir, err, fmt, ap);
	va_end(ap);
	return cfg;
}

/* tg_test_config - the same for a configuration that must load (the
   test fails otherwise); the caller releases it */
static inline struct tg_config *
tg_test_config(const char *dir, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static inline struct tg_config *
tg_test_config(const char *dir, const char *fmt, ...)
{
	struct tg_strbuf err = { 0 };
	struct tg_config *cfg;
	va_list ap;

	va_start(ap, fmt);
	cfg = tg_test_vconfig(dir, &err, fmt, ap);
	va_end(ap);
	ck_assert_msg(cfg != NULL, "config: %s", tg_strbuf_str(&err));
	tg_strbuf_free(&err);
	return cfg;
}

#endif
