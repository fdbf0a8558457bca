/* Private directories (pin dir, state dir) and files (token key): created
 * 0700, refused with a reason when another user owns them or group/others
 * can write them. Links libtkt.a only. The ownership case needs root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "userspace/lib/private_dir.h"

static char base[64];

static int make_base(void **state)
{
	(void)state;
	snprintf(base, sizeof(base), "/tmp/tkt-private-XXXXXX");
	return mkdtemp(base) ? 0 : -1;
}

static int remove_base(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	return system(cmd) == 0 ? 0 : -1;
}

static void missing_dir_is_created_0700_under_traversable_parents(void **state)
{
	char path[128], parent[128], why[256] = "";
	struct stat st;

	(void)state;
	umask(022);
	snprintf(parent, sizeof(parent), "%s/new", base);
	snprintf(path, sizeof(path), "%s/new/pins", base);
	assert_int_equal(private_dir_ensure(path, why, sizeof(why)), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(stat(parent, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0755);
	/* and again: an existing private directory is fine */
	assert_int_equal(private_dir_ensure(path, why, sizeof(why)), 0);
}

static void group_writable_dir_is_refused_with_its_mode(void **state)
{
	char path[128], why[256] = "";

	(void)state;
	snprintf(path, sizeof(path), "%s/open", base);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(chmod(path, 0770), 0);
	assert_int_equal(private_dir_ensure(path, why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "has mode 0770"));
	assert_non_null(strstr(why, path));
	assert_int_equal(private_dir_check_path(path, why, sizeof(why)), -EPERM);
}

static void symlink_in_its_place_is_refused(void **state)
{
	char target[128], path[128], why[256] = "";

	(void)state;
	snprintf(target, sizeof(target), "%s/real", base);
	snprintf(path, sizeof(path), "%s/link", base);
	assert_int_equal(mkdir(target, 0700), 0);
	assert_int_equal(symlink(target, path), 0);
	assert_int_not_equal(private_dir_check_path(path, why, sizeof(why)), 0);
	assert_non_null(strstr(why, "cannot open"));
}

static void missing_dir_is_enoent_for_check_path(void **state)
{
	char path[128], why[256] = "";

	(void)state;
	snprintf(path, sizeof(path), "%s/absent", base);
	assert_int_equal(private_dir_check_path(path, why, sizeof(why)), -ENOENT);
}

static void file_readable_by_others_is_refused(void **state)
{
	char path[128], why[256] = "";
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "%s/key", base);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(private_dir_check_fd(fd, path, why, sizeof(why)), 0);
	assert_int_equal(fchmod(fd, 0644), 0);
	assert_int_equal(private_dir_check_fd(fd, path, why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "has mode 0644"));
	close(fd);
}

static void dir_owned_by_another_user_is_refused(void **state)
{
	char path[128], why[256] = "";

	(void)state;
	if (geteuid() != 0)
		skip();
	snprintf(path, sizeof(path), "%s/nobodys", base);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(chown(path, 65534, 65534), 0);
	assert_int_equal(private_dir_ensure(path, why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "is owned by uid 65534"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(missing_dir_is_created_0700_under_traversable_parents),
		cmocka_unit_test(group_writable_dir_is_refused_with_its_mode),
		cmocka_unit_test(symlink_in_its_place_is_refused),
		cmocka_unit_test(missing_dir_is_enoent_for_check_path),
		cmocka_unit_test(file_readable_by_others_is_refused),
		cmocka_unit_test(dir_owned_by_another_user_is_refused),
	};
	return cmocka_run_group_tests_name("private_dir", tests, make_base, remove_base);
}
