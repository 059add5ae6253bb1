/* config_namedvalue.c - the namedValues section and {{references}} at YAML nodes.
 * Owns reading named values (value, fromEnv, fromFile, secret) with APIM's limits, and
 * pt__substitute, which every other section uses where APIM allows references. Does not
 * own the substitution itself (namedvalue.c). Secret values never reach a message: only
 * names, lengths and the text as written. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "config_load.h"
#include "namedvalue.h"

#define SECTION "namedValues"

static int name_check(const char *s, char *why, size_t n) {
  size_t len = strlen(s);
  if (len == 0 || len > PT_NAMED_VALUE_NAME_MAX) {
    snprintf(why, n, "must be 1 to %d characters, not %zu", PT_NAMED_VALUE_NAME_MAX, len);
    return 0;
  }
  if (pt_named_value_name_ok(s, len)) return 1;
  snprintf(why, n, "'%.80s' has the character '%c' (allowed: letters, digits, '-', '.', '_')", s,
           s[strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._")]);
  return 0;
}

static char *value_from_file(pt__loader_t *L, const char *path, yaml_node_t *n, char **source) {
  pt__yaml_t *Y = &L->y;
  char *file, *text;
  size_t len;
  if (!pt__want_string(Y, path, n, "a file path")) return NULL;
  if (!*pt__sval(n)) {
    pt__fail_at(Y, n, "%s: empty file name (a path relative to this file)", path);
    return NULL;
  }
  if (!(file = pt__file_path(Y, pt__sval(n)))) return NULL;
  /* enough to tell "too long" once a trailing newline is stripped */
  pt_buf_t b = {0};
  if (pt_buf_read_file(&b, file, PT_NAMED_VALUE_VALUE_MAX + 3) < 0) {
    int e = errno;
    pt_buf_free(&b);
    if (e == ENOMEM) Y->oom = 1;
    else pt__fail_at(Y, n, "%s: cannot read '%s': %s", path, file, strerror(e));
    free(file);
    return NULL;
  }
  text = b.base;
  len = b.len;
  *source = file;
  if (strlen(text) != len) {
    pt__fail_at(Y, n, "%s: the file holds a NUL character (a named value is text)", path);
    free(text);
    return NULL;
  }
  if (len && text[len - 1] == '\n') text[--len] = '\0'; /* editors add one */
  if (len && text[len - 1] == '\r') text[--len] = '\0';
  return text;
}

static char *value_from_env(pt__loader_t *L, const char *path, yaml_node_t *n) {
  pt__yaml_t *Y = &L->y;
  const char *name, *v;
  if (!pt__want_string(Y, path, n, "an environment variable name")) return NULL;
  name = pt__sval(n);
  if (!*name || strchr(name, '=')) {
    pt__fail_at(Y, n, "%s: '%.80s' is not an environment variable name", path, name);
    return NULL;
  }
  if (!(v = getenv(name))) {
    pt__fail_at(Y, n, "%s: environment variable '%.80s' is not set (set it, or use value: or "
                "fromFile:)", path, name);
    return NULL;
  }
  return pt__sdup(Y, v);
}

static char *value_literal(pt__loader_t *L, const char *path, yaml_node_t *n) {
  if (pt__is_null(n)) {
    pt__fail_at(&L->y, n, "%s: expected a string, got nothing (write \"\" around the value)",
                path);
    return NULL;
  }
  return pt__want_string(&L->y, path, n, "a string") ? pt__sdup(&L->y, pt__sval(n)) : NULL;
}

/* APIM's rules on the value; `where` names its source. The value itself is never shown. */
static int value_ok(pt__loader_t *L, const char *path, yaml_node_t *n, const char *where,
                    const char *v) {
  size_t len = strlen(v);
  if (len > PT_NAMED_VALUE_VALUE_MAX) {
    pt__fail_at(&L->y, n, "%s: %s is more than %d characters (APIM's limit on a named value)",
                path, where, PT_NAMED_VALUE_VALUE_MAX);
    return 0;
  }
  if (strspn(v, " \t\r\n\f\v") == len) {
    pt__fail_at(&L->y, n, "%s: %s is empty or only whitespace (a named value needs text)", path,
                where);
    return 0;
  }
  if (pt_named_values_referenced(v))
    pt__warn_at(&L->y, n, "%s: %s holds a {{reference}}, which stays literal (named values are "
                "not substituted inside named values)", path, where);
  return 1;
}

/* The one source of the value: value, fromEnv or fromFile. */
static void load_value(pt__loader_t *L, const char *path, yaml_node_t *k, yaml_node_t **v,
                       yaml_node_t **kn, pt_named_value_cfg_t *nv) {
  static const char *const where[] = {"the value", "the environment variable",
                                      "the file"};
  char kp[PT__KEY_MAX];
  int src = -1;
  for (int i = 0; i < 3; i++) {
    if (!v[i]) continue;
    if (src >= 0) {
      yaml_node_t *later = kn[i]->start_mark.index > kn[src]->start_mark.index ? kn[i] : kn[src];
      pt__fail_at(&L->y, later, "%s: has both %s and %s (keep one)", path,
                  pt__sval(kn[src]), pt__sval(kn[i]));
      return;
    }
    src = i;
  }
  if (src < 0) {
    pt__fail_at(&L->y, k, "%s: needs value, fromEnv or fromFile (e.g. value: \"abc\")", path);
    return;
  }
  pt__key_path(kp, path, pt__sval(kn[src]));
  nv->value = src == 0   ? value_literal(L, kp, v[src])
              : src == 1 ? value_from_env(L, kp, v[src])
                         : value_from_file(L, kp, v[src], &nv->file);
  if (nv->value && !value_ok(L, kp, v[src], where[src], nv->value)) {
    free(nv->value);
    nv->value = NULL;
  }
}

/* `{{Name}}` and `{{name}}` must not both be defined: one would be a typo of the other. */
static void check_case_twin(pt__loader_t *L, const char *path, yaml_node_t *k) {
  const pt_config_t *c = L->c;
  for (int i = 0; i < c->nnamed_values - 1; i++) {
    if (strcasecmp(c->named_values[i].name, pt__sval(k)) == 0) {
      pt__fail_at(&L->y, k, "%s: differs only in case from '%s' at line %d (rename one)", path,
                  c->named_values[i].name, c->named_values[i].line);
      return;
    }
  }
}

static void load_tags(pt__loader_t *L, const char *path, yaml_node_t *n) {
  char ip[PT__KEY_MAX];
  if (pt__is_null(n) || !pt__want_seq(&L->y, path, n, "[security]")) return;
  for (int i = 0; i < pt__seq_len(n); i++) {
    pt__index_path(ip, path, i);
    pt__want_string(&L->y, ip, pt__seq_item(&L->y, n, i), "a string");
  }
}

static void load_named_value(pt__loader_t *L, const char *path, yaml_node_t *k, yaml_node_t *m) {
  static const char *const keys[] = {"value", "fromEnv", "fromFile", "secret", "displayName",
                                     "tags"};
  enum { VALUE, FROM_ENV, FROM_FILE, SECRET, DISPLAY_NAME, TAGS, NKEYS };
  pt__yaml_t *Y = &L->y;
  yaml_node_t *v[NKEYS], *kn[NKEYS];
  pt_config_t *c = L->c;
  pt_named_value_cfg_t *arr, *nv;

  if (!(arr = pt__grow(Y, c->named_values, c->nnamed_values, sizeof *arr))) return;
  c->named_values = arr;
  nv = &arr[c->nnamed_values];
  if (!(nv->name = pt__sdup(Y, pt__sval(k)))) return;
  c->nnamed_values++;
  nv->line = pt__line(k);
  nv->col = pt__col(k);
  check_case_twin(L, path, k);
  pt__map_keys(Y, path, m, keys, NKEYS, v, kn);
  pt__field_bool(Y, path, "secret", v[SECRET], &nv->secret);
  /* APIM's JSON names a named value by displayName; here the key is that name. */
  if (v[DISPLAY_NAME] && pt__want_string(Y, path, v[DISPLAY_NAME], "a string") &&
      strcmp(pt__sval(v[DISPLAY_NAME]), nv->name) != 0)
    pt__fail_at(Y, v[DISPLAY_NAME], "%s.displayName: '%.80s' differs from the key '%s' "
                "(references use the key: rename the key to '%.80s' or drop displayName)",
                path, pt__sval(v[DISPLAY_NAME]), nv->name, pt__sval(v[DISPLAY_NAME]));
  if (v[TAGS]) {
    char kp[PT__KEY_MAX];
    pt__key_path(kp, path, "tags");
    load_tags(L, kp, v[TAGS]);
  }
  load_value(L, path, k, v, kn, nv);
}

void pt__load_named_values(pt__loader_t *L, yaml_node_t *section) {
  pt__each_entry(L, SECTION, section, name_check, load_named_value);
}

static void report_missing(pt__loader_t *L, const char *path, yaml_node_t *n,
                           const char *name) {
  const pt_config_t *c = L->c;
  const char *best = pt__closest(name, c->named_values, c->nnamed_values, sizeof *c->named_values);
  char list[PT__ERR_MAX];
  if (best && strcasecmp(best, name) == 0)
    pt__fail_at(&L->y, n, "%s: named value '%s' is not defined (did you mean '%s'? names are "
                "case-sensitive)", path, name, best);
  else if (best)
    pt__fail_at(&L->y, n, "%s: named value '%s' is not defined (did you mean '%s'?)", path, name,
                best);
  else if (c->nnamed_values == 0)
    pt__fail_at(&L->y, n, "%s: named value '%s' is not defined (no named values are defined; "
                "add it under namedValues:)", path, name);
  else {
    pt__name_list(list, sizeof list, c->named_values, c->nnamed_values, sizeof *c->named_values);
    pt__fail_at(&L->y, n, "%s: named value '%s' is not defined (defined: %s; add it under "
                "namedValues:)", path, name, list);
  }
}

int pt__substitute(pt__loader_t *L, const char *path, yaml_node_t *n, char **out, int *secret) {
  char missing[PT_NAMED_VALUE_NAME_MAX + 1];
  int used = 0, rc;
  if (!pt__want_string(&L->y, path, n, "a string")) return -1;
  free(*out);
  rc = pt_named_values_substitute(L->c, pt__sval(n), out, &used, missing, sizeof missing);
  if (rc == PT_NV_NOMEM) L->y.oom = 1;
  if (rc == PT_NV_MISSING) report_missing(L, path, n, missing);
  if (rc < 0) return -1; /* PT_NV_NO_VALUE: reported where the named value is defined */
  if (used && secret) *secret = 1;
  return 0;
}

void pt__free_named_values(pt_config_t *c) {
  for (int i = 0; i < c->nnamed_values; i++) {
    pt_named_value_cfg_t *nv = &c->named_values[i];
    free(nv->name);
    free(nv->value);
    free(nv->file);
  }
  free(c->named_values);
}
