/* libFuzzer harness for the W3C traceparent parser and formatter
 * (userspace/lib/traceparent.c): the bytes, cut at the first NUL, are a
 * traceparent header value. Whatever the bytes: no crash, no read past
 * them; a refused value leaves an empty context; an accepted one has
 * lowercase, non-zero ids that format back to version 00 of the same
 * fields, which parses again to the same fields; trace_id_parse agrees
 * with traceparent_parse. Run: make fuzz (README.md, "Fuzzing"). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "userspace/lib/traceparent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
	if (!cond)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	struct traceparent tp, again;
	char out[TRACEPARENT_LEN + 1], id[TRACE_ID_LEN + 1] = "x";
	int rc;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	rc = traceparent_parse(text, &tp);
	check((trace_id_parse(text, id) == 0) == (rc == 0));
	if (rc) {
		check(tp.trace_id[0] == '\0' && tp.parent_id[0] == '\0');
		check(id[0] == 'x');
	} else {
		check(strlen(tp.trace_id) == TRACE_ID_LEN);
		check(strlen(tp.parent_id) == SPAN_ID_LEN);
		check(!strcmp(id, tp.trace_id));
		check(tp.version != 0xff);
		check(traceparent_format(&tp, out) == 0);
		check(strlen(out) == TRACEPARENT_LEN && !strncmp(out, "00-", 3));
		check(traceparent_parse(out, &again) == 0);
		check(!strcmp(again.trace_id, tp.trace_id) &&
		      !strcmp(again.parent_id, tp.parent_id) &&
		      again.flags == tp.flags && again.version == 0);
	}
	free(text);
	return 0;
}
