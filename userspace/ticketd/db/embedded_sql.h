/* SQL files compiled into ticketd (see embed_sql.sh). */
#ifndef TICKETD_EMBEDDED_SQL_H
#define TICKETD_EMBEDDED_SQL_H

struct embedded_sql {
	const char *name; /* file name without .sql, e.g. "001_schema" */
	const char *text;
};

/* Numbered migrations in order, ended by an entry with name NULL. */
extern const struct embedded_sql migrations_sql[];

#endif
