#include "userspace/lib/private_dir.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int private_dir_check_fd(int fd, const char *path, char *why, size_t whylen)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (st.st_uid != geteuid()) {
		if (why)
			snprintf(why, whylen,
				 "%s is owned by uid %u, not by this process (uid %u): refusing "
				 "to use it; remove it or chown it to uid %u",
				 path ? path : "directory", (unsigned)st.st_uid,
				 (unsigned)geteuid(), (unsigned)geteuid());
		return -EPERM;
	}
	if (st.st_mode & (S_ISREG(st.st_mode) ? 077 : 022)) {
		if (why)
			snprintf(why, whylen,
				 "%s has mode %04o (%s by group or others): refusing to use it; "
				 "chmod %s it",
				 path ? path : "directory", (unsigned)(st.st_mode & 07777),
				 S_ISREG(st.st_mode) ? "readable or writable" : "writable",
				 S_ISREG(st.st_mode) ? "0600" : "0700");
		return -EPERM;
	}
	return 0;
}

int private_dir_check_path(const char *path, char *why, size_t whylen)
{
	/* O_NOFOLLOW: a symlink put in its place is refused, not followed. */
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), rc;

	if (fd < 0) {
		rc = -errno;
		snprintf(why, whylen, "cannot open %s: %s", path, strerror(errno));
		return rc;
	}
	rc = private_dir_check_fd(fd, path, why, whylen);
	close(fd);
	return rc;
}

int private_dir_ensure(const char *path, char *why, size_t whylen)
{
	char buf[PATH_MAX];
	size_t n = path ? strlen(path) : 0;
	int rc;

	if (n == 0 || n >= sizeof(buf)) {
		snprintf(why, whylen, "directory name empty or too long");
		return -ENAMETOOLONG;
	}
	memcpy(buf, path, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		/* Parents stay traversable (other services' data may sit
		 * beside ours); only the directory itself is private. */
		if (mkdir(buf, i == n ? 0700 : 0755) < 0 && errno != EEXIST) {
			rc = -errno;
			snprintf(why, whylen, "cannot create %s: %s", buf, strerror(errno));
			return rc;
		}
		buf[i] = path[i];
	}
	return private_dir_check_path(path, why, whylen);
}
