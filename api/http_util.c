/* Request and response helpers shared by every handler: error bodies, JSON
 * bodies, ids, trace ids, times. */
#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "api/http.h"
#include "userspace/lib/clock.h"

const char *http_header(const struct http_req *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *http_query(const struct http_req *req, const char *name)
{
	return req->conn ? MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name)
			 : NULL;
}

struct query_buf {
	char *p;
	size_t len, used;
	bool ok;
};

static void query_put(struct query_buf *q, const char *s, bool encode)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s && q->ok; s++) {
		unsigned char c = (unsigned char)*s;
		bool plain = !encode || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
			     c == '~';

		if (q->used + (plain ? 1 : 3) >= q->len) {
			q->ok = false;
			return;
		}
		if (plain) {
			q->p[q->used++] = (char)c;
		} else {
			q->p[q->used++] = '%';
			q->p[q->used++] = hex[c >> 4];
			q->p[q->used++] = hex[c & 15];
		}
	}
}

static enum MHD_Result query_arg(void *cls, enum MHD_ValueKind kind,
				 const char *key, const char *value)
{
	struct query_buf *q = cls;

	(void)kind;
	query_put(q, q->used ? "&" : "?", false);
	query_put(q, key ? key : "", true);
	if (value) {
		query_put(q, "=", false);
		query_put(q, value, true);
	}
	return q->ok ? MHD_YES : MHD_NO;
}

bool http_query_string(const struct http_req *req, char *buf, size_t len)
{
	struct query_buf q = {.p = buf, .len = len, .used = 0, .ok = len > 0};

	if (req->conn && q.ok)
		MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, query_arg, &q);
	if (len)
		buf[q.ok ? q.used : 0] = '\0';
	return q.ok;
}

const struct sockaddr *http_client_addr(const struct http_req *req)
{
	const union MHD_ConnectionInfo *ci;

	if (req->forwarded.ss_family != AF_UNSPEC)
		return (const struct sockaddr *)&req->forwarded;
	ci = req->conn ? MHD_get_connection_info(req->conn,
						 MHD_CONNECTION_INFO_CLIENT_ADDRESS)
		       : NULL;

	return ci ? ci->client_addr : NULL;
}

void http_json(struct http_resp *resp, int status, json_t *body)
{
	char *text = body ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER)
			  : NULL;

	json_decref(body);
	free(resp->body);
	resp->status = status;
	resp->content_type = "application/json";
	if (!text) { /* out of memory: still answer something valid */
		resp->status = 500;
		text = strdup("{\"code\":\"INTERNAL\",\"message\":\"out of memory\"}");
	}
	resp->body = text;
	resp->body_len = text ? strlen(text) : 0;
}

void http_error(struct http_resp *resp, const struct http_req *req, int status,
		const char *code, const char *message, json_t *details)
{
	json_t *body = json_pack("{s:s, s:s, s:s}", "code", code, "message",
				 message, "traceId", req->trace_id);

	if (body && details)
		json_object_set_new(body, "details", details);
	else
		json_decref(details);
	http_json(resp, status, body);
}

void http_overloaded(struct http_resp *resp, const struct http_req *req,
		     unsigned retry_after, const char *door, const char *reason)
{
	resp->retry_after = retry_after ? retry_after : 1;
	http_error(resp, req, 503, "OVERLOADED",
		   "the server is saturated; nothing was done, retry after the "
		   "Retry-After delay",
		   json_pack("{s:s, s:s}", "door", door, "reason", reason));
}

bool http_gate_enter(struct http_gate *g)
{
	if (g->max <= 0) {
		atomic_fetch_add(&g->inflight, 1);
		return true;
	}
	if (atomic_fetch_add(&g->inflight, 1) >= g->max) {
		atomic_fetch_sub(&g->inflight, 1);
		atomic_fetch_add(&g->rejected, 1);
		return false;
	}
	return true;
}

void http_gate_leave(struct http_gate *g)
{
	atomic_fetch_sub(&g->inflight, 1);
}

double http_req_age(const struct http_req *req)
{
	return req->start > 0 ? tkt_mono_seconds() - req->start : 0;
}

void http_text(struct http_resp *resp, int status, const char *content_type,
	       const char *text, size_t len)
{
	free(resp->body);
	resp->status = status;
	resp->content_type = content_type;
	resp->body = malloc(len + 1);
	resp->body_len = resp->body ? len : 0;
	if (resp->body) {
		memcpy(resp->body, text, len);
		resp->body[len] = '\0';
	}
}

json_t *http_body_object(const struct http_req *req, struct http_resp *resp,
			 bool allow_empty)
{
	json_error_t jerr;
	json_t *obj;

	if (req->body_len == 0) {
		if (allow_empty)
			return json_object();
		http_error(resp, req, 400, "MALFORMED_JSON",
			   "request body must be a JSON object", NULL);
		return NULL;
	}
	obj = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!obj) {
		char msg[256];

		/* jansson quotes the input where it stopped, and may cut a
		 * UTF-8 sequence there: keep printable ASCII only, or the
		 * error body could not be built (a 500 instead of this 400). */
		for (char *p = jerr.text; *p; p++)
			if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
				*p = '?';
		snprintf(msg, sizeof(msg), "request body is not valid JSON: %s (at %d:%d)",
			 jerr.text, jerr.line, jerr.column);
		http_error(resp, req, 400, "MALFORMED_JSON", msg, NULL);
		return NULL;
	}
	if (!json_is_object(obj)) {
		json_decref(obj);
		http_error(resp, req, 422, "VALIDATION_FAILED",
			   "request body must be a JSON object", NULL);
		return NULL;
	}
	return obj;
}

int http_parse_u32(const char *s, uint32_t *out)
{
	unsigned long long v = 0;

	if (!s || !*s || strlen(s) > 10)
		return -1;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (unsigned)(*p - '0');
	}
	if (v > UINT32_MAX)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

int route_match(const char *pattern, const char *path, const char **params,
		int *n_params, char *scratch, size_t scratch_len)
{
	size_t used = 0;

	*n_params = 0;
	while (*pattern && *path) {
		if (*pattern == '{') {
			const char *pend = strchr(pattern, '}');
			size_t n = strcspn(path, "/");

			if (!pend || n == 0 || *n_params >= HTTP_MAX_PARAMS ||
			    used + n + 1 > scratch_len)
				return 0;
			memcpy(scratch + used, path, n);
			scratch[used + n] = '\0';
			params[(*n_params)++] = scratch + used;
			used += n + 1;
			pattern = pend + 1;
			path += n;
			continue;
		}
		if (*pattern != *path)
			return 0;
		pattern++;
		path++;
	}
	return *pattern == '\0' && *path == '\0';
}
