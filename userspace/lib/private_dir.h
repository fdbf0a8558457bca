/* Directories and files that hold a daemon's secrets or live state (the
 * bpffs pin directory, ticketd's state directory and token key) must be
 * its own: another user who owns one, or can write into it, can swap the
 * maps or the key under it. */
#ifndef TKT_PRIVATE_DIR_H
#define TKT_PRIVATE_DIR_H

#include <stddef.h>

/* Opens the directory path (not through a symlink) and checks it as
 * private_dir_check_fd does. 0, -ENOENT when it does not exist, -EPERM
 * when it is not private, or another negative errno; why says which. */
int private_dir_check_path(const char *path, char *why, size_t whylen);

/* Creates path with mode 0700 if it is missing (missing parents 0755),
 * then checks it as private_dir_check_path does. 0, or a negative errno with why
 * filled: -EPERM when the directory exists but is not private. */
int private_dir_ensure(const char *path, char *why, size_t whylen);

/* Checks an open directory or file: owned by the effective user, and not
 * writable by group or others (and, for a regular file, not readable by
 * them either). 0, -EPERM with why filled (when why is not NULL), or
 * another negative errno. path only names it in why. */
int private_dir_check_fd(int fd, const char *path, char *why, size_t whylen);

#endif
