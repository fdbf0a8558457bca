/* ticketctl's HTTP side (ctl_http.h). */
#include "userspace/ticketctl/ctl_http.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ANSWER (4 << 20)

const char *ctl_default_url(void)
{
	const char *env = getenv("TICKET_URL");

	return env && *env ? env : CTL_DEFAULT_URL;
}

const char *ctl_default_key_file(void)
{
	const char *env = getenv("TICKET_ADMIN_KEY_FILE");

	return env && *env ? env : CTL_DEFAULT_KEY_FILE;
}

static size_t collect(char *p, size_t size, size_t n, void *arg)
{
	struct ctl_answer *a = arg;
	size_t add = size * n;
	char *nb;

	if (a->len + add > MAX_ANSWER)
		return 0;
	nb = realloc(a->body, a->len + add + 1);
	if (!nb)
		return 0;
	memcpy(nb + a->len, p, add);
	a->body = nb;
	a->len += add;
	a->body[a->len] = '\0';
	return add;
}

int ctl_http(const char *method, const char *url, const char *key, const char *body,
	     long timeout_ms, struct ctl_answer *a, char *err, size_t errlen)
{
	struct curl_slist *hdrs = NULL;
	char auth[96];
	CURL *curl = curl_easy_init();
	CURLcode cc;
	int rc = -1;

	memset(a, 0, sizeof(*a));
	if (!curl) {
		snprintf(err, errlen, "cannot start libcurl");
		return -1;
	}
	if (key) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", key);
		hdrs = curl_slist_append(hdrs, auth);
	}
	if (body)
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, a);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	if (strcmp(method, "GET"))
		curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	if (body)
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
	cc = curl_easy_perform(curl);
	if (cc == CURLE_OK) {
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &a->status);
		rc = 0;
	} else {
		snprintf(err, errlen, "%s: %s", url, curl_easy_strerror(cc));
		ctl_answer_free(a);
	}
	explicit_bzero(auth, sizeof(auth));
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(curl);
	return rc;
}

void ctl_answer_free(struct ctl_answer *a)
{
	free(a->body);
	a->body = NULL;
	a->len = 0;
}

int ctl_read_key(const char *path, char *key, size_t cap, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f) {
		snprintf(err, errlen, "admin key %s: %s", path, strerror(errno));
		return -1;
	}
	if (!fgets(key, (int)cap, f))
		key[0] = '\0';
	fclose(f);
	n = strcspn(key, "\r\n");
	key[n] = '\0';
	if (n != 64) {
		snprintf(err, errlen, "admin key %s: expected 64 hex digits", path);
		return -1;
	}
	return 0;
}
