/* yamlnode.h - located reading of a libyaml document (internal, pt__ prefix).
 * Owns the helpers every YAML section reader shares: messages at a node
 * ("file:line:col: key.path: what (fix)"), typed reads of scalars (strings,
 * booleans, integers, durations, sizes, enumerations), mappings with known keys
 * and "did you mean" suggestions, and paths relative to the YAML file.
 * Does not know the configuration schema: config*.c does. */
#ifndef PT_YAMLNODE_H
#define PT_YAMLNODE_H

#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "diag.h"

#define PT__KEY_MAX 512 /* dotted key paths in messages; longer ones are cut */
#define PT__ERR_MAX 512

typedef struct pt__yaml_s {
  const char *file;     /* named in every message */
  pt_diag_t *d;         /* where messages go */
  yaml_document_t doc;  /* the document being read */
  int oom;              /* an allocation failed; the caller reports it once */
} pt__yaml_t;

/* ---- messages ---- */
void pt__fail_at(pt__yaml_t *Y, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void pt__warn_at(pt__yaml_t *Y, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int pt__line(const yaml_node_t *n);
int pt__col(const yaml_node_t *n);

/* ---- memory: both set Y->oom and return NULL on failure ---- */
char *pt__sdup(pt__yaml_t *Y, const char *s);
/* Makes room for one more zeroed element after n; returns the (maybe moved) array. */
void *pt__grow(pt__yaml_t *Y, void *arr, int n, size_t size);

/* ---- nodes ---- */
yaml_node_t *pt__node(pt__yaml_t *Y, int i);
const char *pt__sval(const yaml_node_t *n);
int pt__is_null(const yaml_node_t *n);
const char *pt__kind(const yaml_node_t *n); /* "a mapping", "a sequence", "nothing", "a string" */
void pt__key_path(char *buf, const char *parent, const char *key);   /* "a.b" */
void pt__index_path(char *buf, const char *parent, int i);          /* "a[3]" */
int pt__seq_len(const yaml_node_t *n);
yaml_node_t *pt__seq_item(pt__yaml_t *Y, const yaml_node_t *n, int i);

/* ---- shapes: 1 when n has the shape, else 0 after reporting ---- */
int pt__want_string(pt__yaml_t *Y, const char *path, yaml_node_t *n, const char *what);
/* A mapping; a missing or null node counts as empty (0, nothing reported). */
int pt__want_map(pt__yaml_t *Y, const char *path, yaml_node_t *n);
/* A mapping that must be there: a null node is reported too. */
int pt__need_map(pt__yaml_t *Y, const char *path, yaml_node_t *n);
int pt__want_seq(pt__yaml_t *Y, const char *path, yaml_node_t *n, const char *example);
/* A mapping key must be a plain string. */
int pt__key_ok(pt__yaml_t *Y, const char *parent, yaml_node_t *k);

/* Finds the known keys of a mapping: vals[i] (and knodes[i], may be NULL) is the value
 * (and key) of keys[i], or NULL. Unknown and repeated keys are reported here. */
void pt__map_keys(pt__yaml_t *Y, const char *path, yaml_node_t *map, const char *const *keys,
                  int nkeys, yaml_node_t **vals, yaml_node_t **knodes);

/* ---- typed values: 0, or -1 after reporting ---- */
int pt__get_string(pt__yaml_t *Y, const char *path, yaml_node_t *n, char **out);
int pt__get_bool(pt__yaml_t *Y, const char *path, yaml_node_t *n, int *out);
int pt__get_uint(pt__yaml_t *Y, const char *path, yaml_node_t *n, uint64_t lo, uint64_t hi,
                 uint64_t *out);
int pt__get_size(pt__yaml_t *Y, const char *path, yaml_node_t *n, uint64_t hi, uint64_t *out);
int pt__get_duration(pt__yaml_t *Y, const char *path, yaml_node_t *n, uint64_t lo,
                     uint64_t *out);
/* One of names (compared ignoring case); *out is its index. `what` names the kind of
 * value in the message: "'grpc' is not a protocol (expected http or soap)". */
int pt__get_enum(pt__yaml_t *Y, const char *path, yaml_node_t *n, const char *what,
                 const char *const *names, int nnames, int *out);

/* The same for the value of `key` under `parent`: nothing happens when n is NULL. */
int pt__field_string(pt__yaml_t *Y, const char *parent, const char *key, yaml_node_t *n,
                     char **out);
int pt__field_bool(pt__yaml_t *Y, const char *parent, const char *key, yaml_node_t *n, int *out);
int pt__field_int(pt__yaml_t *Y, const char *parent, const char *key, yaml_node_t *n, int lo,
                  int hi, int *out);
int pt__field_enum(pt__yaml_t *Y, const char *parent, const char *key, yaml_node_t *n,
                   const char *what, const char *const *names, int nnames, int *out);

/* ---- names ---- */
/* Optimal string alignment distance, ignoring case (a swap of two letters counts once). */
int pt__edit_distance(const char *a, const char *b);
/* Both take n names as the first member (a char *) of elements `stride` bytes apart:
 * an array of strings, or of structs that start with their id. */
/* The name closest to `name` within a typo's distance, or NULL. */
const char *pt__closest(const char *name, const void *names, int n, size_t stride);
/* Writes "a, b, c" (cut after about 200 characters) into buf. */
void pt__name_list(char *buf, size_t size, const void *names, int n, size_t stride);

/* ---- files ---- */
/* `rel` relative to the directory of the YAML file (absolute paths unchanged). */
char *pt__file_path(pt__yaml_t *Y, const char *rel);

#endif
