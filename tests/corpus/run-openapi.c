/* run-openapi.c - imports every spec of an OpenAPI corpus folder (default
 * ../shared/corpus/openapi, relative to the repository root) and compares the service URL
 * and the operations (name, method, URL template, required query parameters) with the
 * folder's expected.json, which holds what APIM's rules give (see its SOURCE.md).
 *
 *   run-openapi [-v] [DIR]     -v also prints each import's warnings and errors
 *
 * Prints one line per spec and the totals; exits 0 when everything matches, 1 when
 * something does not, 77 (ctest's skip) when the folder is absent, as on a clean clone. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "openapi.h"

typedef struct totals_s {
  int specs, url_ok, all_ok, ops, ops_ok;
} totals_t;

static yaml_document_t doc;

static yaml_node_t *get(yaml_node_t *m, const char *key) {
  if (!m || m->type != YAML_MAPPING_NODE) return NULL;
  for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
    yaml_node_t *k = yaml_document_get_node(&doc, p->key);
    if (k->type == YAML_SCALAR_NODE && strcmp((char *)k->data.scalar.value, key) == 0)
      return yaml_document_get_node(&doc, p->value);
  }
  return NULL;
}

static const char *str(yaml_node_t *n) {
  return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : "";
}

static int nitems(yaml_node_t *n) {
  return n && n->type == YAML_SEQUENCE_NODE
             ? (int)(n->data.sequence.items.top - n->data.sequence.items.start) : 0;
}

static yaml_node_t *item(yaml_node_t *n, int i) {
  return yaml_document_get_node(&doc, n->data.sequence.items.start[i]);
}

static int load_expected(const char *path) {
  FILE *f = fopen(path, "rb");
  yaml_parser_t p;
  int ok;
  if (!f) return -1;
  yaml_parser_initialize(&p);
  yaml_parser_set_input_file(&p, f);
  ok = yaml_parser_load(&p, &doc);
  if (!ok) fprintf(stderr, "%s:%zu:%zu: %s\n", path, p.problem_mark.line + 1,
                   p.problem_mark.column + 1, p.problem);
  yaml_parser_delete(&p);
  fclose(f);
  return ok && yaml_document_get_root_node(&doc) ? 0 : -1;
}

/* "q={q}&s={s}" -> "q,s" (the required query parameters a template carries). */
static void template_query(const char *tpl, char *out, size_t outlen) {
  const char *q = strchr(tpl, '?');
  size_t n = 0;
  out[0] = '\0';
  while (q && *q && n + 1 < outlen) {
    const char *name = q + 1, *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strcspn(name, "&");
    n += (size_t)snprintf(out + n, outlen - n, "%s%.*s", n ? "," : "", (int)len, name);
    q = strchr(name, '&');
  }
}

static void expected_query(yaml_node_t *op, char *out, size_t outlen) {
  yaml_node_t *req = get(op, "requiredQueryParameters");
  size_t n = 0;
  out[0] = '\0';
  for (int i = 0; i < nitems(req) && n + 1 < outlen; i++)
    n += (size_t)snprintf(out + n, outlen - n, "%s%s", i ? "," : "", str(item(req, i)));
}

/* Compares operation i with the expected one; prints why when it differs. */
static int same_operation(const pt_api_cfg_t *api, int i, yaml_node_t *want) {
  const pt_operation_cfg_t *op = i < api->noperations ? &api->operations[i] : NULL;
  char got_q[512], want_q[512];
  size_t plen;
  expected_query(want, want_q, sizeof want_q);
  if (!op) {
    printf("      missing: %s %s %s\n", str(get(want, "name")), str(get(want, "method")),
           str(get(want, "urlTemplate")));
    return 0;
  }
  template_query(op->url_template, got_q, sizeof got_q);
  plen = strcspn(op->url_template, "?");
  if (!strcmp(op->id, str(get(want, "name"))) && !strcmp(op->method, str(get(want, "method"))) &&
      strlen(str(get(want, "urlTemplate"))) == plen &&
      !strncmp(op->url_template, str(get(want, "urlTemplate")), plen) && !strcmp(got_q, want_q))
    return 1;
  printf("      operation %d: got %s %s %s, expected %s %s %s%s%s\n", i + 1, op->id, op->method,
         op->url_template, str(get(want, "name")), str(get(want, "method")),
         str(get(want, "urlTemplate")), *want_q ? " with required query " : "", want_q);
  return 0;
}

static void run_spec(const char *dir, const char *name, yaml_node_t *want, int verbose,
                     totals_t *t) {
  char path[4096];
  pt_diag_t d = {0};
  pt_api_cfg_t api;
  yaml_node_t *ops = get(want, "operations");
  int nwant = nitems(ops), nok = 0, rc, url_ok;
  const char *want_url = str(get(want, "serviceUrl"));

  snprintf(path, sizeof path, "%s/%s", dir, name);
  rc = pt_openapi_import(path, NULL, &api, &d);
  t->specs++;
  t->ops += nwant;
  if (!want) {
    printf("?     %s: no expectation in expected.json (import %s, %d operations)\n", name,
           rc ? "failed" : "ok", rc ? 0 : api.noperations);
  } else if (rc < 0) {
    printf("FAIL  %s: the import failed\n", name);
    verbose = 1;
  } else {
    const char *got_url = api.service_url_text ? api.service_url_text : "";
    url_ok = strcmp(got_url, want_url) == 0;
    t->url_ok += url_ok;
    for (int i = 0; i < nwant; i++) nok += same_operation(&api, i, item(ops, i));
    for (int i = nwant; i < api.noperations; i++)
      printf("      unexpected: %s %s %s\n", api.operations[i].id, api.operations[i].method,
             api.operations[i].url_template);
    t->ops_ok += nok;
    int all = url_ok && nok == nwant && api.noperations == nwant;
    t->all_ok += all;
    if (url_ok)
      printf("%s  %s: service URL '%s'; %d/%d operations\n", all ? "ok  " : "FAIL", name,
             got_url, nok, nwant);
    else
      printf("FAIL  %s: service URL '%s', expected '%s'; %d/%d operations\n", name, got_url,
             want_url, nok, nwant);
  }
  if (verbose)
    for (int i = 0; i < d.count; i++) printf("      | %s\n", d.messages[i]);
  if (rc == 0) pt_openapi_api_free(&api);
  pt_diag_free(&d);
}

static int is_spec(const char *name) {
  size_t n = strlen(name);
  if (!strcmp(name, "expected.json")) return 0;
  return (n > 5 && !strcmp(name + n - 5, ".yaml")) || (n > 4 && !strcmp(name + n - 4, ".yml")) ||
         (n > 5 && !strcmp(name + n - 5, ".json"));
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv) {
  const char *dir = "../shared/corpus/openapi";
  char path[4096];
  char **names = NULL;
  int n = 0, verbose = 0;
  totals_t t = {0};
  struct dirent *e;
  struct stat st;
  DIR *dp;

  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-v")) verbose = 1;
    else dir = argv[i];
  }
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
    printf("skipped: the OpenAPI corpus folder '%s' is not there (it lives outside the "
           "repository, in ../shared; give its path as the argument)\n", dir);
    return 77;
  }
  snprintf(path, sizeof path, "%s/expected.json", dir);
  if (load_expected(path) < 0) {
    printf("%s: cannot read the expectations\n", path);
    return 1;
  }
  if (!(dp = opendir(dir))) return 1;
  while ((e = readdir(dp))) {
    if (!is_spec(e->d_name)) continue;
    names = realloc(names, sizeof *names * (size_t)(n + 1));
    names[n++] = strdup(e->d_name);
  }
  closedir(dp);
  qsort(names, (size_t)n, sizeof *names, by_name);
  yaml_node_t *root = yaml_document_get_root_node(&doc);
  for (int i = 0; i < n; i++) {
    run_spec(dir, names[i], get(root, names[i]), verbose, &t);
    free(names[i]);
  }
  free(names);
  if (root && root->type == YAML_MAPPING_NODE) /* expectations without a spec file */
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
      const char *k = str(yaml_document_get_node(&doc, p->key));
      snprintf(path, sizeof path, "%s/%s", dir, k);
      if (stat(path, &st) != 0) {
        printf("FAIL  %s: in expected.json but not in the folder\n", k);
        t.specs++;
      }
    }
  printf("%d/%d specs match (service URL), %d/%d operations match, %d/%d specs match "
         "completely\n", t.url_ok, t.specs, t.ops_ok, t.ops, t.all_ok, t.specs);
  yaml_document_delete(&doc);
  return t.all_ok == t.specs ? 0 : 1;
}
