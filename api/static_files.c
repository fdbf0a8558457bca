/* Static files (a built web page): read per request (small, page-cache
 * hot); names come from one path segment, so they cannot climb out of the
 * folder they are served from. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/http.h"

#define STATIC_MAX_BYTES (8 << 20)
#define STATIC_PATH_MAX 1024

static const char *content_type(const char *name)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
		{".html", "text/html; charset=utf-8"},
		{".js", "text/javascript; charset=utf-8"},
		{".css", "text/css; charset=utf-8"},
		{".svg", "image/svg+xml"},
		{".png", "image/png"},
		{".ico", "image/x-icon"},
		{".json", "application/json"},
		{".map", "application/json"},
		{".woff2", "font/woff2"},
	};
	const char *dot = strrchr(name, '.');

	for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
		if (!strcmp(dot, types[i].ext))
			return types[i].type;
	return "application/octet-stream";
}

void http_send_file(struct http_req *req, struct http_resp *resp,
		    const char *dir, const char *name)
{
	char path[STATIC_PATH_MAX];
	struct stat st;
	char *buf;
	ssize_t n;
	int fd;

	resp->page = true; /* its security headers, on a 404 too */
	if (!name[0] || name[0] == '.' || strchr(name, '/')) {
		http_error(resp, req, 404, "NOT_FOUND", "no such file", NULL);
		return;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode) ||
	    st.st_size > STATIC_MAX_BYTES) {
		if (fd >= 0)
			close(fd);
		http_error(resp, req, 404, "NOT_FOUND",
			   "no such file (is the web page built? make web)", NULL);
		return;
	}
	buf = malloc((size_t)st.st_size + 1);
	n = buf ? read(fd, buf, (size_t)st.st_size) : -1;
	close(fd);
	if (n != st.st_size) {
		free(buf);
		http_error(resp, req, 503, "UNAVAILABLE", "could not read the file", NULL);
		return;
	}
	free(resp->body);
	resp->status = 200;
	resp->content_type = content_type(name);
	resp->body = buf;
	resp->body_len = (size_t)n;
}
