/*
 * The SQLite schema of vcpd as a list of migrations.
 *
 * A database records in PRAGMA user_version how many steps of
 * store_sqlite_migrations it has applied; opening it applies the rest, each
 * in its own transaction.  Steps are never edited once released: a schema
 * change appends a step, so every existing file can follow.  The tests read
 * the count to check that a fresh file ends at the latest version.
 */
#ifndef VCP_STORE_SQLITE_SCHEMA_H
#define VCP_STORE_SQLITE_SCHEMA_H

#include <stddef.h>

/* Step i takes a database from user_version i to i + 1. */
extern const char *const store_sqlite_migrations[];

/* Number of steps: the user_version of an up-to-date database. */
extern const size_t store_sqlite_migrations_n;

#endif
