/* test-namedvalue.c - unit tests of namedvalue.c: `{{name}}` substitution on a
 * hand-built configuration (no YAML): text, several and adjacent references, no
 * recursion, what is not a reference, missing names, the secret flag, names. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "namedvalue.h"

static pt_named_value_cfg_t values[] = {
    {"host", "orders.internal", 0, NULL, 1, 1},
    {"key", "s3cr3t", 1, NULL, 2, 1},
    {"nested", "a{{host}}b", 0, NULL, 3, 1},
    {"Mixed.Case_1-x", "M", 0, NULL, 4, 1},
    {"failed", NULL, 0, NULL, 5, 1}, /* a value that failed to load */
};

static pt_config_t config = {.named_values = values, .nnamed_values = 5};

/* Substitutes text and checks rc, the result and the secret flag. */
static void expect(int line, const char *text, int rc, const char *out, int secret,
                   const char *missing) {
  char *got = (char *)"unchanged", miss[32] = "";
  int used = -1;
  int r = pt_named_values_substitute(&config, text, &got, &used, miss, sizeof miss);
  if (r != rc || (rc == 0 && (!got || strcmp(got, out) != 0 || used != secret)) ||
      (rc < 0 && (got != NULL || strcmp(miss, missing) != 0))) {
    fprintf(stderr, "%s:%d: check failed: \"%s\" -> rc %d, \"%s\", secret %d, missing \"%s\"\n",
            __FILE__, line, text, r, got ? got : "(null)", used, miss);
    check_failures++;
  }
  if (r == 0) free(got);
}

static void test_substitute(void) {
  expect(__LINE__, "", 0, "", 0, NULL);
  expect(__LINE__, "plain text", 0, "plain text", 0, NULL);
  expect(__LINE__, "http://{{host}}:9002/api", 0, "http://orders.internal:9002/api", 0, NULL);
  expect(__LINE__, "{{host}}", 0, "orders.internal", 0, NULL);
  expect(__LINE__, "{{key}}{{key}}", 0, "s3cr3ts3cr3t", 1, NULL);
  expect(__LINE__, "{{host}}/{{key}}", 0, "orders.internal/s3cr3t", 1, NULL);
  expect(__LINE__, "{{Mixed.Case_1-x}}", 0, "M", 0, NULL);
  /* no recursion: a value holding a reference is inserted as it is */
  expect(__LINE__, "x{{nested}}y", 0, "xa{{host}}by", 0, NULL);
  expect(__LINE__, "{{failed}}!", PT_NV_NO_VALUE, NULL, 0, "failed");
  /* not references: they stay as written */
  expect(__LINE__, "{{ host }}", 0, "{{ host }}", 0, NULL);
  expect(__LINE__, "{{}}", 0, "{{}}", 0, NULL);
  expect(__LINE__, "{{a b}}", 0, "{{a b}}", 0, NULL);
  expect(__LINE__, "{{host}", 0, "{{host}", 0, NULL);
  expect(__LINE__, "{host}}", 0, "{host}}", 0, NULL);
  expect(__LINE__, "{{host", 0, "{{host", 0, NULL);
  expect(__LINE__, "{{{host}}}", 0, "{orders.internal}", 0, NULL);
  expect(__LINE__, "{{{{host}}}}", 0, "{{orders.internal}}", 0, NULL);
  expect(__LINE__, "{{h/x}}", 0, "{{h/x}}", 0, NULL);
  /* missing names, exact case */
  expect(__LINE__, "a{{nope}}b", PT_NV_MISSING, NULL, 0, "nope");
  expect(__LINE__, "{{host}}{{Host}}", PT_NV_MISSING, NULL, 0, "Host");
  expect(__LINE__, "{{hostt}}", PT_NV_MISSING, NULL, 0, "hostt");
  expect(__LINE__, "{{abcdefghijklmnopqrstuvwxyz0123456789}}", PT_NV_MISSING, NULL, 0,
         "abcdefghijklmnopqrstuvwxyz01234"); /* cut to the buffer */
}

static void test_optional_outputs(void) {
  char *out = NULL;
  CHECK(pt_named_values_substitute(&config, "{{key}}", &out, NULL, NULL, 0) == 0);
  CHECK(out && strcmp(out, "s3cr3t") == 0);
  free(out);
  CHECK(pt_named_values_substitute(&config, "{{x}}", &out, NULL, NULL, 0) == -1 && !out);
  pt_config_t empty = {0};
  CHECK(pt_named_values_substitute(&empty, "{{x}}", &out, NULL, NULL, 0) == -1);
  CHECK(pt_named_values_substitute(&empty, "x", &out, NULL, NULL, 0) == 0);
  CHECK(out && strcmp(out, "x") == 0);
  free(out);
}

static void test_names(void) {
  static char long_name[300];
  CHECK(pt_named_value_name_ok("a", 1));
  CHECK(pt_named_value_name_ok("A-b.c_9", 7));
  CHECK(!pt_named_value_name_ok("", 0));
  CHECK(!pt_named_value_name_ok("a b", 3));
  CHECK(!pt_named_value_name_ok("a/b", 3));
  CHECK(!pt_named_value_name_ok("{a}", 3));
  memset(long_name, 'n', 257);
  CHECK(pt_named_value_name_ok(long_name, 256));
  CHECK(!pt_named_value_name_ok(long_name, 257));
  CHECK(pt_named_value_find(&config, "host", 4) == &values[0]);
  CHECK(pt_named_value_find(&config, "hostname", 4) == &values[0]); /* length-bounded */
  CHECK(pt_named_value_find(&config, "hos", 3) == NULL);
  CHECK(pt_named_value_find(&config, "HOST", 4) == NULL);
  CHECK(pt_named_values_referenced("a{{b}}c"));
  CHECK(!pt_named_values_referenced("a{{ b }}c"));
  CHECK(!pt_named_values_referenced("plain"));
  CHECK(pt_named_values_referenced("{{ x }} {{y}}"));
}

int main(void) {
  test_substitute();
  test_optional_outputs();
  test_names();
  if (!check_failures) printf("test-namedvalue: all checks passed\n");
  return CHECK_RESULT();
}
