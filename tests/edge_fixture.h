/* Scratch state for tests that open a real seat table: a flat directory
 * (the bpffs pins, or the shm backend's seat file) and the edge over it. */
#ifndef TESTS_EDGE_FIXTURE_H
#define TESTS_EDGE_FIXTURE_H

#include <dirent.h>
#include <stddef.h>
#include <stdio.h>
#include <unistd.h>

#include "userspace/lib/edge.h"

/* Removes the files of a flat directory, then the directory. */
static inline void edge_fx_remove_dir(const char *dir)
{
	char path[256];
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			unlink(path);
		}
	closedir(d);
	rmdir(dir);
}

/* This process's scratch directory named name for backend b: under bpffs
 * for pins, under /tmp for the seat file. */
static inline void edge_fx_dir(char *dir, size_t len, enum edge_backend b,
			       const char *name)
{
	snprintf(dir, len, "%s/ticket-test-%s-%d",
		 b == EDGE_BACKEND_BPF ? "/sys/fs/bpf" : "/tmp", name, (int)getpid());
}

/* Opens the seat table of backend b in dir. 0, or -1 (also when another
 * backend came up). */
static inline int edge_fx_open(enum edge_backend b, const char *dir, struct edge **out)
{
	struct edge_opts o = {.backend = b};

	if (b == EDGE_BACKEND_BPF)
		o.pin_dir = dir;
	else
		o.shm_dir = dir;
	if (edge_open(&o, out))
		return -1;
	return edge_backend(*out) == b ? 0 : -1;
}

#endif
