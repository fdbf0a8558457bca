#include "bench/lib/tally.h"

#include <string.h>

void bench_tally_add(struct bench_tally *t, const char *key, uint64_t n)
{
	if (!key[0])
		return;
	for (int i = 0; i < BENCH_TALLY_KEYS; i++) {
		if (!t->c[i].key[0]) {
			snprintf(t->c[i].key, sizeof(t->c[i].key), "%s", key);
			t->c[i].n = n;
			return;
		}
		if (!strcmp(t->c[i].key, key)) {
			t->c[i].n += n;
			return;
		}
	}
	t->other += n;
}

uint64_t bench_tally_get(const struct bench_tally *t, const char *key)
{
	for (int i = 0; i < BENCH_TALLY_KEYS && t->c[i].key[0]; i++)
		if (!strcmp(t->c[i].key, key))
			return t->c[i].n;
	return 0;
}

void bench_tally_merge(struct bench_tally *into, const struct bench_tally *from)
{
	for (int i = 0; i < BENCH_TALLY_KEYS && from->c[i].key[0]; i++)
		bench_tally_add(into, from->c[i].key, from->c[i].n);
	into->other += from->other;
}

void bench_tally_json(FILE *f, const char *name, const struct bench_tally *t)
{
	fprintf(f, "\"%s\":{", name);
	for (int i = 0; i < BENCH_TALLY_KEYS && t->c[i].key[0]; i++)
		fprintf(f, "%s\"%s\":%llu", i ? "," : "", t->c[i].key,
			(unsigned long long)t->c[i].n);
	if (t->other)
		fprintf(f, "%s\"(other)\":%llu", t->c[0].key[0] ? "," : "",
			(unsigned long long)t->other);
	fprintf(f, "}");
}
