/* check.h - the tiny assertion kit of the C unit tests: failures are counted
 * and printed with file:line; main returns CHECK_RESULT(). */
#ifndef PT_TEST_CHECK_H
#define PT_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failures;

#define CHECK(cond)                                                               \
  do {                                                                            \
    if (!(cond)) {                                                                \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
      check_failures++;                                                           \
    }                                                                             \
  } while (0)

#define CHECK_MEM(got, got_len, want)                                                        \
  do {                                                                                       \
    const char *w_ = (want);                                                                 \
    size_t gl_ = (got_len);                                                                  \
    if (gl_ != strlen(w_) || memcmp((got), w_, gl_) != 0) {                                  \
      fprintf(stderr, "%s:%d: check failed: %s is \"%.*s\", expected \"%s\"\n", __FILE__, \
              __LINE__, #got, (int)gl_, (const char *)(got), w_);                           \
      check_failures++;                                                                      \
    }                                                                                        \
  } while (0)

#define CHECK_STR(got, want)                                                              \
  do {                                                                                    \
    const char *g_ = (got), *w_ = (want);                                                 \
    if (!(g_ == w_ || (g_ && w_ && strcmp(g_, w_) == 0))) {                               \
      fprintf(stderr, "%s:%d: check failed: %s is \"%s\", expected \"%s\"\n", __FILE__,  \
              __LINE__, #got, g_ ? g_ : "(null)", w_ ? w_ : "(null)");                    \
      check_failures++;                                                                   \
    }                                                                                     \
  } while (0)

#define CHECK_RESULT() (check_failures ? (fprintf(stderr, "%d check(s) failed\n", check_failures), 1) : 0)

#endif
