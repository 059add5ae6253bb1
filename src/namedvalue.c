/* namedvalue.c - `{{name}}` substitution (see namedvalue.h).
 * Owns the reference syntax and the one-pass substitution. Does not own loading the
 * namedValues section (config_namedvalue.c) nor reporting: callers locate and word
 * their own messages, and must not print substituted text that used a secret. */
#include "namedvalue.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

int pt_named_value_name_ok(const char *s, size_t len) {
  if (len == 0 || len > PT_NAMED_VALUE_NAME_MAX) return 0;
  for (size_t i = 0; i < len; i++)
    if (!isalnum((unsigned char)s[i]) && !strchr("-._", s[i])) return 0;
  return 1;
}

const pt_named_value_cfg_t *pt_named_value_find(const pt_config_t *c, const char *s, size_t len) {
  for (int i = 0; i < c->nnamed_values; i++) {
    const char *name = c->named_values[i].name;
    if (name && strncmp(name, s, len) == 0 && name[len] == '\0') return &c->named_values[i];
  }
  return NULL;
}

/* The length of the name of a reference starting at p ("{{"), or 0 when it is none. */
static size_t reference_at(const char *p) {
  size_t n;
  if (p[0] != '{' || p[1] != '{') return 0;
  n = strspn(p + 2, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._");
  if (p[2 + n] != '}' || p[3 + n] != '}' || !pt_named_value_name_ok(p + 2, n)) return 0;
  return n;
}

int pt_named_values_referenced(const char *text) {
  for (const char *p = strstr(text, "{{"); p; p = strstr(p + 1, "{{"))
    if (reference_at(p)) return 1;
  return 0;
}

/* Appends n bytes to the growing string *buf (length *len, capacity *cap). */
static int append(char **buf, size_t *len, size_t *cap, const char *s, size_t n) {
  if (*len + n + 1 > *cap) {
    size_t ncap = (*len + n + 1) * 2;
    char *nb = realloc(*buf, ncap);
    if (!nb) return -1;
    *buf = nb;
    *cap = ncap;
  }
  memcpy(*buf + *len, s, n);
  *len += n;
  (*buf)[*len] = '\0';
  return 0;
}

static void set_missing(char *missing, size_t missing_len, const char *name, size_t n) {
  if (!missing || missing_len == 0) return;
  if (n >= missing_len) n = missing_len - 1;
  memcpy(missing, name, n);
  missing[n] = '\0';
}

int pt_named_values_substitute(const pt_config_t *c, const char *text, char **out,
                               int *used_secret, char *missing, size_t missing_len) {
  char *buf = NULL;
  size_t len = 0, cap = 0;
  const char *p = text, *ref;
  *out = NULL;
  if (used_secret) *used_secret = 0;
  if (append(&buf, &len, &cap, "", 0) < 0) return PT_NV_NOMEM;
  while ((ref = strstr(p, "{{"))) {
    size_t n = reference_at(ref);
    const pt_named_value_cfg_t *nv;
    if (!n) { /* not a reference: keep one '{' and look again after it */
      if (append(&buf, &len, &cap, p, (size_t)(ref - p) + 1) < 0) goto oom;
      p = ref + 1;
      continue;
    }
    if (!(nv = pt_named_value_find(c, ref + 2, n)) || !nv->value) {
      set_missing(missing, missing_len, ref + 2, n);
      free(buf);
      return nv ? PT_NV_NO_VALUE : PT_NV_MISSING;
    }
    if (append(&buf, &len, &cap, p, (size_t)(ref - p)) < 0 ||
        append(&buf, &len, &cap, nv->value, strlen(nv->value)) < 0)
      goto oom;
    if (nv->secret && used_secret) *used_secret = 1;
    p = ref + n + 4;
  }
  if (append(&buf, &len, &cap, p, strlen(p)) < 0) goto oom;
  *out = buf;
  return 0;
oom:
  free(buf);
  return PT_NV_NOMEM;
}
