/* ticketctl pins: what is pinned under the pin directory, from bpffs, no
 * ticketd needed (root):
 *
 *   ticketctl pins [--pin-dir DIR] [--json]
 *
 * For every pinned map: id, type, name, key and value size, max_entries,
 * and the entries counted now for hash maps (batched lookups, about 1 ms
 * per 10 000 entries); for every pinned program: id, type, name and the
 * interfaces where it is the attached XDP program. ticketd pins only its
 * maps (docs/ops/ticketctl.md); its XDP program hangs on a BPF link it
 * holds open, not pinned, so it goes with ticketd.
 * Exit: 0 shown, 1 no such pin directory or a pin that cannot be read, 2
 * usage (pins.h). */
#include "userspace/ticketctl/pins_cmd.h"

#include <dirent.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <jansson.h>
#include <linux/if_link.h>

#include "bpf/ticket_maps.h"
#include "userspace/lib/edge_peek.h"
#include "userspace/ticketctl/pins.h"

static const char pins_usage[] =
	"usage: ticketctl pins [--pin-dir DIR] [--json]\n"
	"  the maps and programs pinned under the pin directory: id, type, name,\n"
	"  max_entries, entries (hash maps, counted now), XDP attach point (programs)\n"
	"  --pin-dir DIR  default $TICKET_PIN_DIR or " TKT_PIN_DIR_DEFAULT "\n"
	"  --json         one JSON object\n"
	"exit: 0 shown, 1 no such pin directory or unreadable pin, 2 usage\n";

/* "map", "prog" or "link" from /proc/self/fdinfo, or NULL. */
static const char *fd_kind(int fd)
{
	char path[64], line[256];
	const char *kind = NULL;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return NULL;
	while (!kind && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "map_type:", 9))
			kind = "map";
		else if (!strncmp(line, "prog_type:", 10))
			kind = "prog";
		else if (!strncmp(line, "link_type:", 10))
			kind = "link";
	}
	fclose(f);
	return kind;
}

static bool countable(enum bpf_map_type t)
{
	return t == BPF_MAP_TYPE_HASH || t == BPF_MAP_TYPE_LRU_HASH ||
	       t == BPF_MAP_TYPE_PERCPU_HASH || t == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

static json_t *describe_map(int fd, char *err, size_t errlen)
{
	struct bpf_map_info info = {0};
	__u32 len = sizeof(info), n;
	const char *type;
	json_t *entries = json_null();

	if (bpf_obj_get_info_by_fd(fd, &info, &len) < 0) {
		snprintf(err, errlen, "%s", strerror(errno));
		json_decref(entries);
		return NULL;
	}
	if (countable(info.type) && peek_count_entries(fd, &n) == 0) {
		json_decref(entries);
		entries = json_integer(n);
	}
	type = libbpf_bpf_map_type_str(info.type);
	return json_pack("{s:s, s:I, s:s, s:s, s:I, s:I, s:I, s:o}", "kind", "map", "id",
			 (json_int_t)info.id, "type", type ? type : "unknown", "name", info.name,
			 "keySize", (json_int_t)info.key_size, "valueSize",
			 (json_int_t)info.value_size, "maxEntries", (json_int_t)info.max_entries,
			 "entries", entries);
}

/* The interfaces whose XDP program (any mode) is prog_id. */
static json_t *xdp_attach_points(__u32 prog_id)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	json_t *at = json_array();

	for (i = ifs; i && i->if_index; i++) {
		LIBBPF_OPTS(bpf_xdp_query_opts, q);

		if (bpf_xdp_query((int)i->if_index, 0, &q) < 0)
			continue;
		if (q.prog_id == prog_id || q.drv_prog_id == prog_id ||
		    q.skb_prog_id == prog_id || q.hw_prog_id == prog_id)
			json_array_append_new(at, json_pack("{s:s, s:s}", "iface", i->if_name,
							    "mode",
							    q.drv_prog_id == prog_id   ? "native"
							    : q.skb_prog_id == prog_id ? "generic"
							    : q.hw_prog_id == prog_id  ? "offload"
										       : "xdp"));
	}
	if (ifs)
		if_freenameindex(ifs);
	return at;
}

static json_t *describe_prog(int fd, char *err, size_t errlen)
{
	struct bpf_prog_info info = {0};
	__u32 len = sizeof(info);
	const char *type;

	if (bpf_obj_get_info_by_fd(fd, &info, &len) < 0) {
		snprintf(err, errlen, "%s", strerror(errno));
		return NULL;
	}
	type = libbpf_bpf_prog_type_str(info.type);
	return json_pack("{s:s, s:I, s:s, s:s, s:o}", "kind", "prog", "id", (json_int_t)info.id,
			 "type", type ? type : "unknown", "name", info.name, "attached",
			 info.type == BPF_PROG_TYPE_XDP ? xdp_attach_points(info.id) : json_array());
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The pin directory's entries, sorted. */
static int list_dir(const struct pins_opts *o, char ***names, size_t *n)
{
	DIR *d = opendir(o->pin_dir);
	struct dirent *de;
	size_t cap = 0;

	*names = NULL;
	*n = 0;
	if (!d) {
		pins_fail(o, "cannot list pin directory", "%s: %s", o->pin_dir, strerror(errno));
		return PINS_EXIT_NOT_FOUND;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (*n == cap) {
			char **nn = realloc(*names, (cap = cap ? 2 * cap : 32) * sizeof(**names));

			if (!nn)
				break;
			*names = nn;
		}
		(*names)[(*n)++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(*names, *n, sizeof(**names), cmp_names);
	return 0;
}

static void print_text(const struct pins_opts *o, json_t *pins)
{
	size_t i, j;
	json_t *p, *a;

	printf("pin dir %s: %zu pin(s)\n", o->pin_dir, json_array_size(pins));
	printf("%-14s %-5s %7s  %-20s %-16s %11s %11s  %s\n", "PIN", "KIND", "ID", "TYPE", "NAME",
	       "MAX_ENTRIES", "ENTRIES", "ATTACHED");
	json_array_foreach(pins, i, p)
	{
		const char *kind = json_string_value(json_object_get(p, "kind"));
		json_t *max = json_object_get(p, "maxEntries"), *ent = json_object_get(p, "entries");
		char smax[24] = "-", sent[24] = "-", at[256] = "";

		if (json_is_integer(max))
			snprintf(smax, sizeof(smax), "%lld", json_integer_value(max));
		if (json_is_integer(ent))
			snprintf(sent, sizeof(sent), "%lld", json_integer_value(ent));
		json_array_foreach(json_object_get(p, "attached"), j, a)
		{
			size_t l = strlen(at);

			snprintf(at + l, sizeof(at) - l, "%s%s (%s)", l ? ", " : "",
				 json_string_value(json_object_get(a, "iface")),
				 json_string_value(json_object_get(a, "mode")));
		}
		printf("%-14s %-5s %7lld  %-20s %-16s %11s %11s  %s\n",
		       json_string_value(json_object_get(p, "pin")), kind,
		       json_integer_value(json_object_get(p, "id")),
		       json_string_value(json_object_get(p, "type")) ?: "-",
		       json_string_value(json_object_get(p, "name")) ?: "-", smax, sent,
		       at[0] ? at : (kind && !strcmp(kind, "prog") ? "-" : ""));
	}
}

int ticketctl_pins(int argc, char **argv)
{
	struct pins_opts o;
	char **names = NULL, err[256];
	size_t n = 0;
	json_t *pins = NULL;
	int first, rc;

	if (pins_parse(argc, argv, pins_usage, &o, &first, &rc) < 0)
		return rc;
	if (argc != first) {
		fputs(pins_usage, stderr);
		return PINS_EXIT_USAGE;
	}
	rc = pins_dir_check(&o);
	if (!rc)
		rc = list_dir(&o, &names, &n);
	if (rc)
		goto out;
	pins = json_array();
	for (size_t i = 0; i < n && !rc; i++) {
		int fd = pins_open(&o, names[i]);
		const char *kind;
		json_t *d = NULL;

		if (fd < 0) {
			rc = -fd;
			break;
		}
		kind = fd_kind(fd);
		err[0] = '\0';
		if (kind && !strcmp(kind, "map"))
			d = describe_map(fd, err, sizeof(err));
		else if (kind && !strcmp(kind, "prog"))
			d = describe_prog(fd, err, sizeof(err));
		else
			d = json_pack("{s:s}", "kind", kind ? kind : "unknown");
		close(fd);
		if (!d) {
			pins_fail(&o, "cannot read pin", "%s/%s: %s", o.pin_dir, names[i], err);
			rc = PINS_EXIT_ERROR;
			break;
		}
		json_object_set_new(d, "pin", json_string(names[i]));
		json_array_append_new(pins, d);
	}
	if (rc)
		goto out;
	if (o.json) {
		json_t *j = json_pack("{s:s, s:O}", "pinDir", o.pin_dir, "pins", pins);
		char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;

		if (text)
			printf("%s\n", text);
		free(text);
		json_decref(j);
	} else {
		print_text(&o, pins);
	}
out:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	json_decref(pins);
	return rc;
}
