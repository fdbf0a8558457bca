/* Tokens and op cycles of the load tools; see proto.h. */
#include "bench/lib/proto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/lib/msg.h"

/* Reads session tokens, one 32-hex token a line (blank lines and lines
 * starting with '#' skipped). Returns the count (at least 1) and *out
 * (malloc'd), or -1 after a message (a bad line, an empty file). */
static int bench_load_tokens(const char *path, bench_token **out)
{
	bench_token *toks = NULL;
	char line[256];
	int n = 0, cap = 0;
	FILE *f = fopen(path, "r");

	if (!f) {
		bench_err("%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, " \t\r\n")] = '\0';
		if (!line[0] || line[0] == '#')
			continue;
		if (n == cap) {
			void *grown;

			cap = cap ? cap * 2 : 256;
			grown = realloc(toks, (size_t)cap * sizeof(*toks));
			if (!grown) {
				bench_err("out of memory");
				goto fail;
			}
			toks = grown;
		}
		if (tkt_token_from_hex(line, toks[n]) < 0) {
			bench_err("%s: bad token '%s' (32 hex digits)", path,
				  line);
			goto fail;
		}
		n++;
	}
	fclose(f);
	if (n == 0) {
		bench_err("%s holds no tokens", path);
		free(toks);
		return -1;
	}
	*out = toks;
	return n;
fail:
	fclose(f);
	free(toks);
	return -1;
}

int bench_tokens_from(const char *file, const char *one_hex, bench_token **out)
{
	bench_token *one;

	if (file)
		return bench_load_tokens(file, out);
	one = calloc(1, sizeof(*one));
	if (!one) {
		bench_err("out of memory");
		return -1;
	}
	if (one_hex && tkt_token_from_hex(one_hex, one[0]) < 0) {
		bench_err("--token is 32 hex digits");
		free(one);
		return -1;
	}
	*out = one;
	return 1;
}

bench_token_hex *bench_load_tokens_hex(const char *path, int *n)
{
	bench_token *bin;
	bench_token_hex *hex;

	*n = bench_load_tokens(path, &bin);
	if (*n < 0)
		return NULL;
	hex = calloc((size_t)*n, sizeof(*hex));
	if (!hex)
		bench_err("out of memory");
	for (int i = 0; hex && i < *n; i++)
		tkt_token_to_hex(bin[i], hex[i]);
	free(bin);
	return hex;
}

int bench_parse_mix(const char *mix, uint8_t *ops, int cap)
{
	char buf[256], *save = NULL, *tok;
	int n = 0;

	if (strlen(mix) >= sizeof(buf))
		return -1;
	strcpy(buf, mix);
	for (tok = strtok_r(buf, ",+", &save); tok;
	     tok = strtok_r(NULL, ",+", &save)) {
		int op = tkt_op_from_name(tok);

		if (op < 0 || n == cap)
			return -1;
		ops[n++] = (uint8_t)op;
	}
	return n > 0 ? n : -1;
}
