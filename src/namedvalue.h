/* namedvalue.h - APIM named values: `{{name}}` references substituted as text.
 * Used by the configuration loader (backend URLs, credentials, proxies, subscription
 * keys) and by the policy engine (policy documents, before expressions compile).
 * The rules are APIM's: a reference is `{{` + a valid name + `}}`; substituted text is
 * never scanned again (a value holding `{{x}}` stays literal); anything else between
 * braces (`{{ x }}`, `{{a b}}`) is not a reference and stays as written. */
#ifndef PT_NAMEDVALUE_H
#define PT_NAMEDVALUE_H

#include <stddef.h>

#include "config.h"

#define PT_NAMED_VALUE_NAME_MAX 256
#define PT_NAMED_VALUE_VALUE_MAX 4096

/* 1 when s[0..len) is a valid named value name: [A-Za-z0-9-._], 1 to 256 characters. */
int pt_named_value_name_ok(const char *s, size_t len);

/* The named value called s[0..len) (exact, case-sensitive), or NULL. */
const pt_named_value_cfg_t *pt_named_value_find(const pt_config_t *c, const char *s, size_t len);

#define PT_NV_MISSING (-1)  /* a reference to an undefined name */
#define PT_NV_NOMEM (-2)    /* out of memory */
#define PT_NV_NO_VALUE (-3) /* a reference to a named value without a value (it failed to load) */

/* Replaces every `{{name}}` in text with its value. On success returns 0 and *out is a
 * new string (caller frees); *used_secret (if not NULL) is 1 when a secret value went in,
 * else 0. Otherwise returns a PT_NV_* code with *out NULL; for PT_NV_MISSING and
 * PT_NV_NO_VALUE the name is in missing (cut to missing_len - 1). Never logs anything. */
int pt_named_values_substitute(const pt_config_t *c, const char *text, char **out,
                               int *used_secret, char *missing, size_t missing_len);

/* 1 when text holds at least one `{{name}}` reference. */
int pt_named_values_referenced(const char *text);

#endif
